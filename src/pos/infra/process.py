"""Small process helpers shared by the PostgreSQL and Kafka launchers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


class InfraError(RuntimeError):
    """A service could not be provisioned; the message says what failed and where to look."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    managed: bool  # started by `pos infra up` (and so stopped by `down`)
    address: str
    detail: str = ""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_local_host(host: str | None) -> bool:
    return host in {"localhost", "127.0.0.1", "::1", None, ""}


def refuse_unreachable_remote(
    variable: str, host: str | None, port: int, answers: Callable[[], bool], what: str
) -> None:
    """Fail when ``variable`` names another machine's server (``what``) that does not
    answer: `pos infra up` never starts one there. Checked before anything starts, so a
    failing `up` leaves nothing started behind it."""
    if not is_local_host(host) and not answers():
        raise InfraError(
            f"{variable} points at {host}:{port}, which does not answer; "
            f"`pos infra up` only starts a local {what} (host localhost)"
        )


def wait_until(
    check: Callable[[], bool], *, timeout: float, interval: float = 0.2, what: str, log: Path | None
) -> None:
    """Poll ``check`` until it is true; on time-out raise an error naming the log to read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    where = f"; see its log: {log}" if log else ""
    raise InfraError(f"{what} was not ready after {timeout:.0f} s{where}")


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def spawn_detached(cmd: Sequence[str], *, log: Path, cwd: Path | None = None) -> int:
    """Start a long-lived process in its own session, so Ctrl-C in the shell does not kill it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
    return proc.pid


def terminate(pid: int, *, timeout: float = 20.0) -> None:
    """SIGTERM, wait, then SIGKILL: a broker gets the time to close its logs cleanly."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def run(
    cmd: Sequence[str], *, what: str, timeout: float = 300, env: dict[str, str] | None = None
) -> str:
    """Run a provisioning step; on failure raise with its output, which is what a user needs."""
    try:
        res = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except FileNotFoundError as exc:
        raise InfraError(f"{what}: {exc}") from None
    except subprocess.TimeoutExpired:
        raise InfraError(f"{what}: no answer after {timeout:.0f} s ({' '.join(cmd)})") from None
    if res.returncode != 0:
        out = (res.stdout + res.stderr).strip()[-3000:]
        raise InfraError(f"{what} failed (exit {res.returncode}): {' '.join(cmd)}\n{out}")
    return res.stdout
