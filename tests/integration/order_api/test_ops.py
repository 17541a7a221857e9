"""Probes, metrics and the OpenAPI document."""

from __future__ import annotations

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from pos.config import ApiSettings, AuthSettings, DatabaseSettings, KafkaSettings
from pos.order_api.app import create_app
from pos.scratch.processes import free_port
from tests.integration.order_api.conftest import new_key, order_body

DB = psycopg.Connection[tuple[object, ...]]


async def test_healthz(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_when_database_and_kafka_answer(api: httpx.AsyncClient) -> None:
    response = await api.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "kafka": "ok"}}


async def test_readyz_is_a_503_problem_when_kafka_is_unreachable(database_url: str) -> None:
    nobody = KafkaSettings(kafka_broker=f"127.0.0.1:{free_port()}")
    app = create_app(
        api=ApiSettings(readiness_timeout_seconds=0.5),
        db=DatabaseSettings(),
        kafka=nobody,
        auth=AuthSettings(),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://pos.example.com/problems/not-ready"
    assert problem["checks"]["database"] == "ok"
    assert problem["checks"]["kafka"] != "ok"
    assert "kafka" in problem["detail"]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_requests_latency_replays_and_conflicts(
    api: httpx.AsyncClient, db: DB
) -> None:
    before = _samples((await api.get("/metrics")).text)
    key = new_key()
    await api.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
    await api.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
    await api.post("/orders", json=order_body(currency="USD"), headers={"Idempotency-Key": key})
    await api.get("/orders/00000000-0000-0000-0000-000000000000")
    await api.get("/no/such/path")
    metrics = await api.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    after = _samples(metrics.text)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    requests = "pos_api_requests_total"
    assert delta(requests, method="POST", route="/orders", status="201") == 2
    assert delta(requests, method="POST", route="/orders", status="422") == 1
    assert delta(requests, method="GET", route="/orders/{order_id}", status="404") == 1
    assert delta(requests, method="GET", route="<unmatched>", status="404") == 1
    latency = "pos_api_request_duration_seconds_count"
    assert delta(latency, method="POST", route="/orders") == 3
    assert delta("pos_api_orders_created_total") == 1
    assert delta("pos_api_idempotent_replays_total") == 1
    assert delta("pos_api_idempotency_conflicts_total", reason="body_mismatch") == 1
    assert ("pos_api_idempotency_keys_deleted_total", ()) in after


async def test_openapi_documents_the_key_and_every_error(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    create = document["paths"]["/orders"]["post"]
    [key] = [p for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header"
    assert key["required"] is True
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)
    assert {"201", "400", "409", "413", "422", "500"} <= set(create["responses"])
    for status in ("400", "409", "413", "422", "500"):
        assert "application/problem+json" in create["responses"][status]["content"]
    assert "Idempotent-Replayed" in create["responses"]["201"]["headers"]
    assert "Retry-After" in create["responses"]["409"]["headers"]
    descriptions = " ".join(r["description"] for r in create["responses"].values())
    for kind in ("idempotency-key-in-flight", "idempotency-key-expired", "idempotency-key-reused"):
        assert kind in descriptions
    assert "404" in document["paths"]["/orders/{order_id}"]["get"]["responses"]
    assert "503" in document["paths"]["/readyz"]["get"]["responses"]
    schemas = document["components"]["schemas"]
    assert schemas["OrderIn"]["additionalProperties"] is False
    assert schemas["ItemIn"]["properties"]["quantity"]["maximum"] == 10_000
    docs = await api.get("/docs")
    assert docs.status_code == 200
