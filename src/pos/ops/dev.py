"""`pos dev`: the whole pipeline in one terminal, supervised.

Each service runs as its own process, exactly as in production (`pos api`, ...), so a
crash in one is a crash of one: the supervisor restarts it with back-off and says so. Its
output is one stream with a coloured prefix per service. Children die with the supervisor
(PR_SET_PDEATHSIG) so no second run ever finds a stray process holding a port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from dataclasses import dataclass, field

from pos.config import get_settings
from pos.infra import stack
from pos.infra.process import InfraError, port_open

COLOURS = {"third-party": "35", "api": "36", "publisher": "33", "consumer": "32"}
RESTART_BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # a child that ran this long starts its back-off afresh
STOP_GRACE = 8.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask the kernel to SIGTERM this child when the supervisor dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    backoff: float = 1.0
    started_at: float = field(default=0.0)


class Supervisor:
    def __init__(self, children: list[Child], *, colour: bool) -> None:
        self.children = children
        self.colour = colour
        self.stopping = asyncio.Event()
        self.width = max(len(c.name) for c in children)

    def say(self, name: str, line: str) -> None:
        prefix = name.rjust(self.width)
        if self.colour:
            prefix = f"\033[{COLOURS.get(name, '37')}m{prefix}\033[0m"
        sys.stdout.write(f"{prefix} | {line}\n")
        sys.stdout.flush()

    async def _pump(self, child: Child, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            self.say(child.name, raw.decode(errors="replace").rstrip())

    async def _run_child(self, child: Child) -> None:
        env = {**os.environ, "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console")}
        while not self.stopping.is_set():
            child.started_at = time.monotonic()
            child.proc = await asyncio.create_subprocess_exec(
                *child.argv,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent,
                start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops them
            )
            pump = asyncio.create_task(self._pump(child, child.proc))
            code = await child.proc.wait()
            await pump
            if self.stopping.is_set():
                return
            if time.monotonic() - child.started_at > STABLE_AFTER:
                child.backoff = 1.0
            child.restarts += 1
            self.say(
                child.name,
                f"!! exited with code {code}; restart #{child.restarts} in {child.backoff:.0f} s",
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=child.backoff)
            child.backoff = min(child.backoff * 2, RESTART_BACKOFF_MAX)

    async def _stop_all(self) -> None:
        running = [c.proc for c in self.children if c.proc and c.proc.returncode is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for proc in running:
            try:
                await asyncio.wait_for(proc.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        tasks = [asyncio.create_task(self._run_child(c)) for c in self.children]
        await self.stopping.wait()
        self.say("dev", "stopping all services...")
        await self._stop_all()
        await asyncio.gather(*tasks, return_exceptions=True)


def _children() -> list[Child]:
    pos = [sys.executable, "-m", "pos.cli"]
    # The third party first: the consumer's first deliveries should find it listening.
    return [
        Child("third-party", [*pos, "third-party"]),
        Child("api", [*pos, "api"]),
        Child("publisher", [*pos, "publisher"]),
        Child("consumer", [*pos, "consumer"]),
    ]


def _banner() -> list[str]:
    s = get_settings()
    api = f"http://{s.api.api_host}:{s.api.api_port}"
    lines = [
        f"Order API        {api}  (docs {api}/docs, metrics {api}/metrics)",
        f"Third party      {s.third_party.third_party_url}/stats",
        f"Publisher        metrics http://127.0.0.1:{s.publisher.publisher_metrics_port}/metrics",
        f"Consumer         metrics http://127.0.0.1:{s.consumer.consumer_metrics_port}/metrics",
        f"PostgreSQL       {s.db.dsn.rsplit('@', 1)[-1]}    Kafka {s.kafka.kafka_broker}",
        f"Try:  curl -s -XPOST {api}/orders -H 'Idempotency-Key: demo-1' "
        '-H \'Content-Type: application/json\' -d \'{"storeId":"store-1","deviceId":"till-7",'
        '"currency":"EUR","items":[{"sku":"LATTE-L","name":"Latte","quantity":2,'
        '"unitPrice":450}]}\'',
        "Ctrl-C stops everything.",
    ]
    return lines


def _ports_in_use() -> list[str]:
    s = get_settings()
    tp = s.third_party.third_party_url.rsplit(":", 1)[-1].split("/")[0]
    wanted = {
        "api": (s.api.api_host, s.api.api_port),
        "third-party": ("127.0.0.1", int(tp) if tp.isdigit() else 80),
        "publisher metrics": ("127.0.0.1", s.publisher.publisher_metrics_port),
        "consumer metrics": ("127.0.0.1", s.consumer.consumer_metrics_port),
    }
    return [f"{name} ({h}:{p})" for name, (h, p) in wanted.items() if p and port_open(h, p)]


def run(_: argparse.Namespace) -> int:
    try:
        stack.up()
    except InfraError as exc:
        print(f"infra up failed: {exc}", file=sys.stderr)
        return 1
    taken = _ports_in_use()
    if taken:
        print(f"ports already in use: {', '.join(taken)}; is another `pos dev` running?")
        return 1
    supervisor = Supervisor(_children(), colour=sys.stdout.isatty())
    for line in _banner():
        supervisor.say("dev", line)
    asyncio.run(supervisor.run())
    return 0
