"""Carry out a fault schedule against the running stack: kills, restarts, third-party modes.

Service kills go through the supervisor (SIGKILL of the child's process group; the
supervisor restarts it as after any crash). Broker and database restarts use the same
`pos.infra` code as `pos infra up`, on the scratch stack. The third party's misbehaviour is
switched at run time through its admin endpoint (`PUT /admin/faults`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from pos.infra import kafka, postgres
from pos.infra.process import pid_alive
from pos.ops.faults.schedule import Fault, FaultKind
from pos.ops.supervisor import Supervisor

FLAKY = {"errorRate": 0.2, "timeoutRate": 0.05}
HEALTHY = {"errorRate": 0.0, "timeoutRate": 0.0, "refusalRate": 0.0, "outage": False}
ADMIN_RETRY_FOR = 60.0  # the third party may itself be restarting when a window opens
RUNNING_WAIT = 30.0  # a service crash-looping for longer is a finding, not a fault to inject


class FaultInjector:
    def __init__(
        self,
        supervisor: Supervisor,
        third_party_url: str,
        *,
        say: Callable[[str], None],
    ) -> None:
        self._supervisor = supervisor
        self._admin = third_party_url.rstrip("/") + "/admin/faults"
        self._say = say
        self.injected: Counter[str] = Counter()
        self.failures: list[str] = []  # faults that could not be injected, for the report

    async def play(
        self, schedule: list[Fault], reached: Callable[[float], Awaitable[None]]
    ) -> None:
        """Inject every fault once ``reached(fault.at)`` returns; long ones (restarts,
        windows) run on while the next ones strike."""
        started = time.monotonic()
        running = []
        for fault in schedule:
            await reached(fault.at)
            running.append(asyncio.create_task(self._inject(fault, started)))
        await asyncio.gather(*running)

    async def _inject(self, fault: Fault, started: float) -> None:
        self._say(f"t+{time.monotonic() - started:6.1f} s  {fault.kind}")
        try:
            await self._carry_out(fault)
        except Exception as exc:  # a fault that failed to happen is reported, not fatal
            self.failures.append(f"{fault.kind} at {fault.at:.0f} s: {exc}")
            self._say(f"           {fault.kind} could not be injected: {exc}")
            return
        self.injected[fault.kind.value] += 1

    async def _carry_out(self, fault: Fault) -> None:
        service = fault.kind.service
        if service is not None:
            await self._kill(service)
        elif fault.kind is FaultKind.KAFKA_RESTART:
            await self._restart_kafka(fault.duration, abrupt=fault.abrupt)
        elif fault.kind is FaultKind.POSTGRES_RESTART:
            await asyncio.to_thread(postgres.down)
            await asyncio.sleep(fault.duration)
            await asyncio.to_thread(postgres.up)
        else:
            mode = FLAKY if fault.kind is FaultKind.THIRD_PARTY_FLAKY else {"outage": True}
            await self.set_third_party(mode)
            await asyncio.sleep(fault.duration)
            await self.set_third_party(HEALTHY)

    async def _kill(self, service: str) -> None:
        """SIGKILL ``service``; if it is between two lives (restarting), kill its next one."""
        deadline = time.monotonic() + RUNNING_WAIT
        while not self._supervisor.kill(service):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service} was not running for {RUNNING_WAIT:.0f} s")
            await asyncio.sleep(0.2)

    async def _restart_kafka(self, downtime: float, *, abrupt: bool) -> None:
        await asyncio.to_thread(_stop_kafka, abrupt)
        await asyncio.sleep(downtime)
        await asyncio.to_thread(kafka.start)

    async def set_third_party(self, faults: dict[str, Any]) -> None:
        """PUT the third party's fault settings, retrying while it is down or restarting."""
        deadline = time.monotonic() + ADMIN_RETRY_FOR
        async with httpx.AsyncClient(timeout=3) as client:
            while True:
                try:
                    response = await client.put(self._admin, json=faults)
                    response.raise_for_status()
                    return
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)


def _stop_kafka(abrupt: bool) -> None:
    """SIGKILL (a crash) or SIGTERM (a clean stop), then wait until the broker is gone:
    only then is its port free for the restart."""
    pid = kafka.managed_pid()
    if abrupt:
        kafka.kill()
    else:
        kafka.stop()
    while pid is not None and pid_alive(pid):
        time.sleep(0.1)
