"""Publisher stage: outbox drain rate and commit → broker-ack latency of `pos publisher`.

- drain: 100,000 realistic rows (~470-byte `order.created` payloads, one INSERT each as
  the API writes them) are committed at once under an idle `pos publisher` (a subprocess,
  as in production); the rate runs from that commit to the last ``published_at`` (the
  relay's own clock, at its mark), so start-up is not counted but the wake-up is. Median
  of three runs (one with ``--quick``).
- two limits beside it, measured in the same run: Kafka's own ``ProducerPerformance`` on
  the same broker with the same payloads (``--payload-file``) and the shared producer
  settings (acks=all, idempotent, lz4, linger 2 ms); and PostgreSQL's: the relay's own
  claim and mark SQL in a serial loop without Kafka (the "claim-and-mark ceiling").
  On this machine the database is the binding one.
- latency: a separate process commits one row per transaction at a steady 500/s; each
  event's latency is the broker's append time (the topic uses LogAppendTime, 1 ms
  resolution) minus the moment its COMMIT was sent.
- baseline: the same code configured as the naive relay (batch 1, one batch in flight, no
  NOTIFY, 1 s polling), on a smaller backlog and at the same 500/s.

``ratio`` is always value ÷ limit (or baseline). Everything runs on its own database
(`pos_scratch_*_bench_publisher_*`) and topics, removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

from pos.config import PROJECT_ROOT, DatabaseSettings, Settings
from pos.db.pool import create_pool
from pos.infra import kafka
from pos.order_publisher.model import BatchOutcome
from pos.order_publisher.outbox_store import OutboxStore
from pos.scratch.databases import ScratchDatabase
from pos.scratch.outbox_rows import insert_backlog, insert_rows, order_created, read_topic
from pos.scratch.processes import ServiceProcess
from pos.scratch.topics import drop_topics

STAGE = "publisher"
PARTITIONS = 6
RATE = 500  # orders/s for the latency runs
NAIVE = {
    "PUBLISHER_BATCH_SIZE": "1",
    "PUBLISHER_PIPELINE_DEPTH": "1",
    "PUBLISHER_LISTEN": "false",
    "PUBLISHER_POLL_INTERVAL": "1",
}


class PublisherBench:
    """This stage's database and topics; removes them, and any publisher left, on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.settings = Settings()  # parsed once for the stage (see pos.config)
        self.database = ScratchDatabase(self.settings.db.dsn, "bench_publisher")
        self.db_url = self.database.url
        self.kafka = self.settings.kafka
        self._topics: list[str] = []
        self._processes: list[ServiceProcess] = []

    @contextlib.contextmanager
    def up(self) -> Iterator[PublisherBench]:
        kafka.up(self.settings.kafka, self.settings.infra)
        with self.database:
            try:
                yield self
            finally:
                for p in self._processes:
                    p.kill()
                drop_topics(self.kafka, self._topics)

    def topic(self, *, append_time: bool = False) -> str:
        name = f"bench.publisher.{uuid.uuid4().hex[:8]}"
        config = {"message.timestamp.type": "LogAppendTime"} if append_time else {}
        admin = kafka.admin(self.kafka)  # kept alive until its futures are done
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=PARTITIONS, replication_factor=1, config=config)]
        )
        for future in futures.values():
            future.result(timeout=30)
        self._topics.append(name)
        kafka.ensure_topics(self.kafka, {name: PARTITIONS})  # waits for the leaders
        return name

    def publisher(self, name: str, env: dict[str, str] | None = None) -> ServiceProcess:
        """A started `pos publisher`, idle on an empty outbox."""
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute("TRUNCATE outbox")
        process = ServiceProcess(
            "publisher",
            env={
                "DATABASE_URL": self.db_url,
                "PUBLISHER_METRICS_PORT": "0",
                "LOG_LEVEL": "WARNING",
                **(env or {}),
            },
            log_dir=self.workdir,
            name=name,
        )
        self._processes.append(process.start())
        # WARNING level hides "publisher started": ready once its claim connections exist.
        process.wait_until(lambda: self._relay_connected(), timeout=60, what="connected")
        return process

    def _relay_connected(self) -> bool:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pos-publisher'"
            ).fetchone()
        return row is not None and int(str(row[0])) > 0

    def stop(self, process: ServiceProcess) -> None:
        if process.terminate() != 0:
            raise RuntimeError(f"publisher did not stop cleanly:\n{process.log()}")


