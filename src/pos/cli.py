"""The `pos` command: parses arguments and hands over to the packages, nothing more.

Each subcommand's implementation is imported only when it runs, so `pos infra up` does not
pay for importing FastAPI and `pos api` does not import the Kafka admin tools.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any


def _lazy(target: str) -> Callable[[argparse.Namespace], int | None]:
    module, func = target.split(":")

    def call(args: argparse.Namespace) -> int | None:
        fn: Callable[[argparse.Namespace], int | None] = getattr(
            importlib.import_module(module), func
        )
        return fn(args)

    return call


def _add(
    sub: Any, name: str, target: str, help_: str, *options: tuple[Sequence[str], dict[str, Any]]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
    for flags, kwargs in options:
        parser.add_argument(*flags, **kwargs)
    parser.set_defaults(handler=_lazy(target))
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pos", description="POS order backend")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    infra = sub.add_parser("infra", help="local PostgreSQL and Kafka: up, down, status")
    infra_sub = infra.add_subparsers(dest="infra_command", required=True, metavar="ACTION")
    _add(infra_sub, "up", "pos.ops.infra_cmd:up", "start what is missing, migrate, create topics")
    _add(infra_sub, "down", "pos.ops.infra_cmd:down", "stop what `up` started")
    _add(infra_sub, "status", "pos.ops.infra_cmd:status", "say what runs where")

    _add(
        sub,
        "migrate",
        "pos.ops.infra_cmd:migrate",
        "apply database migrations",
        (["--down"], {"metavar": "REV", "help": "downgrade to REV (e.g. base) instead"}),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = args.handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
