"""The four services as real subprocesses on free ports, for the fleet and auditor tests.

Own topics and an emptied database: the auditor checks the whole system, so what other
tests of the session left behind (orders with no consumer, events of deleted orders) must
not be in it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pos.config import KafkaSettings
from pos.infra import kafka
from pos.scratch.processes import ServiceProcess, free_port
from pos.scratch.topics import drop_topics


@dataclass(frozen=True)
class Pipeline:
    env: dict[str, str]
    api_url: str
    third_party_url: str
    services: dict[str, ServiceProcess]


@contextlib.contextmanager
def running_pipeline(
    database_url: str, broker: KafkaSettings, tmp: Path, extra_env: Mapping[str, str] = {}
) -> Iterator[Pipeline]:
    order_topic = f"ops.test-{uuid.uuid4().hex[:8]}"
    dlq_topic = f"{order_topic}.dlq"
    kafka.ensure_topics(broker, {order_topic: 3, dlq_topic: 1})
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE orders, order_items, idempotency_keys, outbox CASCADE")
    api_port, tp_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ORDER_TOPIC": order_topic,
        "DLQ_TOPIC": dlq_topic,
        "CONSUMER_GROUP": f"ops-test-{uuid.uuid4().hex[:8]}",
        "API_PORT": str(api_port),
        "THIRD_PARTY_URL": f"http://127.0.0.1:{tp_port}",
        "TP_STORE_PATH": str(tmp / "receipts.jsonl"),
        "PUBLISHER_METRICS_PORT": "0",
        "CONSUMER_METRICS_PORT": "0",
        "COLUMNS": "200",
        **extra_env,
    }
    logs = tmp / "logs"
    services = {
        name: ServiceProcess(name, env=env, log_dir=logs, name=name)
        for name in ("third-party", "api", "publisher", "consumer")
    }
    try:
        for service in services.values():
            service.start()
        services["third-party"].wait_http(f"http://127.0.0.1:{tp_port}/healthz")
        services["api"].wait_http(f"http://127.0.0.1:{api_port}/readyz")
        yield Pipeline(env, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{tp_port}", services)
    finally:
        for service in services.values():
            service.kill()
        drop_topics(broker, [order_topic, dlq_topic])