def drain(bench: PublisherBench, n: int, env: dict[str, str] | None = None) -> float:
    """Events/s from committing ``n`` rows at once to the last one marked published."""
    topic = bench.topic()
    relay = bench.publisher(f"drain-{n}", env)
    events = [order_created(topic) for _ in range(n)]
    with psycopg.connect(bench.db_url) as conn:
        with conn.cursor() as cur:
            insert_rows(cur, events)
        committed = time.time()
        conn.commit()
        conn.autocommit = True
        _wait_published(conn, relay, timeout=max(120, n / 100))
        row = conn.execute("SELECT extract(epoch FROM max(published_at)) FROM outbox").fetchone()
    bench.stop(relay)
    assert row is not None
    return n / (float(str(row[0])) - committed)


def _wait_published(
    conn: psycopg.Connection[tuple[object, ...]], relay: ServiceProcess, timeout: float
) -> None:
    # Rows are claimed oldest first, so the newest is (nearly) the last one published:
    # watching it alone keeps the bench's own queries off the database while it drains.
    last = conn.execute("SELECT max(id) FROM outbox").fetchone()
    assert last is not None

    def done() -> bool:
        newest = conn.execute("SELECT published FROM outbox WHERE id = %s", last).fetchone()
        if not (newest and newest[0]):
            return False
        left = conn.execute(
            "SELECT count(*) FROM outbox WHERE NOT published AND parked_at IS NULL"
        ).fetchone()
        return left == (0,)

    relay.wait_until(done, timeout=timeout, what="drained")


def _load(db_url: str, topic: str, rate: float, seconds: float, out: str) -> None:
    """The load generator, run as its own process (`--load`) so it neither competes with
    the bench's Kafka reader for the GIL nor skews the pacing: one row per transaction at a
    steady rate; writes each event's commit time."""
    commits: dict[str, float] = {}
    with psycopg.connect(db_url) as conn:
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            ahead = start + i / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            event = order_created(topic)
            with conn.cursor() as cur:
                insert_rows(cur, [event])
            # Taken as COMMIT is sent: the commit's own flush counts against the relay, and a
            # generator descheduled after its commit cannot make a latency look negative.
            commits[str(event.event_id)] = time.time()
            conn.commit()
    Path(out).write_text(json.dumps(commits))


def latency(
    bench: PublisherBench, seconds: float, env: dict[str, str] | None = None
) -> list[float]:
    """Commit → broker append latencies (ms) of every event at RATE orders/s."""
    topic = bench.topic(append_time=True)
    relay = bench.publisher(f"latency-{len(env or {})}", env)
    out = bench.workdir / f"commits-{uuid.uuid4().hex[:6]}.json"
    load = ["--load", bench.db_url, topic, str(RATE), str(seconds), str(out)]
    subprocess.run(
        [sys.executable, "-m", "bench.publisher", *load],
        cwd=PROJECT_ROOT,
        timeout=seconds * 3 + 60,
        check=True,
    )
    with psycopg.connect(bench.db_url, autocommit=True) as conn:
        _wait_published(conn, relay, timeout=600)
    bench.stop(relay)
    commits: dict[str, float] = json.loads(out.read_text())
    records = read_topic(bench.kafka.kafka_broker, topic)
    return [r.timestamp_ms - commits[str(r.event_id)] * 1000 for r in records]


