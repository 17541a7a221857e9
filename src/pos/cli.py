"""The `pos` command: parses arguments, hands over to the packages, and ends every run
the same way (:mod:`pos.exits`): a known failure is one line on stderr and a documented
exit code; ``--debug`` adds the traceback.

Each subcommand's implementation is imported only when it runs, so `pos --version` and
`pos infra up` do not pay for importing FastAPI and `pos api` does not import the Kafka
admin tools.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pos.exits import ExitCode, explain

if TYPE_CHECKING:
    from pos.config import Settings

PROG = "pos"
DISTRIBUTION = "pos-orders"

EPILOG = """exit codes: 0 ok, 1 failure (unknown id, audit breach), 2 usage or invalid setting,
3 degraded (something reported on is unhealthy), 4 PostgreSQL/Kafka unreachable or not
migrated, 130 interrupted. Settings come from the environment or .env (see the README)."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, except where there is none worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or default in (None, False, argparse.SUPPRESS)
            or action.option_strings == []
            or isinstance(default, list)
        ):
            return text
        return f"{text} (default: %(default)s)"


_DEBUG = "show the traceback when the command fails"

Option = tuple[Sequence[str], dict[str, Any]]


def _lazy(target: str) -> Callable[[argparse.Namespace], int | None]:
    module, func = target.split(":")

    def call(args: argparse.Namespace) -> int | None:
        fn: Callable[[argparse.Namespace], int | None] = getattr(
            importlib.import_module(module), func
        )
        return fn(args)

    return call


def _add(sub: Any, name: str, target: str, help_: str, *options: Option) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_, description=help_, formatter_class=_HelpFormatter, epilog=EPILOG
    )
    for flags, kwargs in options:
        parser.add_argument(*flags, **kwargs)
    # Also accepted after the command; SUPPRESS keeps `pos --debug COMMAND` working.
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG)
    parser.set_defaults(handler=_lazy(target))
    return parser


def _group(sub: Any, name: str, help_: str, dest: str) -> Any:
    parser = sub.add_parser(name, help=help_, description=help_, formatter_class=_HelpFormatter)
    return parser.add_subparsers(dest=dest, required=True, metavar="ACTION")


def _limit(what: str) -> Option:
    return (["--limit"], {"type": int, "default": 50, "metavar": "N", "help": f"{what} at most"})


def _host_port(source: str) -> tuple[Option, Option]:
    return (
        (["--host"], {"default": None, "help": f"address to listen on (default: from {source})"}),
        (["--port"], {"type": int, "default": None, "help": f"port (default: from {source})"}),
    )


