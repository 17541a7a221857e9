"""`pos status` against the real PostgreSQL, the real broker and the real third party.

Everything it reports is set up here by hand, so the figures are known exactly: orders and
outbox rows inserted with SQL, messages produced to this test's own topics, offsets
committed for this test's own consumer group. A stopped broker is a closed local port (the
shared broker is never stopped).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from pos.config import KafkaSettings
from pos.infra import kafka
from pos.order_publisher import admin as outbox_admin
from pos.scratch.outbox_rows import insert_backlog, topic_size
from pos.scratch.processes import ServiceProcess, free_port
from pos.scratch.topics import drop_topics

Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def topics(kafka_settings: KafkaSettings) -> Iterator[tuple[str, str]]:
    """This test's own 3-partition order topic and DLQ, so watermarks are exactly known."""
    order = f"status.test-{uuid.uuid4().hex[:8]}"
    dlq = f"{order}.dlq"
    kafka.ensure_topics(kafka_settings, {order: 3, dlq: 1})
    yield order, dlq
    drop_topics(kafka_settings, [order, dlq])


@pytest.fixture
def env(database_url: str, topics: tuple[str, str]) -> dict[str, str]:
    """Every address `pos status` asks points at this test's own things or at nothing."""
    order, dlq = topics
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "ORDER_TOPIC": order,
        "DLQ_TOPIC": dlq,
        "CONSUMER_GROUP": f"status-test-{uuid.uuid4().hex[:8]}",
        "API_PORT": str(free_port()),
        "PUBLISHER_METRICS_PORT": str(free_port()),
        "CONSUMER_METRICS_PORT": str(free_port()),
        "THIRD_PARTY_URL": f"http://127.0.0.1:{free_port()}",
        "COLUMNS": "160",
    }


