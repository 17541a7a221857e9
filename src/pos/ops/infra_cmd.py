"""`pos infra ...` and `pos migrate`: thin wrappers that print what happened."""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from pos.exits import CommandError, explain
from pos.infra import stack
from pos.infra.process import InfraError, ServiceStatus

console = Console(stderr=False, highlight=False)


def _table(statuses: list[ServiceStatus]) -> Table:
    table = Table("service", "state", "address", "managed by pos", "detail")
    for s in statuses:
        state = "[green]running[/]" if s.running else "[red]stopped[/]"
        managed = "yes" if s.managed else ("no (external)" if s.running else "-")
        table.add_row(s.name, state, s.address, managed, s.detail)
    return table


def up(_: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        statuses = stack.up()
    except InfraError as exc:
        console.print(f"[red]infra up failed:[/] {exc}")
        return 1
    console.print(_table(statuses))
    console.print(f"infra ready in {time.monotonic() - started:.1f} s")
    return 0


def down(_: argparse.Namespace) -> int:
    stopped = stack.down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing started by pos runs")
    return 0


def status(_: argparse.Namespace) -> int:
    statuses = stack.status()
    console.print(_table(statuses))
    return 0 if all(s.running for s in statuses) else 3


def migrate(args: argparse.Namespace) -> int:
    from pos.db import migrate as migrations

    try:
        if args.down:
            migrations.downgrade(revision=args.down)
        else:
            migrations.upgrade()
    except Exception as exc:  # a failed migration must say why, not dump a traceback
        if explain(exc) is not None:
            raise  # unreachable database, bad setting: the CLI boundary says so
        raise CommandError(f"migration failed: {str(exc).strip().splitlines()[0]}") from exc
    print(f"database at revision {migrations.current_revision()}")
    return 0