def _json_flag(what: str) -> Option:
    return (["--json"], {"action": "store_true", "help": f"print {what} as JSON"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="POS order backend: services, local infrastructure and operator tools",
        formatter_class=_HelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help=_DEBUG)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    infra = _group(sub, "infra", "local PostgreSQL and Kafka: up, down, status", "infra_command")
    _add(
        infra,
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
    _add(infra, "down", "pos.ops.infra_cmd:down", "stop what `up` started")
    _add(infra, "status", "pos.ops.infra_cmd:status", "say what runs where (exit 3 if not all)")
    _add(
        infra,
        "failover",
        "pos.ops.infra_cmd:failover",
        "promote the standby: fence the primary, promote, commit without a standby",
    )
    _add(
        infra,
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
        *_host_port("API_HOST/API_PORT"),
        (
            ["--workers"],
            {"type": int, "default": None, "help": "worker processes (default: API_WORKERS)"},
        ),
    )
    _add(sub, "publisher", "pos.order_publisher.main:run", "run the outbox relay to Kafka")
    _add(sub, "consumer", "pos.order_consumer.main:run", "run the order consumer")
    _add(
        sub,
        "third-party",
        "pos.simulated_third_party.main:run",
        "run the simulated third-party system",
        *_host_port("THIRD_PARTY_URL"),
    )

    outbox = _group(sub, "outbox", "the outbox: figures, parked events, re-queue", "outbox_command")
    _add(outbox, "stats", "pos.ops.outbox:stats", "backlog, age, parked")
    _add(
        outbox,
        "parked",
        "pos.ops.outbox:parked",
        "list parked (poison) events with their last error",
        _limit("events"),
    )
    _add(
        outbox,
        "requeue",
        "pos.ops.outbox:requeue",
        "give parked events a fresh set of delivery attempts",
        (["ids"], {"nargs": "*", "type": int, "metavar": "ID", "help": "outbox ids"}),
        (["--all"], {"action": "store_true", "help": "every parked event (asked on a terminal)"}),
    )

    # Tools around the services.
    _add(sub, "dev", "pos.ops.dev:run", "run all four services, supervised, in one terminal")
    _add(
        sub,
        "status",
        "pos.ops.status:run",
        "one screen: orders, outbox, lag, DLQ (exit 3 when degraded)",
        _json_flag("the report"),
        (["--watch"], {"action": "store_true", "help": "refresh every 2 s until Ctrl-C"}),
    )
    dlq = _group(sub, "dlq", "dead letters: list, redrive", "dlq_command")
    _add(
        dlq,
        "list",
        "pos.ops.dlq:list_failed",
        "list FAILED orders with their reason",
        _limit("orders"),
    )
    _add(
        dlq,
        "redrive",
        "pos.ops.dlq:redrive",
        "FAILED orders back to PENDING, re-published through the outbox",
        (["order_ids"], {"nargs": "*", "metavar": "ORDER_ID", "help": "order ids"}),
        (["--all"], {"action": "store_true", "help": "every FAILED order (asked on a terminal)"}),
    )
    devices = _group(sub, "devices", "the tills' API keys: add, list, revoke", "devices_command")
    _add(
        devices,
        "add",
        "pos.ops.devices:add",
        "issue an API key for a till (printed once, as the last word)",
        (["--store"], {"required": True, "help": "store id, e.g. store-1"}),
        (["--device"], {"required": True, "help": "device id within the store, e.g. till-7"}),
    )
    _add(devices, "list", "pos.ops.devices:list_devices", "list devices and their key ids")
    _add(
        devices,
        "revoke",
        "pos.ops.devices:revoke",
        "revoke a till's active key",
        (["target"], {"nargs": "+", "metavar": "STORE DEVICE | KEY_ID", "help": "whose key"}),
    )
    _add(sub, "simulate", "pos.ops.simulate:run", "a fleet of tills sending orders", *_SIMULATE)
    _add(
        sub,
        "verify",
        "pos.ops.verify:run",
        "audit the invariants across DB, Kafka, third party (exit 1 on a breach)",
        (["--ledger"], {"default": None, "help": "the simulator's JSONL of acknowledged orders"}),
        (["--wait"], {"type": float, "default": 60.0, "help": "seconds to wait for quiet"}),
        (["--quiet-for"], {"type": float, "default": 3.0, "help": "seconds without change"}),
        (["--receipts"], {"default": None, "help": "the third party's receipts file"}),
        (
            ["--commit-log"],
            {"default": None, "help": "the consumers' commit log (default CONSUMER_COMMIT_LOG)"},
        ),
        (
            ["--interruptions"],
            {
                "type": int,
                "default": 0,
                "help": "consumer crashes/restarts the run went through (repeat allowance)",
            },
        ),
        (
            ["--relay-cut"],
            {
                "type": float,
                "action": "append",
                "default": None,
                "metavar": "EPOCH_SECONDS",
                "help": "when a publisher crashed or the primary was lost (duplicate-record "
                "allowance; repeatable)",
            },
        ),
        _json_flag("the verdicts"),
    )
    _add(
        sub,
        "chaos",
        "pos.ops.chaos:run",
        "fleet + faults on a scratch PostgreSQL and Kafka, then the auditor",
        (["--orders"], {"type": int, "default": 100_000, "help": "valid orders in total"}),
        (["--rate"], {"type": float, "default": None, "help": "new orders/s"}),
        (["--rounds"], {"type": int, "default": None, "help": "fault rounds (each kind once)"}),
        (["--output"], {"default": None, "help": "results dir (default: bench/results)"}),
        (["--state-dir"], {"default": None, "help": "scratch state (default: .local/chaos)"}),
        (["--seed"], {"type": int, "default": None, "help": "random seed (default: the time)"}),
        (["--consumers"], {"type": int, "default": 3, "help": "consumers in one group"}),
        (["--publishers"], {"type": int, "default": 2, "help": "publisher processes"}),
        (["--api-workers"], {"type": int, "default": 2, "help": "workers of the API process"}),
        (
            ["--topology"],
            {"choices": ["single", "replicated"], "default": "single", "help": "infrastructure"},
        ),
    )
    return parser


_SIMULATE: tuple[Option, ...] = (
    (["--stores"], {"type": int, "default": 10, "help": "stores in the fleet"}),
    (["--devices"], {"type": int, "default": 5, "help": "tills per store"}),
    (["--orders"], {"type": int, "default": 1000, "help": "valid orders in total"}),
    (["--concurrency"], {"type": int, "default": 64, "help": "requests in flight at most"}),
    (["--rate"], {"type": float, "default": 0.0, "help": "new orders/s (0: no limit)"}),
    (["--timeout"], {"type": float, "default": 2.0, "help": "client timeout, seconds"}),
    (["--give-up-after"], {"type": float, "default": 300.0, "help": "retry bound, seconds"}),
    (["--double-tap-rate"], {"type": float, "default": 0.02, "help": "share sent twice at once"}),
    (["--offline-rate"], {"type": float, "default": 0.01, "help": "share of offline bursts"}),
    (["--malformed-rate"], {"type": float, "default": 0.005, "help": "share of invalid bodies"}),
    (
        ["--shared-keys"],
        {"action": "store_true", "help": "per-till counter keys, the same on every till"},
    ),
    (["--seed"], {"type": int, "default": None, "help": "random seed (default: the time)"}),
    (["--run-id"], {"default": None, "help": "prefix of every key (default: time-based)"}),
    (["--api-url"], {"default": None, "help": "default: from API_HOST/API_PORT"}),
    (["--ledger"], {"default": None, "help": "JSONL of acknowledged orders"}),
    (["--wait-final"], {"type": float, "default": 120.0, "help": "seconds; 0: no wait"}),
    (["--summary-json"], {"default": None, "metavar": "PATH", "help": "write the summary here"}),
    (["--no-progress"], {"action": "store_true", "help": "no progress bar"}),
)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def parse_settings() -> Settings:
    """Read every setting once before any work, so a bad value stops the command at once
    with the variable named, instead of deep inside a service after it started; the
    command gets them as ``args.settings`` (see ``pos.config``)."""
    from pos.config import Settings

    return Settings()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(f"{PROG} {version()}")
        return ExitCode.OK
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a COMMAND is required (`{PROG} --help` lists them)", file=sys.stderr)
        return ExitCode.USAGE
    try:
        args.settings = parse_settings()
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:
        known = explain(exc)
        if known is None or args.debug:
            traceback.print_exc()
        if known is None:
            return ExitCode.FAILURE
        code, message = known
        print(f"{PROG} {_command_name(args)}: {message}", file=sys.stderr)
        return code


def _command_name(args: argparse.Namespace) -> str:
    action = next(
        (value for key, value in vars(args).items() if key.endswith("_command") and value), None
    )
    return f"{args.command} {action}" if action else str(args.command)


if __name__ == "__main__":
    sys.exit(main())
