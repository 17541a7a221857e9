"""Run services as supervised child processes: restart on exit, stop cleanly, kill on demand.

Used by `pos dev` (one terminal, coloured prefixed output, restart with back-off) and by
`pos chaos` (output to log files, quick restarts, SIGKILL as a fault). Each child runs in
its own process group and session, so Ctrl-C reaches the supervisor only (it stops the
children in order) and a fault kills a service's whole group, workers included, the way a
crashed machine would. Children also die with the supervisor (PR_SET_PDEATHSIG), so no
later run finds a stray process holding a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pos.domain.backoff import Backoff

#: Where a child's output lines go: ``sink(child_name, line)``.
LineSink = Callable[[str, str], None]

STOP_GRACE = 8.0
#: A child that exits leaves its pipe to grandchildren still running; never wait on them.
PUMP_DRAIN_TIMEOUT = 2.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask the kernel to SIGTERM this child when the supervisor dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential back-off between restarts, reset once a child has run ``stable_after``."""

    initial: float = 1.0
    maximum: float = 30.0
    stable_after: float = 60.0


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    crashes: int = 0  # consecutive exits since it last ran ``stable_after`` seconds
    started_at: float = field(default=0.0)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


class FileSink:
    """One log file per child under ``directory``: chaos runs keep the terminal for progress."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._files: dict[str, IO[str]] = {}

    def __call__(self, name: str, line: str) -> None:
        out = self._files.get(name)
        if out is None:
            out = self._files[name] = (self.directory / f"{name}.log").open("a", buffering=1)
        out.write(line + "\n")

    def close(self) -> None:
        for out in self._files.values():
            out.close()
        self._files.clear()


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        *,
        sink: LineSink,
        policy: RestartPolicy | None = None,
        env: dict[str, str] | None = None,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.children = {c.name: c for c in children}
        self.sink = sink
        self.policy = policy or RestartPolicy()
        self.stop_grace = stop_grace
        self.extra_env = env or {}
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Children kept down after their next exit until `release` (a member leaving a
        #: group for a while, then joining again).
        self._held: dict[str, asyncio.Event] = {}

    async def _pump(self, child: Child, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            self.sink(child.name, raw.decode(errors="replace").rstrip())

    async def _spawn(self, child: Child) -> asyncio.subprocess.Process:
        child.started_at = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *child.argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # This process's environment with the caller's on top (chaos: its scratch
            # stack's variables, which the services parse as their own settings).
            env={**os.environ, **self.extra_env},
            preexec_fn=_die_with_parent,
            start_new_session=True,  # own group: Ctrl-C reaches us only; killpg gets it all
        )
        child.proc = proc
        return proc

    async def _keep_running(self, child: Child) -> None:
        backoff = Backoff(self.policy.initial, self.policy.maximum)
        while not self.stopping.is_set():
            proc = await self._spawn(child)
            pump = asyncio.create_task(self._pump(child, proc))
            code = await proc.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pump), PUMP_DRAIN_TIMEOUT)
            pump.cancel()
            if self.stopping.is_set():
                return
            released = self._held.get(child.name)
            if released is not None:
                self.sink(child.name, f"!! exited with code {code}; held down")
                await _first(released.wait(), self.stopping.wait())
                self._held.pop(child.name, None)
                continue
            if time.monotonic() - child.started_at > self.policy.stable_after:
                child.crashes = 0
            child.restarts += 1
            child.crashes += 1
            delay = backoff.ceiling(child.crashes)
            self.sink(
                child.name,
                f"!! exited with code {code}; restart #{child.restarts} in {delay:.1f} s",
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)

    def start(self) -> None:
        """Spawn every child (in the given order) and keep each one running until `stop`."""
        self._tasks = [asyncio.create_task(self._keep_running(c)) for c in self.children.values()]

    def kill(self, name: str) -> bool:
        """SIGKILL a child's whole process group: a crash at an arbitrary instant.

        The supervisor notices the exit and restarts the child after its back-off, exactly
        as it would after a real crash. False when the child was not running.
        """
        child = self.children[name]
        if child.proc is None or not child.running:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.proc.pid, signal.SIGKILL)
        return True

    def terminate(self, name: str, *, hold: bool = False) -> bool:
        """SIGTERM a child's process group: a graceful stop (it is restarted as after any
        exit, or, with ``hold``, only once released). False when it was not running."""
        child = self.children[name]
        if child.proc is None or not child.running:
            return False
        if hold:
            self._held[name] = asyncio.Event()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.proc.pid, signal.SIGTERM)
        return True

    def release(self, name: str) -> None:
        """Let a held child start again."""
        held = self._held.get(name)
        if held is not None:
            held.set()

    async def stop(self) -> None:
        """SIGTERM every child's process group (graceful shutdown), SIGKILL after the grace.

        The whole group, as systemd does: a worker the child forked gets the signal too and
        is not left behind holding a port (or the output pipe, which would keep the
        child's exit from being noticed).
        """
        self.stopping.set()
        for held in self._held.values():
            held.set()
        running = [c.proc for c in self.children.values() if c.proc and c.running]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for proc in running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_until_signalled(self) -> None:
        """`pos dev`: run until SIGINT/SIGTERM, then stop everything."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, wake.set)
        self.start()
        await wake.wait()
        self.sink("dev", "stopping all services...")
        await self.stop()


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Return when the first of ``waits`` finishes; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
