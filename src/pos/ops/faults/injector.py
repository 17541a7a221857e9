"""Carry out a fault schedule against the running stack: kills, restarts, third-party modes.

Service kills go through the supervisor (SIGKILL of the child's process group; the
supervisor restarts it as after any crash); a consumer leaving gets SIGTERM, the signal
an orchestrator sends. Broker and database restarts use the same `pos.infra` code as
`pos infra up`, on the scratch stack; on the replicated topology the cluster's and the
pair's faults are `faults.replicated_faults`. The third party's misbehaviour is switched at run
time through its admin endpoint (`PUT /admin/faults`), each window setting and then
clearing only its own fields. Every fault lands in a timeline: what, on whom, from when
to when (seconds since the schedule started). Faults that may make the relays send a
batch again (`FaultKind.cuts_relays`) also note when they struck, in wall-clock time, for
the auditor's bound on duplicate records.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx

from pos.config import InfraSettings, Settings
from pos.infra import kafka, postgres
from pos.infra.process import pid_alive
from pos.ops.faults.publishers import wait_for_two_batches
from pos.ops.faults.replicated_faults import ReplicatedTarget
from pos.ops.faults.schedule import Fault, FaultKind
from pos.ops.supervisor import Supervisor

FLAKY = {"errorRate": 0.2, "timeoutRate": 0.05}
LATE_RATE = 0.3
CONFLICT = {"conflictRate": 0.6}
HEALTHY = {"errorRate": 0.0, "timeoutRate": 0.0, "refusalRate": 0.0, "outage": False}
ADMIN_RETRY_FOR = 60.0  # the third party may itself be restarting when a window opens
RUNNING_WAIT = 30.0  # a service crash-looping for longer is a finding, not a fault to inject
#: A consumer's drain on SIGTERM is bounded by its shutdown grace (10 s by default) and
#: its last commit; a broker restart under way may hold the commit up to its timeout.
LEFT_WAIT = 60.0


class UnsupportedFaultError(Exception):
    """The system under test cannot take this fault (e.g. an older third party)."""


class FaultInjector:
    def __init__(
        self,
        supervisor: Supervisor,
        third_party_url: str,
        *,
        settings: Settings,
        say: Callable[[str], None],
        replicated: ReplicatedTarget | None = None,
    ) -> None:
        """``settings``: the stack's under attack (its database, broker and state dir)."""
        self._supervisor = supervisor
        self._admin = third_party_url.rstrip("/") + "/admin/faults"
        self._settings = settings
        self._say = say
        self._replicated = replicated
        self._started = time.monotonic()
        self._targets: dict[str, Iterator[str]] = {}
        self.injected: Counter[str] = Counter()
        self.failures: list[str] = []  # faults that could not be injected, for the report
        self.skipped: list[str] = []  # faults the system under test does not support
        self.timeline: list[dict[str, Any]] = []
        #: (just before, just after) each cut of the relays' sessions, epoch seconds.
        self.relay_cuts: list[tuple[float, float]] = []

    async def play(
        self, schedule: list[Fault], reached: Callable[[float], Awaitable[None]]
    ) -> None:
        """Inject every fault once ``reached(fault.at)`` returns; long ones (restarts,
        windows) run on while the next ones strike."""
        self._started = time.monotonic()
        running = []
        for fault in schedule:
            await reached(fault.at)
            running.append(asyncio.create_task(self._inject(fault)))
        await asyncio.gather(*running)

    def _now(self) -> float:
        return round(time.monotonic() - self._started, 2)

    async def _inject(self, fault: Fault) -> None:
        start = self._now()
        self._say(f"t+{start:6.1f} s  {fault.kind}")
        try:
            target = await self._carry_out(fault)
        except UnsupportedFaultError as exc:
            self.skipped.append(f"{fault.kind}: {exc}")
            self._say(f"           {fault.kind} skipped: {exc}")
            return
        except Exception as exc:  # a fault that failed to happen is reported, not fatal
            self.failures.append(f"{fault.kind} at {fault.at:.0f} s: {exc}")
            self._say(f"           {fault.kind} could not be injected: {exc}")
            return
        self.injected[fault.kind.value] += 1
        entry = {"fault": fault.kind.value, "start": start, "end": self._now()}
        self.timeline.append({**entry, "target": target} if target else entry)

    def _next(self, prefix: str) -> str:
        """The children of a kind in turn (consumer-1, consumer-2, ...)."""
        if prefix not in self._targets:
            names = [n for n in self._supervisor.children if n.split("-")[0] == prefix]
            if not names:
                raise RuntimeError(f"no {prefix} is supervised")
            self._targets[prefix] = itertools.cycle(sorted(names))
        return next(self._targets[prefix])

    async def _carry_out(self, fault: Fault) -> str:
        kind = fault.kind
        if kind is FaultKind.KILL_PUBLISHER:
            return await self._kill_publisher()
        if kind.service is not None:
            name = kind.service if kind.service in self._supervisor.children else None
            target = name or self._next(kind.service)
            await self._kill(target)
            return target
        if kind is FaultKind.CONSUMER_LEAVE_JOIN:
            target = self._next("consumer")
            await self._leave(target, hold=True)
            await asyncio.sleep(fault.duration)
            self._supervisor.release(target)
            return target
        if kind is FaultKind.KILL_CONSUMER_IN_REBALANCE:
            leaving, victim = self._next("consumer"), self._next("consumer")
            await self._leave(leaving)
            await self._kill(victim)
            return f"{leaving} left, {victim} killed"
        if kind is FaultKind.KAFKA_RESTART:
            await self._restart_kafka(fault.duration, abrupt=fault.abrupt)
            return ""
        if kind in _REPLICATED:
            return await self._replicated_fault(fault)
        if kind is FaultKind.POSTGRES_RESTART_IN_REBALANCE:
            leaving = self._next("consumer")
            await self._leave(leaving)
            before = time.time()
            await asyncio.to_thread(postgres.down, self._settings.infra)
            self._cut(before, time.time())
            await asyncio.sleep(fault.duration)
            await asyncio.to_thread(postgres.up, self._settings.db, self._settings.infra)
            return f"{leaving} left"
        await self._window(kind, fault.duration)
        return ""

    async def _replicated_fault(self, fault: Fault) -> str:
        target = self._replicated
        if target is None:
            raise UnsupportedFaultError("the run is not on the replicated topology")
        if fault.kind is FaultKind.KAFKA_LEADER_KILL:
            return await target.kill_leader(fault.duration)
        if fault.kind is FaultKind.KAFKA_TWO_DOWN:
            return await target.two_down(fault.duration)
        if fault.kind is FaultKind.KAFKA_ROLLING_RESTART:
            return await target.rolling_restart()
        if fault.kind is FaultKind.POSTGRES_FAILOVER:
            return await target.fail_over(fault.duration, self._cut)
        return await target.rejoin()

    def _cut(self, before: float, after: float) -> None:
        self.relay_cuts.append((before, after))

    async def _window(self, kind: FaultKind, duration: float) -> None:
        before = await self.third_party_faults()
        if kind is FaultKind.THIRD_PARTY_FLAKY:
            on, off = FLAKY, {name: 0.0 for name in FLAKY}
        elif kind is FaultKind.THIRD_PARTY_OUTAGE:
            on, off = {"outage": True}, {"outage": False}
        elif kind is FaultKind.THIRD_PARTY_LATE:
            # Recorded, then answered only after the consumer gave up waiting.
            hang = round(self._settings.third_party.third_party_timeout_seconds * 1000 + 1500)
            on = {"timeoutRate": LATE_RATE, "hangMs": hang}
            off = {"timeoutRate": 0.0, "hangMs": before.get("hangMs", hang)}
        else:
            if "conflictRate" not in before:
                raise UnsupportedFaultError("the third party has no conflictRate fault")
            on, off = CONFLICT, {"conflictRate": 0.0}
        await self.set_third_party(on)
        await asyncio.sleep(duration)
        await self.set_third_party(off)

    async def _kill(self, service: str) -> None:
        """SIGKILL ``service``; if it is between two lives (restarting), kill its next one."""
        deadline = time.monotonic() + RUNNING_WAIT
        while not self._supervisor.kill(service):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service} was not running for {RUNNING_WAIT:.0f} s")
            await asyncio.sleep(0.2)

    async def _leave(self, consumer: str, *, hold: bool = False) -> None:
        """SIGTERM a consumer and wait until its process is gone: it has drained and left
        the group, so the group is rebalancing now."""
        deadline = time.monotonic() + RUNNING_WAIT
        while not self._supervisor.terminate(consumer, hold=hold):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{consumer} was not running for {RUNNING_WAIT:.0f} s")
            await asyncio.sleep(0.2)
        proc = self._supervisor.children[consumer].proc
        if proc is None:
            return
        try:
            await asyncio.wait_for(proc.wait(), LEFT_WAIT)
        except TimeoutError:
            raise RuntimeError(f"{consumer} had not left {LEFT_WAIT:.0f} s after SIGTERM") from None

    async def _kill_publisher(self) -> str:
        """SIGKILL a publisher while another holds the row locks of its next batch, when
        two publishers run and the backlog lets both hold one (waited for, bounded)."""
        target = self._next("publisher")
        both = await asyncio.to_thread(wait_for_two_batches, self._settings.db.dsn)
        before = time.time()
        await self._kill(target)
        self._cut(before, time.time())
        return f"{target} ({'another held a batch' if both else 'alone with a batch'})"

    async def _restart_kafka(self, downtime: float, *, abrupt: bool) -> None:
        await asyncio.to_thread(_stop_kafka, self._settings.infra, abrupt)
        await asyncio.sleep(downtime)
        await asyncio.to_thread(kafka.start, self._settings.kafka, self._settings.infra)

    async def third_party_faults(self) -> dict[str, Any]:
        """The third party's fault settings now (retrying while it restarts)."""
        return await self._admin_call("GET", None)

    async def set_third_party(self, faults: dict[str, Any]) -> None:
        """PUT the third party's fault settings, retrying while it is down or restarting."""
        await self._admin_call("PUT", faults)

    async def heal_third_party(self) -> None:
        """Every fault off, including those only a newer third party knows."""
        known = await self.third_party_faults()
        await self.set_third_party(
            {**HEALTHY, **({"conflictRate": 0.0} if "conflictRate" in known else {})}
        )

    async def _admin_call(self, method: str, body: dict[str, Any] | None) -> dict[str, Any]:
        deadline = time.monotonic() + ADMIN_RETRY_FOR
        async with httpx.AsyncClient(timeout=3) as client:
            while True:
                try:
                    response = await client.request(method, self._admin, json=body)
                    response.raise_for_status()
                    answer: dict[str, Any] = response.json()
                    return answer
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)


_REPLICATED = frozenset(
    {
        FaultKind.KAFKA_LEADER_KILL,
        FaultKind.KAFKA_TWO_DOWN,
        FaultKind.KAFKA_ROLLING_RESTART,
        FaultKind.POSTGRES_FAILOVER,
        FaultKind.POSTGRES_REJOIN,
    }
)


def _stop_kafka(infra: InfraSettings, abrupt: bool) -> None:
    """SIGKILL (a crash) or SIGTERM (a clean stop), then wait until the broker is gone:
    only then is its port free for the restart."""
    pid = kafka.managed_pid(infra)
    if abrupt:
        kafka.kill(infra)
    else:
        kafka.stop(infra)
    while pid is not None and pid_alive(pid):
        time.sleep(0.1)
