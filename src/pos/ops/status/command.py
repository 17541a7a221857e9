"""`pos status [--json] [--watch]`: wiring only; reading is ``collect``, drawing ``render``."""

from __future__ import annotations

import argparse
import json
import signal
import threading

from rich.console import Console
from rich.live import Live

from pos.ops.status.collect import collect
from pos.ops.status.facts import StatusReport, to_json
from pos.ops.status.render import render

REFRESH_SECONDS = 2.0
#: Exit status when PostgreSQL or Kafka does not answer, as `pos infra status` does, so a
#: script can test `pos status --json` without parsing it.
EXIT_DEGRADED = 3


def _print_json(report: StatusReport, *, one_line: bool) -> None:
    # One line per refresh under --watch (a stream of JSON lines), indented otherwise.
    print(json.dumps(to_json(report), indent=None if one_line else 2), flush=True)


def _watch(args: argparse.Namespace, console: Console) -> None:
    # Ctrl-C only asks the loop to stop: interrupting a collection mid-way would leave its
    # worker threads (a Kafka or HTTP call, each bounded) to be joined at exit anyway.
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    previous = collect(args.settings)
    if args.json:
        while not stop.is_set():
            _print_json(previous, one_line=True)
            if stop.wait(REFRESH_SECONDS):
                return
            previous = collect(args.settings)
        return
    with Live(render(previous), console=console, auto_refresh=False) as live:
        while not stop.wait(REFRESH_SECONDS):
            report = collect(args.settings)
            live.update(render(report, previous), refresh=True)
            previous = report


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.watch:
        _watch(args, console)
        return 0
    report = collect(args.settings)
    if args.json:
        _print_json(report, one_line=False)
    else:
        console.print(render(report))
    return 0 if report.healthy else EXIT_DEGRADED
