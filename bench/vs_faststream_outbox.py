"""`pos publisher` beside `faststream-outbox`, the relay a user could pick instead.

Both run in this stage, one after the other, on the same PostgreSQL server, the same Kafka
broker and the same ~470-byte `order.created` events:

- drain: a backlog (100,000 rows; 10,000 with ``--quick``) committed at once under an idle
  relay; the rate runs from that commit to the last record's broker append time
  (``LogAppendTime`` topics) for faststream-outbox, and to the last ``published_at`` for
  ours (the publisher stage's own measurement, ``bench.publisher.drain``);
- latency: one row per transaction at a steady 500/s, commit → broker append p50/p99.

faststream-outbox runs in its own process, written as its relay documentation shows: an
``OutboxBroker`` on its own table (``make_outbox_table``) over SQLAlchemy with asyncpg
(which adds LISTEN/NOTIFY to its polling), a ``KafkaBroker`` publisher stacked on an
outbox subscriber whose handler returns the body, inbound headers propagated, the
``FastStream`` app started with the Kafka broker's ``connect``. Rows are written with the
library's own ``publish``/``publish_batch`` inside the caller's transaction. It is measured
at its defaults and at the best settings found on this kind of machine (``BEST``: more
workers, bigger fetches, and the batched terminal delete its performance guide
recommends for throughput). The row's ratio is ours ÷ theirs for rates and theirs ÷ ours
for latencies: above 1, ours is ahead. Needs the ``bench-peers`` dependency group (``make
bench`` installs it).
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
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench import publisher as ours
from pos.config import PROJECT_ROOT, DatabaseSettings, KafkaSettings
from pos.scratch.databases import ScratchDatabase
from pos.scratch.outbox_rows import order_created, read_topic

STAGE = "vs faststream-outbox"
MAX_REPEAT = 1  # its default drain alone takes minutes
QUEUE = "orders_outbox"
DEFAULTS: dict[str, Any] = {}
BEST: dict[str, Any] = {
    "max_workers": 16,
    "fetch_batch_size": 1000,
    "terminal_flush_batch_size": 100,
    "pool_size": 20,  # the engine's: one connection per worker plus the fetch loop's
}


def _name(settings: dict[str, Any]) -> str:
    named = ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"
    return f"faststream-outbox {version('faststream-outbox')} ({named})"


def _async_url(db_url: str) -> str:
    return db_url.replace("postgresql://", "postgresql+asyncpg://", 1)


def _broker(db_url: str, pool_size: int | None = None) -> Any:
    from faststream_outbox import OutboxBroker, make_outbox_table
    from sqlalchemy import MetaData
    from sqlalchemy.ext.asyncio import create_async_engine

    table = make_outbox_table(MetaData(), table_name="outbox")
    engine = create_async_engine(
        _async_url(db_url), **({"pool_size": pool_size} if pool_size else {})
    )
    return OutboxBroker(engine, outbox_table=table), table, engine


async def relay(db_url: str, topic: str, settings: dict[str, Any]) -> None:
    """The relay process, as the library's documentation writes it."""
    from faststream import FastStream
    from faststream.kafka import KafkaBroker

    settings = dict(settings)
    broker_outbox, _, _ = _broker(db_url, settings.pop("pool_size", None))
    broker_kafka = KafkaBroker(KafkaSettings().kafka_broker)
    publisher_kafka = broker_kafka.publisher(topic)

    @publisher_kafka
    @broker_outbox.subscriber(QUEUE, propagate_inbound_headers=True, **settings)
    async def relay(body: dict[str, Any]) -> dict[str, Any]:
        return body

    app = FastStream(broker_outbox, on_startup=[broker_kafka.connect])
    await app.run()