def pos_status(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pos.cli", "status", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def status_json(env: dict[str, str], expect_rc: int = 0) -> dict[str, Any]:
    done = pos_status(env, "--json")
    assert done.returncode == expect_rc, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def insert_orders(db: Conn, **counts: int) -> None:
    for status, n in counts.items():
        for _ in range(n):
            db.execute(
                "INSERT INTO orders (id, store_id, device_id, currency, total_amount, status,"
                " idempotency_scope, idempotency_key)"
                " VALUES (%s, 's1', 'd1', 'EUR', 900, %s, 'global', %s)",
                (uuid.uuid4(), status, uuid.uuid4().hex),
            )


def insert_outbox(
    db: Conn, n: int, *, age_seconds: int = 0, published: bool = False, parked: bool = False
) -> None:
    for _ in range(n):
        db.execute(
            "INSERT INTO outbox (event_id, aggregate_id, event_type, topic, payload, created_at,"
            " published, parked_at)"
            " VALUES (%s, %s, 'order.created', 'order.created', '\\x7b7d',"
            " now() - make_interval(secs => %s), %s, CASE WHEN %s THEN now() END)",
            (uuid.uuid4(), uuid.uuid4(), age_seconds, published, parked),
        )


def produce(topic: str, per_partition: dict[int, int]) -> None:
    producer = Producer({"bootstrap.servers": KafkaSettings().kafka_broker})
    for partition, n in per_partition.items():
        for i in range(n):
            producer.produce(topic, value=b"{}", key=str(i).encode(), partition=partition)
    assert producer.flush(15) == 0


def commit(group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit offsets for a group as a consumer that finished them would (no join needed)."""
    consumer = Consumer(
        {"bootstrap.servers": KafkaSettings().kafka_broker, "group.id": group, "log_level": 0}
    )
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
            asynchronous=False,
        )
    finally:
        consumer.close()


def test_reports_orders_outbox_lag_and_dead_letters(
    db: Conn, env: dict[str, str], topics: tuple[str, str]
) -> None:
    order_topic, dlq_topic = topics
    insert_orders(db, PENDING=3, SUCCESS=5, FAILED=2)
    db.execute("UPDATE orders SET created_at = now() - interval '1 hour' WHERE status = 'FAILED'")
    db.execute(
        "UPDATE orders SET created_at = now() - interval '300 seconds'"
        " WHERE id = (SELECT id FROM orders WHERE status = 'PENDING' LIMIT 1)"
    )
    insert_outbox(db, 4, age_seconds=90)
    insert_outbox(db, 1)
    insert_outbox(db, 6, published=True)
    insert_outbox(db, 2, parked=True)
    produce(order_topic, {0: 5, 1: 3, 2: 4})
    produce(dlq_topic, {0: 2})
    commit(env["CONSUMER_GROUP"], order_topic, {0: 2, 1: 3})

    doc = status_json(env)

    assert doc["healthy"] is True
    assert doc["orders"] == {"PENDING": 3, "SUCCESS": 5, "FAILED": 2}
    assert 300 <= doc["oldest_pending_age_seconds"] < 3600, "the oldest PENDING, not FAILED"
    outbox = doc["outbox"]
    assert (outbox["backlog"], outbox["parked"]) == (5, 2)
    assert outbox["oldest_unpublished_age_seconds"] >= 90
    lag = doc["consumer"]
    assert (lag["group"], lag["topic"]) == (env["CONSUMER_GROUP"], order_topic)
    assert lag["partitions"] == [
        {"partition": 0, "committed": 2, "end": 5, "lag": 3},
        {"partition": 1, "committed": 3, "end": 3, "lag": 0},
        {"partition": 2, "committed": None, "end": 4, "lag": 4},
    ]
    assert lag["total_lag"] == 7
    assert (lag["state"], lag["members"]) == ("empty", 0)
    assert doc["dlq"] == {"failed_orders": 2, "topic": dlq_topic, "messages": 2}
    components = {c["name"]: c for c in doc["components"]}
    assert components["postgresql"]["up"]
    assert components["kafka"]["up"]
    # Nothing listens on this test's API, worker-metrics and third-party ports.
    for name in ("api", "publisher", "consumer", "third-party"):
        assert components[name]["up"] is False, name
    assert doc["third_party"]["stats"] is None
    assert "2 outbox events are parked: they need an operator" in doc["warnings"]


def test_a_stopped_broker_shows_with_the_growing_backlog(db: Conn, env: dict[str, str]) -> None:
    broker_down = {**env, "KAFKA_BROKER": f"127.0.0.1:{free_port()}"}
    insert_outbox(db, 3, age_seconds=5)

    first = status_json(broker_down, expect_rc=3)
    insert_outbox(db, 4)
    second = status_json(broker_down, expect_rc=3)

    kafka_probe = next(c for c in second["components"] if c["name"] == "kafka")
    assert kafka_probe["up"] is False
    assert kafka_probe["detail"]
    assert second["healthy"] is False
    assert (first["outbox"]["backlog"], second["outbox"]["backlog"]) == (3, 7)
    assert second["consumer"]["partitions"] is None
    assert second["dlq"]["messages"] is None
    assert second["warnings"][0].startswith(f"Kafka is DOWN at {broker_down['KAFKA_BROKER']}")
    assert "7 events wait in the outbox" in second["warnings"][0]

    screen = pos_status(broker_down)
    assert screen.returncode == 3
    assert "DEGRADED" in screen.stdout
    assert "Kafka is DOWN" in screen.stdout

    # The broker back (the real one): healthy again, the same backlog still reported.
    recovered = status_json(env)
    assert recovered["healthy"] is True
    assert recovered["outbox"]["backlog"] == 7


def test_an_unmigrated_database_answers_but_has_no_figures(env: dict[str, str]) -> None:
    maintenance_db = env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    doc = status_json({**env, "DATABASE_URL": maintenance_db}, expect_rc=3)
    postgres = next(c for c in doc["components"] if c["name"] == "postgresql")
    assert postgres["up"] is True
    assert 'relation "orders" does not exist' in postgres["detail"]
    assert (doc["orders"], doc["outbox"]) == (None, None)
    assert "`pos migrate`" in doc["warnings"][0]


def test_a_database_that_does_not_answer(env: dict[str, str]) -> None:
    closed = f"postgresql://postgres:secret-pw@127.0.0.1:{free_port()}/posdb"
    doc = status_json({**env, "DATABASE_URL": closed}, expect_rc=3)
    postgres = next(c for c in doc["components"] if c["name"] == "postgresql")
    assert postgres["up"] is False
    assert "secret-pw" not in json.dumps(doc)
    assert doc["warnings"][0].startswith("PostgreSQL is DOWN")


def test_outage_and_recovery_under_the_real_publisher(
    db: Conn, env: dict[str, str], topics: tuple[str, str], tmp_path: Path
) -> None:
    """The broker "stops" (the relay and `pos status` point at a closed port), the backlog
    grows while orders keep coming; it "returns" (both point at the real broker again) and
    the relay drains it: `pos status` shows each stage."""
    order_topic, _ = topics
    metrics = f"http://127.0.0.1:{env['PUBLISHER_METRICS_PORT']}/metrics"
    stopped = {
        **env,
        "KAFKA_BROKER": f"127.0.0.1:{free_port()}",
        "PUBLISHER_DELIVERY_TIMEOUT_MS": "1000",
    }
    with ServiceProcess("publisher", env=stopped, log_dir=tmp_path, name="relay-outage") as relay:
        relay.wait_http(metrics)
        insert_backlog(db, order_topic, 3)
        relay.wait_until(
            lambda: outbox_admin.broker_available(metrics) is False, what="backing off"
        )
        during = status_json(stopped, expect_rc=3)
        insert_backlog(db, order_topic, 4)
        later = status_json(stopped, expect_rc=3)

    components = {c["name"]: c for c in later["components"]}
    assert components["kafka"]["up"] is False
    assert components["publisher"]["up"] is True
    assert "does not acknowledge" in components["publisher"]["detail"]
    assert (during["outbox"]["backlog"], later["outbox"]["backlog"]) == (3, 7)
    assert "7 events wait in the outbox" in later["warnings"][0]

    with ServiceProcess("publisher", env=env, log_dir=tmp_path, name="relay-back") as relay:
        relay.wait_http(metrics)
        relay.wait_until(
            lambda: status_json(env)["outbox"]["backlog"] == 0, timeout=60, what="drained"
        )
        recovered = status_json(env)
    assert recovered["healthy"] is True
    assert recovered["outbox"]["oldest_unpublished_age_seconds"] is None
    assert sum(p["end"] for p in recovered["consumer"]["partitions"]) == 7
    assert topic_size(KafkaSettings().kafka_broker, order_topic) == 7


def test_third_party_stats_and_error_rate(env: dict[str, str], tmp_path: Path) -> None:
    port = int(env["THIRD_PARTY_URL"].rsplit(":", 1)[1])
    tp_env = {**env, "TP_STORE_PATH": str(tmp_path / "receipts.jsonl")}
    with ServiceProcess(
        "third-party", "--port", str(port), env=tp_env, log_dir=tmp_path, name="third-party"
    ) as third_party:
        base = env["THIRD_PARTY_URL"]
        third_party.wait_http(f"{base}/healthz")
        a, b, c = (str(uuid.uuid4()) for _ in range(3))
        for key in (a, a, b):
            httpx.post(f"{base}/orders", headers={"Idempotency-Key": key}, json={"id": key})
        httpx.put(f"{base}/admin/faults", json={"errorRate": 1.0}).raise_for_status()
        failed = httpx.post(f"{base}/orders", headers={"Idempotency-Key": c}, json={"id": c})
        assert failed.status_code == 503

        doc = status_json(env)

    view = doc["third_party"]
    assert view["url"] == base
    assert {k: view["stats"][k] for k in ("received", "unique", "duplicates", "errors")} == {
        "received": 4,
        "unique": 2,
        "duplicates": 1,
        "errors": 1,
    }
    assert view["error_rate"] == pytest.approx(0.25)
    assert next(c for c in doc["components"] if c["name"] == "third-party")["up"] is True


def test_watch_streams_json_lines_until_interrupted(env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pos.cli", "status", "--json", "--watch"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first, second = json.loads(proc.stdout.readline()), json.loads(proc.stdout.readline())
        assert second["taken_at"] > first["taken_at"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
