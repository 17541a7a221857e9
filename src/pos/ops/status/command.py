"""`pos status [--json] [--watch]`: wiring only; reading is ``collect``, drawing ``render``."""

from __future__ import annotations

import argparse
import json
import time

from rich.console import Console
from rich.live import Live

from pos.config import Settings
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
    previous = collect(Settings())
    if args.json:
        while True:
            _print_json(previous, one_line=True)
            time.sleep(REFRESH_SECONDS)
            previous = collect(Settings())
    with Live(render(previous), console=console, auto_refresh=False) as live:
        while True:
            time.sleep(REFRESH_SECONDS)
            report = collect(Settings())
            live.update(render(report, previous), refresh=True)
            previous = report


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.watch:
        try:
            _watch(args, console)
        except KeyboardInterrupt:
            return 0
    report = collect(Settings())
    if args.json:
        _print_json(report, one_line=False)
    else:
        console.print(render(report))
    return 0 if report.healthy else EXIT_DEGRADED
