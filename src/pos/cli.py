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

    # The services. Host/port options override API_HOST/API_PORT etc. for one run.
    _add(
        sub,
        "api",
        "pos.order_api.main:run",
        "run the Order API (HTTP)",
        (["--host"], {"default": None}),
        (["--port"], {"type": int, "default": None}),
        (["--workers"], {"type": int, "default": None}),
    )
    _add(sub, "publisher", "pos.order_publisher.main:run", "run the outbox relay to Kafka")
    _add(sub, "consumer", "pos.order_consumer.main:run", "run the order consumer")
    _add(
        sub,
        "third-party",
        "pos.third_party.main:run",
        "run the simulated third-party system",
        (["--host"], {"default": None}),
        (["--port"], {"type": int, "default": None}),
    )

    # Tools around the services.
    _add(sub, "dev", "pos.ops.dev:run", "run all four services, supervised, in one terminal")
    _add(
        sub,
        "status",
        "pos.ops.status:run",
        "one screen: orders, outbox, lag, DLQ",
        (["--json"], {"action": "store_true"}),
        (["--watch"], {"action": "store_true"}),
    )
    dlq = sub.add_parser("dlq", help="dead letters: list, redrive")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    _add(
        dlq_sub,
        "list",
        "pos.ops.dlq:list_failed",
        "list FAILED orders with their reason",
        (["--limit"], {"type": int, "default": 50}),
    )
    _add(
        dlq_sub,
        "redrive",
        "pos.ops.dlq:redrive",
        "FAILED orders back to PENDING, re-published through the outbox",
        (["order_ids"], {"nargs": "*", "help": "order ids (default: all FAILED)"}),
    )
    _add(sub, "simulate", "pos.ops.simulate:run", "a fleet of tills sending orders")
    _add(sub, "verify", "pos.ops.verify:run", "audit the invariants across DB, Kafka, third party")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = args.handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
