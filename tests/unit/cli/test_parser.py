"""The `pos` parser: every option explained, `--version`, and the bulk-action guard."""

from __future__ import annotations

import argparse
import io

import pytest

from pos import cli
from pos.exits import CommandError, ExitCode, explain
from pos.ops import confirm


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    leaves = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                leaves.extend(_leaf_parsers(child) or [child])
    return leaves


def test_every_option_and_argument_has_help() -> None:
    leaves = _leaf_parsers(cli.build_parser())
    assert len(leaves) > 20
    for leaf in leaves:
        for action in leaf._actions:
            assert action.help, f"{leaf.prog}: {action.dest} has no help text"


def test_defaults_are_shown_in_help() -> None:
    [simulate] = [p for p in _leaf_parsers(cli.build_parser()) if p.prog == "pos simulate"]
    text = simulate.format_help()
    assert "(default: 64)" in text  # --concurrency
    assert "(default: None)" not in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == ExitCode.OK
    assert capsys.readouterr().out.startswith("pos ")


def test_command_error_keeps_its_code() -> None:
    assert explain(CommandError("nope", ExitCode.USAGE)) == (ExitCode.USAGE, "nope")
    assert explain(RuntimeError("a bug")) is None  # bugs keep their traceback


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _ask(monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    monkeypatch.setattr("sys.stdin", _Tty(answer + "\n"))
    monkeypatch.setattr("sys.stdout", _Tty())


def test_bulk_on_a_terminal_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    _ask(monkeypatch, "y")
    assert confirm.bulk_allowed(given=False, everything=False, question="All?", usage="u")
    _ask(monkeypatch, "")
    with pytest.raises(CommandError) as declined:
        confirm.bulk_allowed(given=False, everything=False, question="All?", usage="u")
    assert declined.value.code == ExitCode.FAILURE


def test_ids_and_all_exclude_each_other() -> None:
    assert not confirm.bulk_allowed(given=True, everything=False, question="", usage="u")
    assert confirm.bulk_allowed(given=False, everything=True, question="", usage="u")
    with pytest.raises(CommandError) as both:
        confirm.bulk_allowed(given=True, everything=True, question="", usage="u")
    assert both.value.code == ExitCode.USAGE
