"""The project's services as real subprocesses: start, wait, kill, restart.

Tests that prove "nothing lost after a crash" must crash a real process (SIGKILL), so the
services run exactly as in production: `python -m pos.cli <command>` with the session's
environment (its database and topics).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    """A port nobody listens on now; tests never use the fixed defaults (8000, 8081...)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int) -> int:
    """A base port with ``size`` free ports after it, below the kernel's ephemeral range.

    For servers whose ports are fixed in their configuration (the nodes of a Kafka cluster
    and a PostgreSQL pair): a port from the ephemeral range (32768+) can be taken by some
    outgoing connection between this check and the server's bind.
    """
    for _ in range(200):
        base = random.randrange(20_000, 32_000, 10)
        if all(_bindable(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of ports below 32000")


class ServiceProcess:
    """One `pos <command>` subprocess with its log captured to a file for failure messages."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, log_dir: Path, name: str
    ) -> None:
        self.args = args
        self.env = {**os.environ, **(env or {}), "LOG_FORMAT": "json"}
        self.log_path = log_dir / f"{name}.log"
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pos.cli", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def wait_until(self, check: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise AssertionError(f"{self.name} exited ({self.returncode}):\n{self.log()}")
            try:
                if check():
                    return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not {what or 'ready'} after {timeout} s:\n{self.log()}")

    def wait_http(self, url: str, timeout: float = 30) -> ServiceProcess:
        self.wait_until(lambda: httpx.get(url, timeout=1).status_code < 500, timeout, url)
        return self

    def wait_log(self, text: str, timeout: float = 30) -> ServiceProcess:
        self.wait_until(lambda: text in self.log(tail=1_000_000), timeout, f"logging {text!r}")
        return self

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> None:
        """SIGKILL: the crash at an arbitrary instant that must lose nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM and wait: graceful shutdown, which must exit 0."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
