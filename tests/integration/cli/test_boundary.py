"""Every `pos` command ends a known failure with one line on stderr and a documented code.

Each case runs the real console entry (`python -m pos.cli`) as a person would, against an
unreachable database (a closed port), a bad setting, or an id that does not exist.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from pos.exits import ExitCode
from pos.scratch.processes import free_port

SECRET = "s3cret-pw"


def _pos(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pos.cli", *args],
        env={**os.environ, "LOG_FORMAT": "json", **(env or {})},
        stdin=subprocess.DEVNULL,  # not a terminal: nothing may wait for an answer
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_line(result: subprocess.CompletedProcess[str], code: ExitCode, *words: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _down() -> dict[str, str]:
    return {"DATABASE_URL": f"postgresql://postgres:{SECRET}@127.0.0.1:{free_port()}/posdb"}


@pytest.mark.parametrize(
    "command",
    [
        "outbox stats",
        "outbox parked",
        "outbox requeue 1",
        "dlq list",
        "dlq redrive --all",
        "devices list",
        "devices add --store store-1 --device till-1",
        "migrate",
        "api",
        "publisher",
        "consumer",
    ],
)
def test_database_unreachable_is_one_line_and_exit_4(command: str) -> None:
    words = command.split()
    result = _pos(*words, env=_down())
    line = _one_line(result, ExitCode.UNREACHABLE, "PostgreSQL", "pos infra up")
    name = " ".join(w for w in words[:2] if w.isalpha())
    assert line.startswith(f"pos {name}: "), line
    assert SECRET not in line


def test_debug_shows_the_traceback() -> None:
    result = _pos("--debug", "outbox", "stats", env=_down())
    assert result.returncode == ExitCode.UNREACHABLE
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("pos outbox stats: cannot connect")
    after = _pos("dlq", "list", "--debug", env=_down())  # also accepted after the command
    assert "Traceback" in after.stderr


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("PUBLISHER_BATCH_SIZE", "abc", "publisher"),
        ("LOG_LEVEL", "LOUD", "api"),
        ("LOG_FORMAT", "xml", "consumer"),
        ("DATABASE_URL", "mysql://u@h/db", "status"),
        ("API_PORT", "99999", "dlq"),
    ],
)
def test_bad_setting_names_the_variable_and_exits_2(
    variable: str, value: str, command: str
) -> None:
    args = [command, "list"] if command == "dlq" else [command]
    _one_line(_pos(*args, env={variable: value}), ExitCode.USAGE, variable, "invalid setting")


def test_pool_bounds_are_checked_together() -> None:
    result = _pos("dlq", "list", env={"DB_POOL_MIN": "30", "DB_POOL_MAX": "20"})
    _one_line(result, ExitCode.USAGE, "DB_POOL_MIN", "DB_POOL_MAX")


def test_log_settings_accept_any_case(database_url: str) -> None:
    result = _pos("dlq", "list", env={"LOG_LEVEL": "debug", "LOG_FORMAT": "JSON"})
    assert result.returncode == ExitCode.OK, result.stderr


def test_unknown_ids_fail_with_one_line(database_url: str) -> None:
    missing = str(uuid.uuid4())
    redrive = _pos("dlq", "redrive", missing)
    assert _one_line(redrive, ExitCode.FAILURE, missing, "pos dlq list")
    requeue = _pos("outbox", "requeue", "987654321")
    assert _one_line(requeue, ExitCode.FAILURE, "987654321", "pos outbox parked")
    revoke = _pos("devices", "revoke", "no-such-key")
    assert _one_line(revoke, ExitCode.FAILURE, "no-such-key")


def test_malformed_id_is_a_usage_error() -> None:
    _one_line(_pos("dlq", "redrive", "not-a-uuid"), ExitCode.USAGE, "not-a-uuid")


@pytest.mark.parametrize("command", [["dlq", "redrive"], ["outbox", "requeue"]])
def test_bulk_action_without_a_terminal_needs_all(command: list[str], database_url: str) -> None:
    _one_line(_pos(*command), ExitCode.USAGE, "--all")
    assert _pos(*command, "--all").returncode == ExitCode.OK


def test_version_and_missing_command() -> None:
    version = _pos("--version")
    assert version.returncode == ExitCode.OK
    assert version.stdout.startswith("pos ")
    assert _pos().returncode == ExitCode.USAGE
    assert _pos("no-such-command").returncode == ExitCode.USAGE
