"""A lean open-loop `POST /orders` generator: a fixed rate whatever the answers' speed.

Run as its own process (``python -m bench.open_loop URL RATE SECONDS AUTHORIZATION OUT``).
Request *n* is due at ``start + n / rate``; it goes out on an idle keep-alive connection,
or a new one when all are busy (up to ``MAX_CONNECTIONS``), so a slow server makes
requests queue in the server, not in the generator (no coordinated omission). Every key is
new. A minimal HTTP/1.1 client on asyncio streams with the request bytes prepared once:
``aiohttp`` spends several times more CPU per request, and this process shares the
machine's two cores with the pipeline it measures (its own CPU is reported beside it).

Writes one line per order to OUT (``key,due epoch seconds,latency ms,status``) so the
database's ``processed_at`` can be joined to the moment the order was due, and prints a
JSON summary line.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.api import BODY

MAX_CONNECTIONS = 4096


class Client:
    def __init__(self, url: str, authorization: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        body = json.dumps(BODY, separators=(",", ":")).encode()
        self.head = (
            f"POST /orders HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: {authorization}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nIdempotency-Key: "
        ).encode()
        self.body = body
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.open = 0

    async def post(self, key: str) -> int:
        request = self.head + key.encode() + b"\r\n\r\n" + self.body
        while self.idle:
            # An idle connection the server closed (its keep-alive timeout) fails before
            # any answer: the request was not processed, so it goes out on another one.
            status = await self._exchange(*self.idle.pop(), request)
            if status is not None:
                return status
        if self.open >= MAX_CONNECTIONS:
            return 0  # counted as an error: the server holds every connection
        self.open += 1
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            self.open -= 1
            return 0
        return await self._exchange(reader, writer, request) or 0

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> int | None:
        """The answer's status; None when the connection was closed before any answer."""
        try:
            writer.write(request)
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionResetError
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            status = int(status_line.split()[1])
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            self.open -= 1
            writer.close()
            return None
        self.idle.append((reader, writer))
        return status


async def run(
    url: str, rate: float, seconds: float, authorization: str, out: str
) -> dict[str, Any]:
    client = Client(url, authorization)
    prefix = uuid.uuid4().hex[:12]
    lines: list[str] = []
    latencies: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}

    async def one(n: int, due_epoch: float, due: float) -> None:
        nonlocal errors
        key = f"{prefix}-{n}"
        status = await client.post(key)
        latency = (time.perf_counter() - due) * 1000
        errors += status != 201
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(latency)
        lines.append(f"{key},{due_epoch:.6f},{latency:.3f},{status}")

    tasks: set[asyncio.Task[None]] = set()
    total = int(rate * seconds)
    start, start_epoch = time.perf_counter(), time.time()
    for n in range(total):
        due = start + n / rate
        if (ahead := due - time.perf_counter()) > 0:
            await asyncio.sleep(ahead)
        task = asyncio.create_task(one(n, start_epoch + n / rate, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sent_in = time.perf_counter() - start
    while tasks:
        await asyncio.gather(*tasks)
    Path(out).write_text("\n".join(lines) + "\n")  # noqa: ASYNC240 - the run is over
    latencies.sort()
    return {
        "sent": total,
        "errors": errors,
        "sent_rate": total / max(sent_in, 1e-9),
        "connections": client.open,
        "statuses": statuses,
        "p50_ms": latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    url, rate, seconds, authorization, out = (argv or sys.argv[1:])[:5]
    # One socket per request in flight: the default 1,024 descriptors would fail requests
    # at the generator, not at the server, once answers slow down.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        from uvloop import new_event_loop as loop_factory
    except ImportError:
        loop_factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        summary = runner.run(run(url, float(rate), float(seconds), authorization, out))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
