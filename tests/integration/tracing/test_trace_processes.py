"""The services as processes, exporting over OTLP/HTTP to a receiver the test runs: one
order's spans arrive from the API, the publisher and the consumer under one trace id, in
the tree the README shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pos.config import KafkaSettings
from pos.scratch.outbox_rows import wait_until
from tests.integration.ops.pipeline import Pipeline, running_pipeline
from tests.support.devices import bearer_sync
from tests.support.otlp_receiver import OtlpReceiver, otlp_receiver
from tests.support.span_tree import SpanRecord, expected, in_trace, render

ORDER = {
    "storeId": "store-1",
    "deviceId": "till-7",
    "currency": "EUR",
    "items": [{"sku": "LATTE-L", "name": "Latte", "quantity": 2, "unitPrice": 450}],
}


@pytest.fixture
def traced(
    database_url: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> Iterator[tuple[Pipeline, OtlpReceiver]]:
    with otlp_receiver() as (receiver, url):
        # Standard variables only: the endpoint turns traces on; the processor exports
        # every 100 ms instead of every 5 s, so the test waits less for what it checks.
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with running_pipeline(database_url, kafka_settings, tmp_path, env) as pipeline:
            yield pipeline, receiver


def order_trace(receiver: OtlpReceiver, order_id: str) -> list[SpanRecord]:
    """The spans of the trace the order's intake span belongs to."""
    spans = receiver.spans
    intake = [s for s in spans if s.name == "order intake" and s.attributes["order.id"] == order_id]
    return in_trace(spans, intake[0].trace_id) if intake else []


def test_one_orders_spans_arrive_from_all_three_services_in_one_trace(
    traced: tuple[Pipeline, OtlpReceiver],
) -> None:
    pipeline, receiver = traced
    answer = httpx.post(
        f"{pipeline.api_url}/orders",
        json=ORDER,
        headers={"Idempotency-Key": "trace-one", **bearer_sync()},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    order_id = answer.json()["id"]
    topic = pipeline.env["ORDER_TOPIC"]
    want = expected(topic)

    def whole() -> bool:
        return len(order_trace(receiver, order_id)) >= len(want)

    try:
        wait_until(whole, timeout=30, what="the order's spans from every service")
    finally:
        trace = order_trace(receiver, order_id)
        print("the order's trace:", *render(trace), sep="\n")
    assert render(trace) == want
    assert {s.service for s in trace} == {"pos-api", "pos-publisher", "pos-consumer"}
