"""`pos simulate`: a fleet of tills sending orders the way real tills do, then a summary.

Wiring only: the plan (`fleet.plan`) decides what every till does, `fleet.till` sends it,
`fleet.settle` waits for the acknowledged orders to become final; this module turns
options into those pieces and shows progress and the summary table.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pos.config import PROJECT_ROOT, ApiSettings, DatabaseSettings
from pos.exits import CommandError, ExitCode
from pos.ops.devices import issue_keys
from pos.ops.fleet.plan import FleetShape, plan_fleet
from pos.ops.fleet.retry import TillRetryPolicy
from pos.ops.fleet.settle import FinalStates, wait_until_final
from pos.ops.fleet.stats import Acknowledgements, FleetStats
from pos.ops.fleet.till import Fleet, Pacer
from pos.ops.ledger import LedgerWriter

LEDGER_DIR = PROJECT_ROOT / ".local" / "simulate"


@dataclass(frozen=True)
class SimulationOptions:
    shape: FleetShape
    api_url: str
    ledger: Path
    run_id: str
    policy: TillRetryPolicy = field(default_factory=TillRetryPolicy)
    concurrency: int = 64
    rate: float = 0.0
    wait_final: float = 120.0


@dataclass
class SimulationReport:
    options: SimulationOptions
    stats: FleetStats
    seconds: float
    final: FinalStates | None

    def to_json(self) -> dict[str, Any]:
        o = self.options
        return {
            "runId": o.run_id,
            "apiUrl": o.api_url,
            "ledger": str(o.ledger),
            "stores": o.shape.stores,
            "devicesPerStore": o.shape.devices_per_store,
            "ordersPlanned": o.shape.orders,
            "seconds": round(self.seconds, 2),
            "ordersPerSecond": round(self.stats.acknowledged / self.seconds, 1)
            if self.seconds
            else 0.0,
            **{_camel(k): v for k, v in self.stats.to_json().items()},
            "final": None
            if self.final is None
            else {
                "secondsToAllFinal": self.final.seconds,
                "success": self.final.success,
                "failed": self.final.failed,
                "pending": self.final.pending,
                "missing": self.final.missing,
            },
        }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def simulate(
    options: SimulationOptions, on_tick: Callable[[FleetStats], None] | None = None
) -> SimulationReport:
    """Run the whole fleet; ``on_tick`` sees the counters a few times a second."""
    stats = FleetStats()
    ledger = LedgerWriter(options.ledger)
    acks = Acknowledgements(ledger.record, stats)
    scripts = plan_fleet(options.shape, options.run_id)
    # Every till is a registered device: a fresh key each per run (the last run's revoked).
    issued = await issue_keys(
        DatabaseSettings().dsn, [(script.store_id, script.device_id) for script in scripts]
    )
    connector = aiohttp.TCPConnector(limit=options.concurrency, limit_per_host=0)
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            fleet = Fleet(
                session,
                options.api_url,
                policy=options.policy,
                concurrency=options.concurrency,
                pacer=Pacer(options.rate),
                acks=acks,
                stats=stats,
                credentials={device: str(key) for device, key in issued.items()},
                seed=options.shape.seed,
            )
            sending = asyncio.create_task(fleet.run(scripts))
            while not sending.done():
                if on_tick:
                    on_tick(stats)
                await asyncio.wait({sending}, timeout=0.2)
            await sending
    finally:
        ledger.close()
    seconds = time.monotonic() - started
    if on_tick:
        on_tick(stats)
    final = None
    if options.wait_final > 0 and acks.by_sale:
        final = await wait_until_final(
            DatabaseSettings().dsn, acks.order_ids, bound=options.wait_final
        )
    return SimulationReport(options, stats, seconds, final)


def summary_table(report: SimulationReport) -> Table:
    s = report.stats
    table = Table("figure", "value", title=f"fleet run {report.options.run_id}")
    rows: list[tuple[str, object]] = [
        (
            "tills",
            f"{report.options.shape.stores} stores × {report.options.shape.devices_per_store}",
        ),
        ("orders sent", s.sales_sent),
        ("orders acknowledged", s.acknowledged),
        ("requests sent", s.requests),
        ("  created (201)", s.created),
        ("  replays (Idempotent-Replayed)", s.replays),
        ("  conflicts (409)", s.conflicts),
        ("  retries", s.retries),
        ("double taps / offline flushes", f"{s.double_taps} / {s.offline_spells}"),
        ("malformed rejected (4xx)", f"{s.rejected_malformed} of {s.malformed_sent}"),
        ("errors", s.errors),
        ("  timeouts / 5xx or connection", f"{s.timeouts} / {s.transient}"),
        (
            "  gave up / refused / id mismatch",
            f"{s.gave_up} / {s.refused_sales} / {s.id_mismatches}",
        ),
        ("  malformed accepted", s.malformed_accepted),
        ("seconds sending", f"{report.seconds:.1f}"),
        ("acknowledged per second", f"{s.acknowledged / max(report.seconds, 1e-9):,.0f}"),
    ]
    if report.final is not None:
        f = report.final
        until = f"{f.seconds:.1f}" if f.seconds is not None else "not within the bound"
        rows += [
            ("seconds until all final", until),
            ("SUCCESS / FAILED / PENDING", f"{f.success} / {f.failed} / {f.pending}"),
        ]
    for name, value in rows:
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    return table


def _options(args: argparse.Namespace) -> SimulationOptions:
    run_id = args.run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S-") + secrets.token_hex(3)
    api = ApiSettings()
    shape = FleetShape(
        stores=args.stores,
        devices_per_store=args.devices,
        orders=args.orders,
        seed=args.seed if args.seed is not None else secrets.randbits(32),
        double_tap_rate=args.double_tap_rate,
        offline_rate=args.offline_rate,
        malformed_rate=args.malformed_rate,
        shared_keys=args.shared_keys,
    )
    return SimulationOptions(
        shape=shape,
        api_url=args.api_url or f"http://{api.api_host}:{api.api_port}",
        ledger=Path(args.ledger) if args.ledger else LEDGER_DIR / f"{run_id}.jsonl",
        run_id=run_id,
        policy=TillRetryPolicy(timeout=args.timeout, give_up_after=args.give_up_after),
        concurrency=args.concurrency,
        rate=args.rate,
        wait_final=args.wait_final,
    )


def _link_latest(ledger: Path) -> None:
    """``.local/simulate/latest.jsonl``: what `pos verify --ledger` is pointed at by hand."""
    if ledger.parent != LEDGER_DIR:
        return
    latest = LEDGER_DIR / "latest.jsonl"
    latest.unlink(missing_ok=True)
    latest.symlink_to(ledger.name)


def run(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
    except ValueError as exc:
        raise CommandError(str(exc), ExitCode.USAGE) from exc
    console = Console()
    console.print(
        f"{options.shape.orders:,} orders from {options.shape.devices} tills to "
        f"{options.api_url}; ledger {options.ledger}"
    )
    progress = Progress(
        TextColumn("[bold]acknowledged"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        disable=args.no_progress or not console.is_terminal,
    )
    task = progress.add_task("", total=options.shape.orders)

    def tick(s: FleetStats) -> None:
        progress.update(
            task,
            completed=s.acknowledged + s.gave_up + s.refused_sales,
            description=f"replays {s.replays:,}  409 {s.conflicts:,}  errors {s.errors:,}",
        )

    with progress:
        report = asyncio.run(simulate(options, tick))
    _link_latest(options.ledger)
    console.print(summary_table(report))
    if args.summary_json:
        Path(args.summary_json).write_bytes(
            orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2)
        )
    s = report.stats
    unfinished = report.final is not None and report.final.seconds is None
    failed = s.gave_up or s.refused_sales or s.malformed_accepted or s.id_mismatches or unfinished
    return 1 if failed else 0
