"""The supervisor behind `pos dev` and `pos chaos`, with real child processes.

A kill must take a service's whole process group (a worker left behind would hold its
port), the supervisor must bring the service back, and stopping must leave nothing.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pos.infra.process import pid_alive
from pos.ops.supervisor import Child, FileSink, RestartPolicy, Supervisor

# A service that forks a worker (like uvicorn with --workers) and reports both pids.
FORKING = """
import os, sys, time
worker = os.fork()
if worker == 0:
    time.sleep(600)
    sys.exit(0)
print(f"up {os.getpid()} {worker}", flush=True)
time.sleep(600)
"""
QUICK = RestartPolicy(initial=0.1, maximum=0.2, stable_after=60)


async def until(check: Callable[[], bool], what: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {within} s")
        await asyncio.sleep(0.05)


def pids_logged(lines: list[tuple[str, str]]) -> list[tuple[int, int]]:
    return [
        (int(parts[1]), int(parts[2])) for _, line in lines if (parts := line.split())[0] == "up"
    ]


async def test_a_killed_service_loses_its_whole_group_and_comes_back() -> None:
    lines: list[tuple[str, str]] = []
    supervisor = Supervisor(
        [Child("svc", [sys.executable, "-c", FORKING])],
        sink=lambda name, line: lines.append((name, line)),
        policy=QUICK,
    )
    supervisor.start()
    try:
        await until(lambda: len(pids_logged(lines)) == 1, "started")
        (main, worker) = pids_logged(lines)[0]
        assert supervisor.kill("svc")
        await until(lambda: not pid_alive(main) and not pid_alive(worker), "killed, worker too")
        await until(lambda: len(pids_logged(lines)) == 2, "restarted")
        assert supervisor.children["svc"].restarts == 1
        assert any("exited with code -9; restart #1" in line for _, line in lines)
        new_main, new_worker = pids_logged(lines)[1]
    finally:
        await supervisor.stop()
    # SIGKILL to the group is asynchronous: give the kernel a moment to finish the worker.
    await until(lambda: not pid_alive(new_main), "main stopped")
    await until(lambda: not pid_alive(new_worker), "the worker it forked is not left behind")
    assert supervisor.children["svc"].restarts == 1  # a stop is not a crash


async def test_stop_escalates_to_sigkill_for_a_child_that_ignores_sigterm() -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(600)"
    )
    lines: list[str] = []
    supervisor = Supervisor(
        [Child("stubborn", [sys.executable, "-c", stubborn])],
        sink=lambda _, line: lines.append(line),
        policy=QUICK,
        stop_grace=1.0,
    )
    supervisor.start()
    await until(lambda: "up" in lines, "started")
    proc = supervisor.children["stubborn"].proc
    assert proc is not None
    await supervisor.stop()
    assert proc.returncode == -9


async def test_children_get_the_environment_as_it_is_when_they_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FileSink(tmp_path)
    show = "import os; print(os.environ['CHAOS_MARK'], os.environ['LATE_MARK'])"
    supervisor = Supervisor(
        [Child("env", [sys.executable, "-c", show])],
        sink=sink,
        policy=RestartPolicy(initial=30),
        env={"CHAOS_MARK": "from-the-supervisor"},
    )
    # Set after the supervisor exists, as chaos does once its scratch stack is up.
    monkeypatch.setenv("LATE_MARK", "set-later")
    supervisor.start()
    log = tmp_path / "env.log"
    await until(lambda: log.exists() and "restart #1" in log.read_text(), "logged")
    await supervisor.stop()
    sink.close()
    assert log.read_text().splitlines()[0] == "from-the-supervisor set-later"
    assert "CHAOS_MARK" not in os.environ


def test_a_child_that_is_not_running_cannot_be_killed() -> None:
    supervisor = Supervisor([Child("idle", ["true"])], sink=lambda *_: None)
    assert supervisor.kill("idle") is False


# A service that leaves cleanly on SIGTERM, saying so (like a consumer leaving its group).
GRACEFUL = """
import os, signal, sys, time
def leave(*_):
    print("left", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, leave)
print(f"up {os.getpid()} 0", flush=True)
time.sleep(600)
"""


async def test_a_terminated_service_held_down_comes_back_only_when_released() -> None:
    lines: list[tuple[str, str]] = []
    supervisor = Supervisor(
        [Child("svc", [sys.executable, "-c", GRACEFUL])],
        sink=lambda name, line: lines.append((name, line)),
        policy=QUICK,
    )
    supervisor.start()
    try:
        await until(lambda: len(pids_logged(lines)) == 1, "started")
        assert supervisor.terminate("svc", hold=True)
        await until(lambda: any(line == "left" for _, line in lines), "left on SIGTERM")
        await until(lambda: any("held down" in line for _, line in lines), "held down")
        # Held: many restart back-offs pass and it stays down.
        await asyncio.sleep(10 * QUICK.maximum)
        assert len(pids_logged(lines)) == 1
        assert not supervisor.children["svc"].running
        supervisor.release("svc")
        await until(lambda: len(pids_logged(lines)) == 2, "started again once released")
        # Not held: a plain SIGTERM is an exit like any other, restarted after back-off.
        assert supervisor.terminate("svc")
        await until(lambda: len(pids_logged(lines)) == 3, "restarted after a plain SIGTERM")
    finally:
        await supervisor.stop()