def kafka_limit(bench: PublisherBench, n: int) -> float:
    """Kafka's ProducerPerformance with our payloads and our producer settings (records/s)."""
    topic = bench.topic()
    payloads = bench.workdir / "payloads.txt"
    payloads.write_bytes(b"\n".join(order_created(topic).payload for _ in range(2000)))
    libs = bench.settings.infra.kafka_libs_dir
    kafka.ensure_jars(libs)  # the broker may be the user's own: the tool's jars come from Maven
    props = {
        "bootstrap.servers": bench.kafka.kafka_broker,
        "acks": "all",
        "enable.idempotence": "true",
        "max.in.flight.requests.per.connection": "5",
        "linger.ms": "2",
        "batch.size": "1000000",
        "compression.type": "lz4",
    }
    out = subprocess.run(
        ["java", "-Xmx512m", "-cp", f"{libs}/*", "org.apache.kafka.tools.ProducerPerformance"]
        + ["--topic", topic, "--num-records", str(n), "--throughput", "-1"]
        + ["--payload-file", str(payloads), "--producer-props"]
        + [f"{k}={v}" for k, v in props.items()],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    summary = out.strip().splitlines()[-1]
    match = re.search(r"([\d.]+) records/sec", summary)
    if not match:
        raise RuntimeError(f"unexpected ProducerPerformance output: {summary}")
    return float(match.group(1))


def produce_round_trip(bench: PublisherBench, n: int) -> list[float]:
    """One produce → ack round trip alone, one message at a time (ms): the floor under the
    relay's commit → ack latency, with the project's producer settings but no linger."""
    from confluent_kafka import Producer

    from pos.messaging.kafka import producer_config

    topic = bench.topic()
    producer = Producer(producer_config(bench.kafka, **{"linger.ms": 0}))
    payload = order_created(topic).payload
    samples: list[float] = []
    for i in range(n + 50):  # the first 50 warm the connection and the partition leaders
        started = time.perf_counter()
        producer.produce(topic, key=str(i), value=payload)
        producer.flush(10)
        if i >= 50:
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def claim_and_mark_limit(bench: PublisherBench, n: int) -> float:
    """PostgreSQL's ceiling for this relay: its own claim and mark SQL in a serial loop on
    one connection, no Kafka (the claim-and-mark ceiling); rows/s."""
    topic = bench.topic()
    with psycopg.connect(bench.db_url, autocommit=True) as conn:
        conn.execute("TRUNCATE outbox")
        insert_backlog(conn, topic, n)
    db = bench.settings.db.model_copy(update={"database_url": bench.db_url})
    return asyncio.run(_claim_and_mark(db, bench.settings.publisher.publisher_batch_size, n))


async def _claim_and_mark(db: DatabaseSettings, batch: int, n: int) -> float:
    pool = await create_pool(db, min_size=1, max_size=1)
    try:
        async with OutboxStore(pool).session() as claim:
            started = time.perf_counter()
            done = 0
            while rows := await claim.claim(batch):
                await claim.settle(BatchOutcome([r.id for r in rows], [], []))
                done += len(rows)
            elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    assert done == n
    return n / elapsed


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(quick: bool) -> list[dict[str, Any]]:
    backlog, naive_backlog = (20_000, 500) if quick else (100_000, 2_000)
    seconds = 6 if quick else 20
    with tempfile.TemporaryDirectory() as tmp, PublisherBench(Path(tmp)).up() as bench:
        limit = kafka_limit(bench, backlog * 2)
        ceiling = claim_and_mark_limit(bench, backlog)
        rates = [drain(bench, backlog) for _ in range(1 if quick else 3)]
        ours = statistics.median(rates)
        naive = drain(bench, naive_backlog, NAIVE)
        lat = latency(bench, seconds)
        naive_lat = latency(bench, seconds, NAIVE)
        alone = produce_round_trip(bench, 300 if quick else 1000)

    p50, p99 = _percentile(lat, 0.50), _percentile(lat, 0.99)
    n50, n99 = _percentile(naive_lat, 0.50), _percentile(naive_lat, 0.99)
    a50, a99 = _percentile(alone, 0.50), _percentile(alone, 0.99)
    row = {"stage": STAGE}
    return [
        {
            **row,
            "metric": f"drain rate, {backlog:,}-row backlog (median of {len(rates)})",
            "value": round(ours),
            "unit": "events/s",
            "limit": round(limit),
            "ratio": round(ours / limit, 3),
        },
        {
            **row,
            "metric": "drain rate against claim-and-mark alone (same SQL, no Kafka)",
            "value": round(ours),
            "unit": "events/s",
            "limit": round(ceiling),
            "ratio": round(ours / ceiling, 3),
        },
        {
            **row,
            "metric": "drain rate against the naive relay (batch 1, 1 s polling)",
            "value": round(ours),
            "unit": "events/s",
            "baseline": round(naive),
            "ratio": round(ours / naive, 1),
        },
        {
            **row,
            "metric": f"commit → ack latency p50 at {RATE}/s",
            "value": round(p50, 1),
            "unit": "ms",
            "limit": round(a50, 2),
            "ratio": round(p50 / a50, 2),
            "baseline": round(n50, 1),
            "baselineRatio": round(n50 / p50, 1),
            "samples_ms": lat[:: max(1, len(lat) // 2000)],
        },
        {
            **row,
            "metric": f"commit → ack latency p99 at {RATE}/s",
            "value": round(p99, 1),
            "unit": "ms",
            "limit": round(a99, 2),
            "ratio": round(p99 / a99, 2),
            "baseline": round(n99, 1),
            "baselineRatio": round(n99 / p99, 1),
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller backlog, shorter runs")
    parser.add_argument("--load", nargs=5, help=argparse.SUPPRESS)  # the load generator
    args = parser.parse_args(argv)
    if args.load:
        db_url, topic, rate, seconds, out = args.load
        _load(db_url, topic, float(rate), float(seconds), out)
        return 0
    for r in run(args.quick):
        r.pop("samples_ms", None)
        print(json.dumps(r, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