async def write(db_url: str, events: list[bytes], *, rate: float | None) -> dict[str, float]:
    """Outbox rows through the library's own publish: all in one transaction (rate None)
    or one per transaction at ``rate``/s; returns event id → the time COMMIT was sent."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    broker, _, engine = _broker(db_url)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    headers = {"request-id": uuid.uuid4().hex, "traceparent": f"00-{'1' * 32}-{'2' * 16}-01"}
    bodies = [orjson.loads(e) for e in events]
    commits: dict[str, float] = {}
    if rate is None:
        async with factory() as session, session.begin():
            await broker.publish_batch(*bodies, queue=QUEUE, session=session, headers=headers)
            commits["all"] = time.time()
    else:
        start = time.monotonic()
        for i, body in enumerate(bodies):
            if (ahead := start + i / rate - time.monotonic()) > 0:
                await asyncio.sleep(ahead)
            async with factory() as session, session.begin():
                await broker.publish(body, queue=QUEUE, session=session, headers=headers)
                commits[body["eventId"]] = time.time()
    await engine.dispose()
    return commits


class Theirs:
    """A database with the library's table, and its relay as a subprocess per run."""

    def __init__(self, bench: ours.Bench) -> None:
        self.bench = bench
        self.database = ScratchDatabase(DatabaseSettings().dsn, "bench_fs_outbox", migrated=False)
        self.db_url = self.database.url

    def __enter__(self) -> Theirs:
        self.database.__enter__()
        from sqlalchemy import create_engine

        _, table, _ = _broker(self.db_url)
        engine = create_engine(self.db_url.replace("postgresql://", "postgresql+psycopg://", 1))
        table.metadata.create_all(engine)
        engine.dispose()
        return self

    def __exit__(self, *exc: object) -> None:
        self.database.__exit__(*exc)

    def left(self) -> int:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM outbox").fetchone()
        return int(row[0]) if row else 0

    def run(self, settings: dict[str, Any], events: int, rate: float | None) -> list[float]:
        """Start the relay, wait for a first row to pass, write ``events`` rows; returns the
        commit → append latencies (ms), or with ``rate`` None the drain time (s) alone."""
        topic = self.bench.topic(append_time=True)
        command = [sys.executable, "-m", "bench.vs_faststream_outbox", "--relay"]
        self.log = self.bench.workdir / f"relay-{uuid.uuid4().hex[:6]}.log"
        log = self.log.open("ab")
        process = subprocess.Popen(
            [*command, self.db_url, topic, json.dumps(settings)],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._through(process, [order_created(topic).payload], timeout=120)  # warm-up
            batch = [order_created(topic) for _ in range(events)]
            payloads = [e.payload for e in batch]
            commits = self._through(process, payloads, rate, timeout=max(600, events / 50))
        finally:
            log.close()
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        wanted = {str(e.event_id) for e in batch}  # not the warm-up's
        appended = [
            (event_id, r.timestamp_ms)
            for r in read_topic(self.bench.kafka.kafka_broker, topic)
            if (event_id := orjson.loads(r.value)["eventId"]) in wanted
        ]
        if len({event_id for event_id, _ in appended}) < events:
            raise RuntimeError(f"{_name(settings)}: events missing on {topic}")
        if rate is None:
            return [max(ms for _, ms in appended) / 1000 - commits["all"]]
        return [ms - commits[event_id] * 1000 for event_id, ms in appended]

    def _through(
        self,
        process: subprocess.Popen[bytes],
        payloads: list[bytes],
        rate: float | None = None,
        *,
        timeout: float,
    ) -> dict[str, float]:
        commits = asyncio.run(write(self.db_url, payloads, rate=rate))
        deadline = time.monotonic() + timeout
        while self.left():  # a row is deleted once Kafka acknowledged it
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"faststream-outbox relay stopped or stuck, {self.left()} rows left:\n"
                    + self.log.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.2)
        return commits


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(quick: bool) -> list[dict[str, Any]]:
    backlog, seconds = (2_000, 4.0) if quick else (100_000, 20.0)
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="pos-bench-fs-outbox-") as tmp,
        ours.Bench(Path(tmp)).up() as bench,
        Theirs(bench) as theirs,
    ):
        our_drain = ours.drain(bench, backlog)
        our_latency = ours.latency(bench, seconds)
        for label, settings in (("its defaults", DEFAULTS), ("its best settings", BEST)):
            name = _name(settings)
            (elapsed,) = theirs.run(settings, backlog, None)
            drain = backlog / elapsed
            latency = theirs.run(settings, int(ours.RATE * seconds), ours.RATE)
            print(f"  {name}: drain {drain:,.0f}/s, p50 {_pct(latency, 0.5):.1f} ms",
                  file=sys.stderr, flush=True)  # fmt: skip
            rows.append(
                {
                    "stage": STAGE,
                    "metric": f"drain rate, {backlog:,}-row backlog, vs {label}",
                    "value": round(our_drain),
                    "unit": "events/s",
                    "alternative": round(drain),
                    "alternativeName": name,
                    "ratio": round(our_drain / drain, 1),
                }
            )
            for q in (0.5, 0.99):
                mine, theirs_q = _pct(our_latency, q), _pct(latency, q)
                rows.append(
                    {
                        "stage": STAGE,
                        "metric": f"commit → broker latency p{q * 100:.0f} at {ours.RATE}/s,"
                        f" vs {label}",
                        "value": round(mine, 1),
                        "unit": "ms",
                        "alternative": round(theirs_q, 1),
                        "alternativeName": name,
                        "ratio": round(theirs_q / mine, 1) if mine > 0 else None,
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--relay", nargs=3, help=argparse.SUPPRESS)  # DB_URL TOPIC SETTINGS
    args = parser.parse_args(argv)
    if args.relay:
        db_url, topic, settings = args.relay
        asyncio.run(relay(db_url, topic, json.loads(settings)))
        return 0
    for row in run(args.quick):
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
