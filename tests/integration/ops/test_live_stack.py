"""The four services running for real: `pos status` sees each of them answer, and every
metric the Grafana dashboard queries is exposed by the live services (not only declared).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pos.config import PROJECT_ROOT, KafkaSettings
from pos.infra import kafka
from pos.scratch.outbox_rows import wait_until
from pos.scratch.processes import ServiceProcess, free_port
from pos.scratch.topics import drop_topics
from tests.integration.ops.test_status import status_json
from tests.support.devices import bearer_sync

DASHBOARD = PROJECT_ROOT / "monitoring" / "grafana" / "dashboards" / "pos-orders.json"
ORDER = {
    "storeId": "store-1",
    "deviceId": "till-7",
    "currency": "EUR",
    "items": [{"sku": "LATTE-L", "name": "Latte", "quantity": 2, "unitPrice": 450}],
}


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]
    api: str
    metrics: dict[str, str]  # service -> its /metrics URL
    services: dict[str, ServiceProcess]


@pytest.fixture
def stack(
    db: psycopg.Connection[tuple[object, ...]],
    database_url: str,
    kafka_settings: KafkaSettings,
    tmp_path: Path,
) -> Iterator[Stack]:
    """The four services as processes over an emptied database (`pos status` counts all)."""
    order_topic = f"live.test-{uuid.uuid4().hex[:8]}"
    dlq_topic = f"{order_topic}.dlq"
    kafka.ensure_topics(kafka_settings, {order_topic: 3, dlq_topic: 1})
    ports = {name: free_port() for name in ("api", "third-party", "publisher", "consumer")}
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ORDER_TOPIC": order_topic,
        "DLQ_TOPIC": dlq_topic,
        "CONSUMER_GROUP": f"live-test-{uuid.uuid4().hex[:8]}",
        "API_PORT": str(ports["api"]),
        "THIRD_PARTY_URL": f"http://127.0.0.1:{ports['third-party']}",
        "TP_STORE_PATH": str(tmp_path / "receipts.jsonl"),
        "PUBLISHER_METRICS_PORT": str(ports["publisher"]),
        "CONSUMER_METRICS_PORT": str(ports["consumer"]),
        # DEBUG adds one line per order in each service: what lets one grep follow it.
        "LOG_LEVEL": "DEBUG",
    }
    api = f"http://127.0.0.1:{ports['api']}"
    metrics = {
        "api": f"{api}/metrics",
        "publisher": f"http://127.0.0.1:{ports['publisher']}/metrics",
        "consumer": f"http://127.0.0.1:{ports['consumer']}/metrics",
    }
    services = [
        ServiceProcess(name, env=env, log_dir=tmp_path, name=name)
        for name in ("third-party", "api", "publisher", "consumer")
    ]
    try:
        for service in services:
            service.start()
        services[0].wait_http(f"{env['THIRD_PARTY_URL']}/healthz")
        services[1].wait_http(f"{api}/readyz")
        services[2].wait_http(metrics["publisher"])
        services[3].wait_http(metrics["consumer"])
        yield Stack(env, api, metrics, {s.name: s for s in services})
    finally:
        for service in services:
            service.kill()
        drop_topics(kafka_settings, [order_topic, dlq_topic])


def _families(url: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(httpx.get(url).text)}


def _family(series: str) -> str:
    """The family a queried series belongs to (prometheus_client's family naming)."""
    return re.sub(r"_(total|bucket|sum|count|created)$", "", series)


def test_status_sees_every_service_and_the_dashboard_metrics_are_live(stack: Stack) -> None:
    auth = bearer_sync()
    created = httpx.post(
        f"{stack.api}/orders", json=ORDER, headers={"Idempotency-Key": uuid.uuid4().hex, **auth}
    )
    assert created.status_code == 201, created.text
    order_url = f"{stack.api}/orders/{created.json()['id']}"
    wait_until(
        lambda: httpx.get(order_url, headers=auth).json()["status"] == "SUCCESS",
        timeout=30,
        what="SUCCESS",
    )

    doc = status_json(stack.env)
    assert {c["name"]: c["up"] for c in doc["components"]} == {
        "postgresql": True,
        "kafka": True,
        "api": True,
        "publisher": True,
        "consumer": True,
        "third-party": True,
    }
    assert doc["orders"]["SUCCESS"] == 1
    assert doc["outbox"]["backlog"] == 0
    assert doc["third_party"]["stats"]["unique"] == 1

    exposed = set().union(*(_families(url) for url in stack.metrics.values()))
    queried = {
        _family(name)
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bpos_[a-z0-9_]+", target["expr"])
    }
    assert queried <= exposed, f"queried but not exposed: {sorted(queried - exposed)}"


def _lines_about(service: ServiceProcess, order_id: str) -> list[dict[str, object]]:
    lines = []
    for raw in service.log_path.read_text(errors="replace").splitlines():
        if order_id in raw and raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_one_order_is_followed_by_its_id_through_all_three_services(stack: Stack) -> None:
    """The request id the API gave the order travels in the outbox row and the Kafka
    headers, so every service's line about the order carries the same request id and the
    relay and consumer lines the same W3C traceparent."""
    auth = bearer_sync()
    created = httpx.post(
        f"{stack.api}/orders", json=ORDER, headers={"Idempotency-Key": uuid.uuid4().hex, **auth}
    )
    assert created.status_code == 201, created.text
    order_id, request_id = created.json()["id"], created.headers["x-request-id"]
    wait_until(
        lambda: (
            httpx.get(f"{stack.api}/orders/{order_id}", headers=auth).json()["status"] == "SUCCESS"
        ),
        timeout=30,
        what="SUCCESS",
    )
    names = ("api", "publisher", "consumer")
    found: dict[str, list[dict[str, object]]] = {}

    def every_service_logged_it() -> bool:
        found.update({name: _lines_about(stack.services[name], order_id) for name in names})
        return all(found.values())

    wait_until(every_service_logged_it, timeout=10, what="a line about the order everywhere")
    events = {name: [line["event"] for line in lines] for name, lines in found.items()}
    assert "order accepted" in events["api"]
    assert "event published" in events["publisher"]
    assert "order delivered" in events["consumer"]
    for lines in found.values():
        assert {line.get("request_id") for line in lines} == {request_id}
    traceparents = {line.get("traceparent") for line in found["publisher"] + found["consumer"]}
    assert len(traceparents) == 1
    assert None not in traceparents
