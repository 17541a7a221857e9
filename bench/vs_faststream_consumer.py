"""`pos consumer` beside a FastStream consumer with `faststream-concurrent-aiokafka`.

Both drain the same kind of backlog (20,000 `order.created` events; 4,000 with
``--quick``) on a fresh topic, each message one HTTP call to the same simulated third
party answering after 50 ms, 256 calls in flight. The rate and the CPU per order are
taken between the first and the last order the third party has accepted (its ``/stats``,
polled), so start-up is not counted, and measured the same way for both. Ours also
writes each order's status to PostgreSQL; FastStream's handler does not.

FastStream is written as its documentation and the middleware's show: a ``KafkaBroker``
with ``KafkaConcurrentProcessingMiddleware``, ``initialize_concurrent_processing`` in the
app's lifespan (concurrency limit 256, the middleware's defaults otherwise), a subscriber
with ``AckPolicy.MANUAL``, the handler posting the event's order with aiohttp. The
settings a user must change for this load are named in the table: ``auto_offset_reset``
earliest (a backlog written before the group joined) and an aiohttp connector allowing
256 connections (its default is 100). Little's law, 256 ÷ 50 ms, is the limit of both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import consumer as ours
from bench.procstat import tree_seconds
from pos.config import PROJECT_ROOT, KafkaSettings
from pos.messaging.kafka import make_producer

STAGE = "vs faststream-concurrent-aiokafka"
MAX_REPEAT = 1
LATENCY_MS = 50
IN_FLIGHT = 256
SETTINGS = "concurrency_limit=256, auto_offset_reset=earliest, aiohttp limit=256"


def _name() -> str:
    return (
        f"faststream {version('faststream')} + faststream-concurrent-aiokafka"
        f" {version('faststream-concurrent-aiokafka')} ({SETTINGS})"
    )


async def consume(topic: str, group: str, third_party_url: str) -> None:
    """The FastStream consumer process, as the documentation writes it."""
    import aiohttp
    from faststream import ContextRepo, FastStream
    from faststream.kafka import KafkaBroker
    from faststream.middlewares import AckPolicy
    from faststream_concurrent_aiokafka import (
        KafkaConcurrentProcessingMiddleware,
        initialize_concurrent_processing,
        stop_concurrent_processing,
    )

    broker = KafkaBroker(KafkaSettings().kafka_broker)
    broker.add_middleware(KafkaConcurrentProcessingMiddleware)
    http: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def lifespan(_context: ContextRepo) -> AsyncIterator[None]:
        await initialize_concurrent_processing(context=broker.context, concurrency_limit=IN_FLIGHT)
        connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
        async with aiohttp.ClientSession(third_party_url, connector=connector) as session:
            http["session"] = session
            try:
                yield
            finally:
                await stop_concurrent_processing(broker.context)

    @broker.subscriber(
        topic, group_id=group, ack_policy=AckPolicy.MANUAL, auto_offset_reset="earliest"
    )
    async def handle(event: dict[str, Any]) -> None:
        order = event["order"]
        headers = {"Idempotency-Key": order["id"]}
        async with http["session"].post("/orders", json=order, headers=headers) as response:
            response.raise_for_status()

    await FastStream(broker, lifespan=lifespan).run()


def drain(bench: ours.Bench, n: int, pid: Callable[[], int | None]) -> tuple[float, float]:
    """Orders/s and CPU ms per order of the process ``pid`` gives, between the first and
    the last of ``n`` orders accepted by the third party."""
    first: tuple[float, float, int] | None = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        done = int(httpx.get(bench.tp_url + "/stats", timeout=10).json()["unique"])
        process = pid()
        if process is None:
            raise RuntimeError("the consumer exited")
        if first is None and done:
            first = (time.monotonic(), tree_seconds(process), done)
        if done >= n and first is not None:
            t0, cpu0, done0 = first
            orders = done - done0
            cpu = tree_seconds(process) - cpu0
            return orders / (time.monotonic() - t0), cpu * 1000 / max(orders, 1)
        time.sleep(0.05)
    raise TimeoutError(f"{n} orders not delivered within 600 s")


def measure(
    bench: ours.Bench, conn: psycopg.Connection[Any], n: int, start: Callable[[KafkaSettings], Any]
) -> tuple[float, float]:
    """A backlog of ``n`` orders on a fresh topic, then ``start(topic)``'s consumer drains
    it (a ``subprocess.Popen`` or a ``ServiceProcess``), killed afterwards."""
    bench.third_party_faults(latencyMs=LATENCY_MS)  # also empties its receipts
    with bench.topics() as settings:
        orders = ours.make_orders(conn, n)
        ours.produce(make_producer(settings), settings.order_topic, orders, rate=None)
        process = start(settings)
        popen = getattr(process, "proc", process)
        try:
            return drain(bench, n, lambda: popen.pid if popen.poll() is None else None)
        finally:
            process.kill()


def run(quick: bool) -> list[dict[str, Any]]:
    n = 4_000 if quick else 20_000
    case = ours.Case(LATENCY_MS, IN_FLIGHT)
    with (
        tempfile.TemporaryDirectory(prefix="pos-bench-fs-consumer-") as tmp,
        ours.Bench(Path(tmp)).up() as bench,
        psycopg.connect(bench.db_url, autocommit=True) as conn,
    ):

        def pos_consumer(topics: KafkaSettings) -> Any:
            return bench.consumer(case, topics).start()

        log = Path(tmp) / "faststream.log"

        def faststream(topics: KafkaSettings) -> Any:
            command = [sys.executable, "-u", "-m", "bench.vs_faststream_consumer", "--consume"]
            command += [topics.order_topic, f"bench-fs-{uuid.uuid4().hex[:8]}", bench.tp_url]
            with log.open("ab") as out:
                return subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=out, stderr=out)

        mine = measure(bench, conn, n, pos_consumer)
        try:
            theirs = measure(bench, conn, n, faststream)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}:\n{log.read_text(errors='replace')[-3000:]}") from exc

    print(f"  ours {mine[0]:,.0f}/s, {mine[1]:.2f} ms CPU; {_name()}: {theirs[0]:,.0f}/s,"
          f" {theirs[1]:.2f} ms CPU", file=sys.stderr, flush=True)  # fmt: skip
    at = f"{LATENCY_MS} ms third party, {IN_FLIGHT} in flight, {n:,} orders"
    return [
        {
            "stage": STAGE,
            "metric": f"orders/s, {at}",
            "value": round(mine[0]),
            "unit": "orders/s",
            "limit": case.little_limit,
            "alternative": round(theirs[0]),
            "alternativeName": _name(),
            "ratio": round(mine[0] / theirs[0], 2),
        },
        {
            "stage": STAGE,
            "metric": f"consumer CPU per order (ours also writes the status), {at}",
            "value": round(mine[1], 3),
            "unit": "ms",
            "alternative": round(theirs[1], 3),
            "alternativeName": _name(),
            "ratio": round(theirs[1] / mine[1], 2) if mine[1] else None,
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--consume", nargs=3, help=argparse.SUPPRESS)  # TOPIC GROUP URL
    args = parser.parse_args(argv)
    if args.consume:
        asyncio.run(consume(*args.consume))
        return 0
    for row in run(args.quick):
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
