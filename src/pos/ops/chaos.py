"""`pos chaos` (`make chaos`): the fleet sends while services crash and infrastructure restarts.

On a scratch PostgreSQL and Kafka of its own (`faults.scratch`; with `--topology
replicated` a three-node Kafka cluster and a PostgreSQL primary with its synchronous
standby, `faults.replicated_stack`), it runs the services at production shape
(`faults.shape`: an API with two workers, two publishers, three consumers in one group by
default) under the `pos dev` supervisor, starts `pos simulate`
as a separate process (its own core, and the tills' view of the system stays independent
of the chaos driver), and meanwhile plays the fault schedule (`faults.schedule`,
`faults.injector`). Then it heals the third party, waits for the pipeline to settle and
runs the auditor with the simulator's ledger, the consumers' commit log, the repeat
allowance the timeline earns and the bound on duplicate records its relay cuts earn.
Exit status 1 on any breach; figures go to `bench/results/chaos-latest.{json,md}`
(`chaos-replicated-latest.*` for the replicated topology).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pos.config import PROJECT_ROOT, Settings
from pos.infra.process import InfraError
from pos.ops.audit.report import print_report
from pos.ops.faults import rebalances, results, scratch
from pos.ops.faults.injector import FaultInjector
from pos.ops.faults.replicated_faults import ReplicatedTarget
from pos.ops.faults.replicated_stack import ReplicatedStack
from pos.ops.faults.schedule import FaultKind, Topology, plan_faults, rounds_for
from pos.ops.faults.shape import Shape
from pos.ops.supervisor import FileSink, RestartPolicy, Supervisor
from pos.ops.verify import AuditOptions, audit_system

DEFAULT_RATE = 250.0  # new orders/s this 2-core machine sustains under the faults
#: The replicated topology shares the two cores with three broker JVMs and a standby, and
#: its faults take longer (a node back in every ISR, a failover): fewer orders a second
#: keep the fleet's own back-log, not the system, from deciding the run.
DEFAULT_RATE_REPLICATED = 100.0
# Restart a killed service at once, as an orchestrator would: the faults are the point.
CHAOS_RESTARTS = RestartPolicy(initial=0.5, maximum=4.0, stable_after=15.0)
READY_TIMEOUT = 120.0
SETTLE_TIMEOUT = 600.0


@dataclass(frozen=True)
class ChaosOptions:
    orders: int
    rate: float
    rounds: int
    output: Path
    state_dir: Path
    seed: int
    shape: Shape = field(default_factory=Shape)
    topology: Topology = "single"

    @property
    def results_name(self) -> str:
        """`chaos-latest` or `chaos-replicated-latest`: each topology keeps its figures."""
        return "chaos-latest" if self.topology == "single" else f"chaos-{self.topology}-latest"

    @property
    def duration(self) -> float:
        return self.orders / self.rate


async def _wait_ready(stack: scratch.ChaosStack) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    urls = (f"{stack.api_url}/readyz", f"{stack.third_party_url}/healthz")
    async with httpx.AsyncClient(timeout=2) as client:
        for url in urls:
            while True:
                try:
                    if (await client.get(url)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{url} not ready after {READY_TIMEOUT:.0f} s; see {stack.logs}"
                    )
                await asyncio.sleep(0.3)


async def _start_fleet(
    stack: scratch.ChaosStack, options: ChaosOptions
) -> asyncio.subprocess.Process:
    log = (stack.logs / "simulate.log").open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "pos.cli", "simulate", "--no-progress"),
            *("--orders", str(options.orders), "--rate", str(options.rate)),
            *("--stores", "20", "--devices", "5", "--seed", str(options.seed)),
            *("--api-url", stack.api_url, "--wait-final", "0", "--give-up-after", "900"),
            *("--ledger", str(stack.fleet / "ledger.jsonl")),
            *("--summary-json", str(stack.fleet / "simulate.json")),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **stack.environment()},
        )
    finally:
        log.close()


class _FleetProgress:
    """How far the fleet is: its ledger's lines, read as the simulator appends them.

    Faults follow this rather than the wall clock: a fault planned at second ``at`` of the
    planned duration strikes once that share of the orders is acknowledged, so every
    round lands while orders flow, however much slower than planned the machine is, and
    the last faults land near the end, where the time to settle shows their effect.
    """

    def __init__(self, ledger: Path, orders: int, planned: float) -> None:
        self._ledger, self._offset = ledger, 0
        self._orders, self._planned = orders, planned
        self.acknowledged = 0
        self.done = False
        self._moved = asyncio.Event()

    def refresh(self) -> int:
        try:
            with self._ledger.open("rb") as lines:
                lines.seek(self._offset)
                chunk = lines.read()
        except OSError:
            return self.acknowledged
        self._offset += len(chunk)
        self.acknowledged += chunk.count(b"\n")
        self._moved.set()
        return self.acknowledged

    def finish(self) -> None:
        """The fleet is done: faults it never reached (orders not acknowledged) strike now."""
        self.done = True
        self._moved.set()

    async def reached(self, at: float) -> None:
        while not self.done and self.acknowledged < self._orders * at / self._planned:
            self._moved.clear()
            await self._moved.wait()


async def _send_under_faults(
    stack: scratch.ChaosStack,
    options: ChaosOptions,
    supervisor: Supervisor,
    console: Console,
) -> tuple[float, FaultInjector, dict[str, Any]]:
    schedule = plan_faults(options.duration, options.rounds, options.seed, options.topology)
    injector = FaultInjector(
        supervisor,
        stack.third_party_url,
        settings=stack.settings,
        say=console.print,
        replicated=(
            ReplicatedTarget(stack.cluster(), stack.pair(), stack.settings.kafka.order_topic)
            if isinstance(stack, ReplicatedStack)
            else None
        ),
    )
    started = time.monotonic()
    fleet = await _start_fleet(stack, options)
    fleet_progress = _FleetProgress(stack.fleet / "ledger.jsonl", options.orders, options.duration)
    faults = asyncio.create_task(injector.play(schedule, fleet_progress.reached))
    with Progress(
        TextColumn("[bold]acknowledged"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("", total=options.orders)
        while fleet.returncode is None:
            progress.update(task, completed=fleet_progress.refresh())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fleet.wait(), timeout=0.2)
        progress.update(task, completed=fleet_progress.refresh())
    seconds = time.monotonic() - started
    fleet_progress.finish()
    await faults
    await injector.heal_third_party()
    summary_path = stack.fleet / "simulate.json"
    if fleet.returncode != 0 and not summary_path.exists():
        raise RuntimeError(f"the simulator failed; see {stack.logs / 'simulate.log'}")
    return seconds, injector, orjson.loads(summary_path.read_bytes())


def interruptions(timeline: list[dict[str, Any]], consumers: int) -> int:
    """Consumer-sized interruptions in the timeline: the auditor's repeat allowance."""
    return sum(FaultKind(e["fault"]).consumers_cut(consumers) for e in timeline)


