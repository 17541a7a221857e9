"""The published event contract holds for what the publisher really produces.

Orders go in through the API, the relay publishes them, and every record read back from
Kafka is checked against the committed JSON Schema (formats included) and the headers
the AsyncAPI document promises. A change to the event that the documents do not follow
fails here.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import orjson
import yaml

from pos.config import ApiSettings, AuthSettings, DatabaseSettings, KafkaSettings
from pos.order_api.app import create_app
from pos.scratch.outbox_rows import read_topic, topic_size
from tests.integration.order_api.conftest import new_key, order_body
from tests.integration.order_publisher.conftest import InProcessRelay, new_topic
from tests.support.devices import bearer

MESSAGING = Path(__file__).resolve().parents[3] / "src" / "pos" / "messaging"
SCHEMA = MESSAGING / "schemas" / "order.created.schema.json"
ASYNCAPI = MESSAGING / "asyncapi.yaml"


def _asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(ASYNCAPI.read_text())
    return document


def _validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for(schema, validate_formats=True)


@contextlib.asynccontextmanager
async def _api(kafka: KafkaSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api=ApiSettings(), db=DatabaseSettings(), kafka=kafka, auth=AuthSettings())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://api.test",
            headers=await bearer(),
        ) as client,
    ):
        yield client


def test_the_asyncapi_document_names_both_topics_and_the_schema() -> None:
    document = _asyncapi()
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    fields = KafkaSettings.model_fields  # the defaults: a test session sets its own topics
    assert addresses == {fields["order_topic"].default, fields["dlq_topic"].default}
    payload = document["components"]["messages"]["orderCreated"]["payload"]["$ref"]
    assert (ASYNCAPI.parent / payload).resolve() == SCHEMA.resolve()
    schema = orjson.loads(SCHEMA.read_bytes())
    assert schema["properties"]["schemaVersion"]["const"] == 1


async def test_published_events_follow_the_schema_and_headers(
    database_url: str, kafka_settings: KafkaSettings
) -> None:
    topic = new_topic(kafka_settings)
    kafka = kafka_settings.model_copy(update={"order_topic": topic})
    async with _api(kafka) as api:
        created = []
        for sku in ("LATTE-L", "TEA"):
            body = order_body(items=[{"sku": sku, "name": sku, "quantity": 1, "unitPrice": 1}])
            response = await api.post("/orders", json=body, headers={"Idempotency-Key": new_key()})
            assert response.status_code == 201, response.text
            created.append(response.json())
    relay = InProcessRelay(database_url, kafka_settings)
    try:
        await relay.wait_until(
            lambda: topic_size(kafka_settings.kafka_broker, topic) >= len(created),
            within=60,
            what="both events published",
        )
    finally:
        await relay.close()
    records = await asyncio.to_thread(read_topic, kafka_settings.kafka_broker, topic)
    assert len(records) == len(created)

    payload = _validator(orjson.loads(SCHEMA.read_bytes()))
    headers = _validator(_asyncapi()["components"]["schemas"]["eventHeaders"])
    by_id = {order["id"]: order for order in created}
    for record in records:
        event = orjson.loads(record.value)
        errors = [e.message for e in payload.iter_errors(event)]
        assert errors == [], errors
        assert headers.is_valid({k: v.decode() for k, v in record.headers.items()})
        assert record.key.decode() == event["order"]["id"]
        assert record.event_id == uuid.UUID(event["eventId"])
        # The event carries the order exactly as the API answered it.
        assert event["order"] == by_id.pop(event["order"]["id"])
        assert len(event["occurredAt"]) == len(event["order"]["createdAt"]) == 24


def test_the_schema_refuses_what_it_should() -> None:
    """A schema that accepted anything would make the test above pass vacuously."""
    payload = _validator(orjson.loads(SCHEMA.read_bytes()))
    good = {
        "eventId": str(uuid.uuid4()),
        "type": "order.created",
        "schemaVersion": 1,
        "occurredAt": "2026-11-25T12:00:00.123Z",
        "order": {
            **order_body(),
            "id": str(uuid.uuid4()),
            "totalAmount": 1150,
            "status": "PENDING",
            "createdAt": "2026-11-25T12:00:00.123Z",
            "processedAt": None,
        },
    }
    assert payload.is_valid(good)
    assert payload.is_valid({k: v for k, v in good.items() if k != "schemaVersion"})
    for broken in (
        {**good, "eventId": "not-a-uuid"},
        {**good, "occurredAt": "2026-11-25T12:00:00Z"},  # no milliseconds
        {**good, "occurredAt": "2026-11-25T12:00:00.123456+00:00"},
        {**good, "schemaVersion": 2},
        {**good, "order": {**good["order"], "totalAmount": 1.5}},
    ):
        assert not payload.is_valid(broken), broken
