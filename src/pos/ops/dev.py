"""`pos dev`: the whole pipeline in one terminal, supervised.

Each service runs as its own process, exactly as in production (`pos api`, ...), so a
crash in one is a crash of one: the supervisor restarts it with back-off and says so. Its
output is one stream with a coloured prefix per service. Children die with the supervisor
(PR_SET_PDEATHSIG) so no second run ever finds a stray process holding a port.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from pos.config import Settings
from pos.infra import stack
from pos.infra.process import InfraError, port_open
from pos.ops.devices import provision
from pos.ops.supervisor import Child, LineSink, Supervisor

COLOURS = {"third-party": "35", "api": "36", "publisher": "33", "consumer": "32"}


def terminal_sink(names: list[str], *, colour: bool) -> LineSink:
    """One stream, each line prefixed with its service's name (coloured on a terminal)."""
    width = max(len(n) for n in names)

    def say(name: str, line: str) -> None:
        prefix = name.rjust(width)
        if colour:
            prefix = f"\033[{COLOURS.get(name, '37')}m{prefix}\033[0m"
        sys.stdout.write(f"{prefix} | {line}\n")
        sys.stdout.flush()

    return say


def service_children() -> list[Child]:
    """The four services, each exactly as it runs in production (`pos api`, ...).

    The third party first: the consumer's first deliveries should find it listening.
    """
    pos = [sys.executable, "-m", "pos.cli"]
    return [Child(name, [*pos, name]) for name in ("third-party", "api", "publisher", "consumer")]


def _banner(s: Settings) -> list[str]:
    api = f"http://{s.api.api_host}:{s.api.api_port}"
    # The demo till store-1/till-7 gets a fresh key on every start (the old one is revoked):
    # its secret is shown here once, like `pos devices add` does.
    [demo_key] = provision(s.db, [("store-1", "till-7")]).values()
    lines = [
        f"Order API        {api}  (docs {api}/docs, metrics {api}/metrics)",
        f"Third party      {s.third_party.third_party_url}/stats",
        f"Publisher        metrics http://127.0.0.1:{s.publisher.publisher_metrics_port}/metrics",
        f"Consumer         metrics http://127.0.0.1:{s.consumer.consumer_metrics_port}/metrics",
        f"PostgreSQL       {s.db.dsn.rsplit('@', 1)[-1]}    Kafka {s.kafka.kafka_broker}",
        f"Demo till        store-1/till-7, API key {demo_key}",
        f"Try:  curl -s -XPOST {api}/orders -H 'Authorization: Bearer {demo_key}' "
        "-H 'Idempotency-Key: demo-1' "
        '-H \'Content-Type: application/json\' -d \'{"storeId":"store-1","deviceId":"till-7",'
        '"currency":"EUR","items":[{"sku":"LATTE-L","name":"Latte","quantity":2,'
        '"unitPrice":450}]}\'',
        "Ctrl-C stops everything.",
    ]
    return lines


def _ports_in_use(s: Settings) -> list[str]:
    tp = s.third_party.third_party_url.rsplit(":", 1)[-1].split("/")[0]
    wanted = {
        "api": (s.api.api_host, s.api.api_port),
        "third-party": ("127.0.0.1", int(tp) if tp.isdigit() else 80),
        "publisher metrics": ("127.0.0.1", s.publisher.publisher_metrics_port),
        "consumer metrics": ("127.0.0.1", s.consumer.consumer_metrics_port),
    }
    return [f"{name} ({h}:{p})" for name, (h, p) in wanted.items() if p and port_open(h, p)]


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    try:
        stack.up(settings)
    except InfraError as exc:
        print(f"infra up failed: {exc}", file=sys.stderr)
        return 1
    taken = _ports_in_use(settings)
    if taken:
        print(f"ports already in use: {', '.join(taken)}; is another `pos dev` running?")
        return 1
    children = service_children()
    sink = terminal_sink([c.name for c in children] + ["dev"], colour=sys.stdout.isatty())
    for line in _banner(settings):
        sink("dev", line)
    # LOG_FORMAT=console: the services write for a person reading this terminal.
    supervisor = Supervisor(children, sink=sink, env={"LOG_FORMAT": _log_format(settings)})
    asyncio.run(supervisor.run_until_signalled())
    return 0


def _log_format(s: Settings) -> str:
    chosen = s.log.log_format
    return "console" if chosen == "auto" else chosen