def _allocate(options: ChaosOptions, settings: Settings) -> scratch.ChaosStack:
    if options.topology == "replicated":
        return ReplicatedStack.allocate(options.state_dir, settings)
    return scratch.ScratchStack.allocate(options.state_dir, settings)


async def chaos(options: ChaosOptions, settings: Settings, console: Console) -> dict[str, Any]:
    """``settings``: the run's own, which the scratch stack's values go over."""
    stack = _allocate(options, settings)
    sink = FileSink(stack.logs)
    commit_log = stack.logs / "commits.jsonl"
    supervisor = Supervisor(
        options.shape.children(),
        sink=sink,
        policy=CHAOS_RESTARTS,
        env={
            **stack.environment(),
            "API_WORKERS": str(options.shape.api_workers),
            "CONSUMER_COMMIT_LOG": str(commit_log),
        },
    )
    report: dict[str, Any] = {}
    try:
        console.print(f"{stack.describe()} ...")
        started = time.monotonic()
        await asyncio.to_thread(stack.provision)
        supervisor.start()
        await _wait_ready(stack)
        ready_after = round(time.monotonic() - started, 1)
        shape = options.shape
        console.print(
            f"{options.orders:,} orders at {options.rate:,.0f}/s, {options.rounds} fault "
            f"round(s); API x{shape.api_workers} workers, {shape.publishers} publishers, "
            f"{shape.consumers} consumers; service logs in {stack.logs}"
        )
        seconds, injector, simulator = await _send_under_faults(stack, options, supervisor, console)
        console.print("fleet done; letting the system settle, then auditing ...")
        audit, quiet = await asyncio.to_thread(
            audit_system,
            AuditOptions(
                ledger=stack.fleet / "ledger.jsonl",
                wait=SETTLE_TIMEOUT,
                quiet_for=5.0,
                commit_log=commit_log,
                interruptions=interruptions(injector.timeline, shape.consumers),
                relay_cuts=tuple(injector.relay_cuts),
            ),
            stack.settings,
        )
        print_report(audit, quiet, console)
        run = results.ChaosRun(
            orders=options.orders,
            rate=options.rate,
            rounds=options.rounds,
            seconds_sending=seconds,
            simulator=simulator,
            faults=dict(injector.injected),
            fault_failures=injector.failures,
            restarts={c.name: c.restarts for c in supervisor.children.values()},
            quiet=quiet,
            audit=audit,
            shape=shape.to_json(),
            rebalance_callbacks=rebalances.callbacks(stack.logs),
            timeline=injector.timeline,
            faults_skipped=injector.skipped,
            topology=options.topology,
        )
        # The stack's start (nodes, migrations, services), apart from the run itself.
        report = {**results.to_json(run), "secondsToReady": ready_after}
    finally:
        await supervisor.stop()
        sink.close()
        await asyncio.to_thread(stack.teardown, keep_data=not report.get("passed"))
    return report


def _options(args: argparse.Namespace) -> ChaosOptions:
    rate = args.rate or (DEFAULT_RATE if args.topology == "single" else DEFAULT_RATE_REPLICATED)
    if args.orders < 1 or rate <= 0:
        raise ValueError("--orders and --rate must be positive")
    state_dir = Path(args.state_dir) if args.state_dir else PROJECT_ROOT / ".local" / "chaos"
    if state_dir.resolve() == (PROJECT_ROOT / ".local").resolve():
        raise ValueError("--state-dir must not be .local itself: that is `make run`'s stack")
    return ChaosOptions(
        topology=args.topology,
        shape=Shape(args.api_workers, args.publishers, args.consumers),
        orders=args.orders,
        rate=rate,
        rounds=args.rounds or rounds_for(args.orders / rate),
        output=Path(args.output) if args.output else PROJECT_ROOT / "bench" / "results",
        state_dir=state_dir,
        seed=args.seed if args.seed is not None else int(time.time()),
    )


def run(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
    except ValueError as exc:
        print(f"pos chaos: {exc}", file=sys.stderr)
        return 2
    console = Console()
    try:
        report = asyncio.run(chaos(options, args.settings, console))
    except (InfraError, TimeoutError) as exc:
        console.print(f"[red]pos chaos: the scratch stack failed:[/] {exc}")
        return 2
    options.output.mkdir(parents=True, exist_ok=True)
    (options.output / f"{options.results_name}.json").write_bytes(
        orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"
    )
    summary = results.markdown(report)
    (options.output / f"{options.results_name}.md").write_text(summary)
    console.print(Markdown(summary))
    return 0 if report["passed"] else 1
