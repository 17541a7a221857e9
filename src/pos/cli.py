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
    _add(
        infra_sub,
        "up",
        "pos.ops.infra_cmd:up",
        "start what is missing, migrate, create topics",
        (
            ["--kafka-brokers"],
            {
                "type": int,
                "choices": (1, 3),
                "default": 1,
                "help": "3: a replicated KRaft cluster (RF 3, min ISR 2) on ports 19092-19097",
            },
        ),
        (
            ["--postgres-standby"],
            {
                "action": "store_true",
                "help": "a primary with a synchronous streaming standby (ports 15432, 15433)",
            },
        ),
    )
    _add(infra_sub, "down", "pos.ops.infra_cmd:down", "stop what `up` started")
    _add(infra_sub, "status", "pos.ops.infra_cmd:status", "say what runs where")
    _add(
        infra_sub,
        "failover",
        "pos.ops.infra_cmd:failover",
        "promote the standby: fence the primary, promote, commit without a standby",
    )
    _add(
        infra_sub,
        "rejoin",
        "pos.ops.infra_cmd:rejoin",
        "bring the former primary back as the standby (pg_rewind)",
        (["node"], {"nargs": "?", "default": None, "help": "pg1 or pg2 (default: the other)"}),
    )

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
    outbox = sub.add_parser("outbox", help="the outbox: figures, parked events, re-queue")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    _add(outbox_sub, "stats", "pos.order_publisher.commands:stats", "backlog, age, parked")
    _add(
        outbox_sub,
        "parked",
        "pos.order_publisher.commands:parked",
        "list parked (poison) events with their last error",
        (["--limit"], {"type": int, "default": 50}),
    )
    _add(
        outbox_sub,
        "requeue",
        "pos.order_publisher.commands:requeue",
        "give parked events a fresh set of delivery attempts",
        (
            ["ids"],
            {"nargs": "*", "type": int, "metavar": "ID", "help": "outbox ids (default: all)"},
        ),
    )
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
    devices = sub.add_parser("devices", help="the tills' API keys: add, list, revoke")
    devices_sub = devices.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    _add(
        devices_sub,
        "add",
        "pos.ops.devices:add",
        "issue an API key for a till (printed once, as the last word)",
        (["--store"], {"required": True}),
        (["--device"], {"required": True}),
    )
    _add(devices_sub, "list", "pos.ops.devices:list_devices", "list devices and their key ids")
    _add(
        devices_sub,
        "revoke",
        "pos.ops.devices:revoke",
        "revoke a till's active key",
        (["target"], {"nargs": "+", "metavar": "STORE DEVICE | KEY_ID"}),
    )
    _add(
        sub,
        "simulate",
        "pos.ops.simulate:run",
        "a fleet of tills sending orders",
        (["--stores"], {"type": int, "default": 10}),
        (["--devices"], {"type": int, "default": 5, "help": "tills per store"}),
        (["--orders"], {"type": int, "default": 1000, "help": "valid orders in total"}),
        (["--concurrency"], {"type": int, "default": 64, "help": "requests in flight at most"}),
        (["--rate"], {"type": float, "default": 0.0, "help": "new orders/s (0: no limit)"}),
        (["--timeout"], {"type": float, "default": 2.0, "help": "client timeout, seconds"}),
        (["--give-up-after"], {"type": float, "default": 300.0, "help": "retry bound, seconds"}),
        (["--double-tap-rate"], {"type": float, "default": 0.02}),
        (["--offline-rate"], {"type": float, "default": 0.01}),
        (["--malformed-rate"], {"type": float, "default": 0.005}),
        (["--seed"], {"type": int, "default": None}),
        (["--run-id"], {"default": None, "help": "prefix of every key (default: time-based)"}),
        (["--api-url"], {"default": None, "help": "default: from API_HOST/API_PORT"}),
        (["--ledger"], {"default": None, "help": "JSONL of acknowledged orders"}),
        (["--wait-final"], {"type": float, "default": 120.0, "help": "seconds; 0: no wait"}),
        (["--summary-json"], {"default": None, "metavar": "PATH"}),
        (["--no-progress"], {"action": "store_true"}),
    )
    _add(
        sub,
        "verify",
        "pos.ops.verify:run",
        "audit the invariants across DB, Kafka, third party",
        (["--ledger"], {"default": None, "help": "the simulator's JSONL of acknowledged orders"}),
        (["--wait"], {"type": float, "default": 60.0, "help": "seconds to wait for quiet"}),
        (["--quiet-for"], {"type": float, "default": 3.0, "help": "seconds without change"}),
        (["--receipts"], {"default": None, "help": "the third party's receipts file"}),
        (["--json"], {"action": "store_true"}),
    )
    _add(
        sub,
        "chaos",
        "pos.ops.chaos:run",
        "fleet + faults on a scratch PostgreSQL and Kafka, then the auditor",
        (["--orders"], {"type": int, "default": 100_000}),
        (["--rate"], {"type": float, "default": None, "help": "new orders/s"}),
        (["--rounds"], {"type": int, "default": None, "help": "fault rounds (each kind once)"}),
        (["--output"], {"default": None, "help": "results dir (default bench/results)"}),
        (["--state-dir"], {"default": None, "help": "scratch state (default .local/chaos)"}),
        (["--seed"], {"type": int, "default": None}),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = args.handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
