"""Consumer stage: orders/s and event → SUCCESS latency against the simulated third party.

For third-party latencies of 0 and 50 ms and in-flight limits of 1, 16 and 256, one
`pos consumer` process (a subprocess, as in production) is measured twice:

- throughput: a backlog of orders is waiting on a fresh topic; orders/s is measured from
  the first to the last ``processed_at`` written, so start-up is not counted;
- latency: events are then produced at half that rate, and each order's time from its
  event being produced to ``processed_at`` (SUCCESS committed) gives p50/p99.

Beside each throughput: the one-at-a-time rate (in-flight 1) as the baseline, and at
50 ms Little's law, in-flight ÷ latency, as the limit no implementation can pass.
Everything runs on its own database (`pos_scratch_*_bench_consumer_*`), topics and third party.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from confluent_kafka import Producer

from pos.config import KafkaSettings, Settings
from pos.domain.events import encode_order_created
from pos.domain.orders import Item, Order, order_document
from pos.domain.status import OrderStatus
from pos.infra import kafka
from pos.messaging.kafka import make_producer
from pos.scratch.databases import ScratchDatabase
from pos.scratch.processes import ServiceProcess, free_port
from pos.scratch.topics import drop_topics

STAGE = "consumer"
LATENCIES_MS = (0, 50)
IN_FLIGHT = (1, 16, 256)


@dataclass(frozen=True)
class Case:
    latency_ms: int
    in_flight: int

    @property
    def label(self) -> str:
        return f"{self.latency_ms} ms third party, {self.in_flight} in-flight"

    @property
    def little_limit(self) -> float | None:
        """Little's law: at most in-flight calls per call duration complete per second."""
        return self.in_flight / (self.latency_ms / 1000) if self.latency_ms else None

    def expected_rate(self) -> float:
        """A guess to size the backlog (about 1.5 ms per call beside the added latency)."""
        return min(5000.0, self.in_flight / (self.latency_ms / 1000 + 0.0015))


class ConsumerBench:
    """A database, a third party and fresh topics per case; cleans everything up."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.settings = Settings()  # parsed once for the stage (see pos.config)
        self.database = ScratchDatabase(self.settings.db.dsn, "bench_consumer")
        self.db_url = self.database.url
        self.tp_port = free_port()
        self.tp_url = f"http://127.0.0.1:{self.tp_port}"
        self.third_party = ServiceProcess(
            "third-party",
            "--port",
            str(self.tp_port),
            env={"TP_STORE_PATH": str(workdir / "receipts.jsonl"), "LOG_LEVEL": "WARNING"},
            log_dir=workdir,
            name="third-party",
        )

    @contextlib.contextmanager
    def up(self) -> Iterator[ConsumerBench]:
        kafka.up(self.settings.kafka, self.settings.infra)
        with self.database:
            try:
                self.third_party.start().wait_http(self.tp_url + "/healthz")
                yield self
            finally:
                self.third_party.kill()

    @contextlib.contextmanager
    def topics(self) -> Iterator[KafkaSettings]:
        name = f"bench.consumer.{uuid.uuid4().hex[:8]}"
        settings = self.settings.kafka.model_copy(
            update={"order_topic": name, "dlq_topic": f"{name}.dlq"}
        )
        kafka.ensure_topics(settings)
        try:
            yield settings
        finally:
            drop_topics(settings, [name, settings.dlq_topic])

    def third_party_faults(self, **faults: Any) -> None:
        httpx.post(self.tp_url + "/admin/reset", timeout=10).raise_for_status()
        httpx.put(self.tp_url + "/admin/faults", json=faults, timeout=10).raise_for_status()

    def consumer(self, case: Case, topics: KafkaSettings) -> ServiceProcess:
        env = {
            "DATABASE_URL": self.db_url,
            "ORDER_TOPIC": topics.order_topic,
            "DLQ_TOPIC": topics.dlq_topic,
            "THIRD_PARTY_URL": self.tp_url,
            "CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:8]}",
            "CONSUMER_MAX_IN_FLIGHT": str(case.in_flight),
            "CONSUMER_METRICS_PORT": "0",
            "LOG_LEVEL": "WARNING",
        }
        name = f"consumer-{case.latency_ms}ms-{case.in_flight}"
        return ServiceProcess("consumer", env=env, log_dir=self.workdir, name=name)


def make_orders(conn: psycopg.Connection[Any], n: int) -> list[Order]:
    """Insert ``n`` PENDING orders with COPY, as the API would have committed them."""
    now = datetime.now(UTC)
    orders = [
        Order(
            uuid.uuid4(),
            "store-1",
            "till-1",
            "EUR",
            [Item("LATTE-L", "Latte", 2, 450)],
            OrderStatus.PENDING,
            now,
        )
        for _ in range(n)
    ]
    with conn.cursor() as cur:
        columns = "id, store_id, device_id, currency, total_amount, status, idempotency_scope,"
        with cur.copy(f"COPY orders ({columns} idempotency_key, created_at) FROM STDIN") as copy:
            for o in orders:
                copy.write_row(
                    (
                        o.id,
                        o.store_id,
                        o.device_id,
                        o.currency,
                        o.total_amount,
                        "PENDING",
                        "public",
                        str(o.id),
                        now,
                    )
                )
        items = "order_id, line_no, sku, name, quantity, unit_price"
        with cur.copy(f"COPY order_items ({items}) FROM STDIN") as copy:
            for o in orders:
                copy.write_row((o.id, 1, "LATTE-L", "Latte", 2, 450))
    return orders


def produce(
    producer: Producer, topic: str, orders: Sequence[Order], rate: float | None
) -> list[float]:
    """Produce each order's event, at ``rate`` per second or all at once; returns the
    wall-clock time each was produced. The producer is reused: a new one spends its
    first few hundred milliseconds connecting, which would show as latency."""
    produced: list[float] = []
    start = time.monotonic()
    for i, order in enumerate(orders):
        if rate is not None:
            while (ahead := start + i / rate - time.monotonic()) > 0:
                producer.poll(0)
                time.sleep(min(ahead, 0.005))
        value = encode_order_created(uuid.uuid4(), order.created_at, order_document(order))
        producer.produce(topic, key=str(order.id), value=value)
        produced.append(time.time())
    if producer.flush(60) != 0:
        raise RuntimeError("events not acknowledged by Kafka")
    return produced


def processed_at(conn: psycopg.Connection[Any], orders: Sequence[Order]) -> list[float]:
    """Epoch seconds of each order's SUCCESS, in ``orders`` order (waits for all)."""
    ids = [o.id for o in orders]
    rows = conn.execute(
        "SELECT id, extract(epoch FROM processed_at) FROM orders"
        " WHERE id = ANY(%s) AND status = 'SUCCESS'",
        (ids,),
    ).fetchall()
    if len(rows) < len(ids):
        raise LookupError(f"{len(ids) - len(rows)} orders not SUCCESS yet")
    found = {row[0]: float(row[1]) for row in rows}
    return [found[i] for i in ids]


