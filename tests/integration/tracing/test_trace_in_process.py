"""One order, one trace: the API, the relay and the consumer in this process, recording into
the SDK's in-memory exporter, against the real PostgreSQL and Kafka.

The third party is a small HTTP server of the test's own that keeps the headers it was
sent, to check the ``traceparent`` it gets names the consumer's call span.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from aiohttp import web
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pos import tracing
from pos.config import KafkaSettings
from pos.scratch.processes import free_port
from pos.scratch.topics import own_topics
from tests.integration.order_api.conftest import new_key, order_body
from tests.integration.order_consumer.support import eventually, running_consumer
from tests.integration.order_publisher.conftest import InProcessRelay
from tests.support.api_client import in_process_api
from tests.support.devices import bearer
from tests.support.span_tree import SpanRecord, expected, in_trace, render


def record(span: ReadableSpan) -> SpanRecord:
    ctx = span.context
    assert ctx is not None
    return SpanRecord(
        name=span.name,
        service=str(span.resource.attributes.get("service.name")),
        trace_id=f"{ctx.trace_id:032x}",
        span_id=f"{ctx.span_id:016x}",
        parent_id=f"{span.parent.span_id:016x}" if span.parent is not None else None,
        start_ns=span.start_time or 0,
        attributes=dict(span.attributes or {}),
    )


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process, into memory; off again afterwards."""
    exporter = InMemorySpanExporter()
    tracing.install("pos-test", SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.shutdown()


@pytest.fixture
def topic(kafka_settings: KafkaSettings) -> Iterator[KafkaSettings]:
    """A topic of this test's own, so no other test's events reach its consumer."""
    with own_topics(kafka_settings, "test.tracing", partitions=1) as settings:
        yield settings


@contextlib.asynccontextmanager
async def third_party(seen: list[dict[str, str]], failures: int) -> AsyncIterator[str]:
    """Answers the first ``failures`` calls with 503, then accepts; keeps every call's
    headers in ``seen``."""

    async def accept(request: web.Request) -> web.Response:
        seen.append({k.lower(): v for k, v in request.headers.items()})
        if len(seen) <= failures:
            return web.json_response({"title": "busy"}, status=503)
        return web.json_response({"receiptRef": f"r-{len(seen)}"}, status=201)

    app = web.Application()
    app.router.add_post("/orders", accept)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def one_order(
    spans: InMemorySpanExporter | None,
    topic: KafkaSettings,
    database_url: str,
    *,
    failures: int = 0,
    headers: dict[str, str] | None = None,
) -> tuple[str, list[SpanRecord], list[dict[str, str]]]:
    """POST one order with API, relay and consumer running here; returns its id, the
    spans of its trace once the consumer is done with it (none when ``spans`` is None:
    traces off), and the headers of the third party's calls."""
    seen: list[dict[str, str]] = []
    relay = InProcessRelay(database_url, topic)
    try:
        async with (
            third_party(seen, failures) as url,
            running_consumer(topic, url),
            in_process_api(kafka=topic) as client,
        ):
            answer = await client.post(
                "/orders",
                json=order_body(),
                headers={"Idempotency-Key": new_key(), **(headers or {}), **await bearer()},
            )
            assert answer.status_code == 201, answer.text
            if spans is None:
                await eventually(lambda: len(seen) > failures, what="the third party called")
                return answer.json()["id"], [], seen
            await eventually(
                lambda: any(s.name.startswith("process") for s in spans.get_finished_spans()),
                what="the processing span ended",
            )
    finally:
        await relay.close()
    records = [record(s) for s in spans.get_finished_spans()]
    server = next(r for r in records if r.name == "POST /orders" and r.parent_id is None)
    return answer.json()["id"], in_trace(records, server.trace_id), seen


async def test_one_order_is_one_trace_from_request_to_third_party(
    spans: InMemorySpanExporter,
    topic: KafkaSettings,
    database_url: str,
    db: psycopg.Connection[tuple[Any, ...]],
) -> None:
    order_id, trace, seen = await one_order(spans, topic, database_url)
    (server,) = [r for r in trace if r.parent_id is None]
    # One process, one provider: every span says pos-test; the names and links are the point.
    assert render(trace, services=False) == expected(topic.order_topic, services=False)

    by_name = {r.name: r for r in trace if r.parent_id is not None}
    intake, send = by_name["order intake"], by_name[f"send {topic.order_topic}"]
    process = by_name[f"process {topic.order_topic}"]
    call = next(r for r in trace if r.name == "POST /orders" and r.parent_id == process.span_id)
    event_id = str(db.execute("SELECT event_id FROM outbox").fetchone()[0])  # type: ignore[index]
    for span in (intake, send, process):
        assert span.attributes["order.id"] == order_id
        assert span.attributes["event.id"] == event_id
    assert send.attributes["messaging.destination.name"] == topic.order_topic
    assert process.attributes["messaging.system"] == "kafka"
    assert call.attributes["http.response.status_code"] == 201
    # The outbox row names the intake span; the third party was told the call span.
    row = db.execute("SELECT headers ->> 'traceparent' FROM outbox").fetchone()
    assert row is not None
    assert parent_named(row[0]) == (server.trace_id, intake.span_id)
    assert parent_named(seen[0]["traceparent"]) == (server.trace_id, call.span_id)


async def test_each_attempt_is_a_call_span_and_tells_the_third_party_its_own(
    spans: InMemorySpanExporter,
    topic: KafkaSettings,
    database_url: str,
    db: psycopg.Connection[tuple[Any, ...]],
) -> None:
    _, trace, seen = await one_order(spans, topic, database_url, failures=1)
    (process,) = [r for r in trace if r.name.startswith("process ")]
    calls = sorted(
        (r for r in trace if r.parent_id == process.span_id and r.name == "POST /orders"),
        key=lambda r: r.start_ns,
    )
    assert [c.attributes["http.response.status_code"] for c in calls] == [503, 201]
    assert [parent_named(h["traceparent"])[1] for h in seen] == [c.span_id for c in calls]


def parent_named(traceparent: str) -> tuple[str, str]:
    """(trace id, parent span id) of a W3C ``traceparent``."""
    _version, trace_id, span_id, _flags = traceparent.split("-")
    return trace_id, span_id


async def test_off_the_traceparent_travels_as_before(
    topic: KafkaSettings, database_url: str, db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    """Off (the default), nothing is recorded: the API continues the caller's trace in the
    outbox row, and the relay and the consumer pass that on to the third party as is."""
    assert not tracing.enabled()
    caller = f"00-{'ab' * 16}-{'cd' * 8}-01"
    _, _, seen = await one_order(None, topic, database_url, headers={"traceparent": caller})
    row = db.execute("SELECT headers ->> 'traceparent' FROM outbox").fetchone()
    assert row is not None
    trace_id, span_id = parent_named(row[0])
    assert trace_id == "ab" * 16
    assert span_id != "cd" * 8
    assert seen[0]["traceparent"] == row[0]