def wait_done(
    conn: psycopg.Connection[Any], consumer: ServiceProcess, orders: Sequence[Order], within: float
) -> list[float]:
    deadline = time.monotonic() + within
    while True:
        try:
            return processed_at(conn, orders)
        except LookupError:
            if time.monotonic() > deadline or not consumer.running:
                raise RuntimeError(f"orders not delivered:\n{consumer.log()}") from None
            time.sleep(0.2)


@dataclass(frozen=True)
class Result:
    rate: float  # orders/s draining the backlog
    backlog: int
    paced_rate: float  # orders/s of the latency run
    latencies_ms: list[float]  # event produced -> SUCCESS committed, sorted

    def percentile(self, q: int) -> float:
        values = self.latencies_ms
        if len(values) < 2:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure(
    bench: ConsumerBench, conn: psycopg.Connection[Any], case: Case, seconds: float
) -> Result:
    bench.third_party_faults(latencyMs=case.latency_ms)
    backlog = make_orders(conn, max(40, int(case.expected_rate() * seconds)))
    with bench.topics() as topics:
        producer = make_producer(topics)
        produce(producer, topics.order_topic, backlog, rate=None)
        consumer = bench.consumer(case, topics).start()
        try:
            done = wait_done(conn, consumer, backlog, within=seconds * 6 + 60)
            rate = (len(done) - 1) / max(max(done) - min(done), 1e-6)
            paced_rate = max(5.0, min(rate / 2, 2000.0))
            paced = make_orders(conn, max(20, int(paced_rate * seconds)))
            produced = produce(producer, topics.order_topic, paced, rate=paced_rate)
            finished = wait_done(conn, consumer, paced, within=seconds * 6 + 60)
            if consumer.terminate(60) != 0:
                raise RuntimeError(f"consumer did not stop cleanly:\n{consumer.log()}")
        finally:
            consumer.kill()
    stats = httpx.get(bench.tp_url + "/stats", timeout=10).json()
    if stats["unique"] != len(backlog) + len(paced):
        raise RuntimeError(f"third party saw {stats} for {len(backlog) + len(paced)} orders")
    latencies = sorted((f - p) * 1000 for f, p in zip(finished, produced, strict=True))
    conn.execute("TRUNCATE orders, order_items CASCADE")
    return Result(rate, len(backlog), paced_rate, latencies)


def rows_for(case: Case, result: Result, baseline: float | None) -> list[dict[str, Any]]:
    params = {"concurrency": case.in_flight, "third_party_ms": case.latency_ms}
    throughput: dict[str, Any] = {
        "stage": STAGE,
        "metric": f"orders/s, {case.label}",
        "value": round(result.rate, 1),
        "unit": "orders/s",
        "params": {**params, "orders": result.backlog},
    }
    if case.little_limit is not None:
        throughput["limit"] = case.little_limit
    if baseline is not None:
        throughput["baseline"] = round(baseline, 1)
        throughput["ratio"] = round(result.rate / baseline, 1)
    latency = [
        {
            "stage": STAGE,
            "metric": f"event→SUCCESS p{q} at {result.paced_rate:.0f}/s, {case.label}",
            "value": round(result.percentile(q), 1),
            "unit": "ms",
            "params": params,
        }
        for q in (50, 99)
    ]
    step = max(1, len(result.latencies_ms) // 500)
    latency[0]["samples_ms"] = result.latencies_ms[::step]  # for the charts
    return [throughput, *latency]


def run(quick: bool) -> list[dict[str, Any]]:
    seconds = 3.0 if quick else 10.0
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="pos-bench-consumer-") as tmp,
        ConsumerBench(Path(tmp)).up() as bench,
        psycopg.connect(bench.db_url, autocommit=True) as conn,
    ):
        for latency_ms in LATENCIES_MS:
            baseline: float | None = None  # the one-at-a-time rate: in-flight 1 comes first
            for in_flight in IN_FLIGHT:
                case = Case(latency_ms, in_flight)
                result = measure(bench, conn, case, seconds)
                rows += rows_for(case, result, baseline)
                baseline = baseline or result.rate
                print(
                    f"  {case.label}: {result.rate:,.0f} orders/s,"
                    f" p50 {result.percentile(50):.1f} ms, p99 {result.percentile(99):.1f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    for row in run(args.quick):
        row.pop("samples_ms", None)
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
