"""Every error is problem+json with a request id, and none carries a trace or SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest

from pos.config import ApiSettings
from tests.integration.order_api.conftest import ApiClientFactory, counts, new_key, order_body
from tests.support.devices import bearer

DB = psycopg.Connection[tuple[object, ...]]
PROBLEMS = "https://pos.example.com/problems/"


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert problem["type"] == PROBLEMS + kind
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert problem["instance"] == response.request.url.path
    assert problem["requestId"] == response.headers["x-request-id"]
    return problem


@pytest.mark.parametrize("key", [None, "", "k" * 256, "caf\u00e9".encode(), b"tab\there"], ids=repr)
async def test_missing_or_malformed_key_is_400(
    api: httpx.AsyncClient, db: DB, key: str | bytes | None
) -> None:
    headers = {} if key is None else {"Idempotency-Key": key}
    response = await api.post("/orders", json=order_body(), headers=headers)
    assert_problem(response, 400, "invalid-idempotency-key")
    assert counts(db)["orders"] == 0


async def test_malformed_json_is_400(api: httpx.AsyncClient, db: DB) -> None:
    response = await api.post(
        "/orders",
        content=b'{"storeId": ',
        headers={"Idempotency-Key": new_key(), "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "malformed-json")


async def test_validation_errors_list_every_field(api: httpx.AsyncClient, db: DB) -> None:
    body = order_body(
        currency="XXX",
        items=[{"sku": "A", "name": "A", "quantity": 1.5, "unitPrice": True, "discount": 1}],
    )
    response = await api.post("/orders", json=body, headers={"Idempotency-Key": new_key()})
    problem = assert_problem(response, 422, "validation-error")
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert {e["field"] for e in errors} == {
        "currency",
        "items[0].quantity",
        "items[0].unitPrice",
        "items[0].discount",
    }
    assert all(e["location"] == "body" and e["message"] and e["type"] for e in errors)
    assert counts(db)["orders"] == 0


async def test_unknown_route_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/nowhere"), 404, "not-found")


async def test_wrong_method_is_405_naming_the_allowed_ones(api: httpx.AsyncClient) -> None:
    response = await api.delete("/orders")
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET, POST"


@pytest.fixture(scope="module")
async def small_api(api_factory: ApiClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with api_factory(max_body_bytes=2048) as client:
        yield client


async def test_a_declared_oversized_body_is_413_before_reading(
    small_api: httpx.AsyncClient, db: DB
) -> None:
    body = order_body(items=[{"sku": "X", "name": "n" * 100, "quantity": 1, "unitPrice": 1}] * 30)
    response = await small_api.post("/orders", json=body, headers={"Idempotency-Key": new_key()})
    assert_problem(response, 413, "payload-too-large")
    assert counts(db)["orders"] == 0


async def test_a_streamed_oversized_body_is_413_too(small_api: httpx.AsyncClient, db: DB) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000  # whitespace: valid JSON padding, only the size is wrong

    response = await small_api.post(
        "/orders",
        content=chunks(),
        headers={"Idempotency-Key": new_key(), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers  # chunked, no declared size
    assert_problem(response, 413, "payload-too-large")


async def test_a_streamed_body_within_the_limit_is_served(
    small_api: httpx.AsyncClient, db: DB
) -> None:
    raw = httpx.Request("POST", "/", json=order_body()).content

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(raw), 16):
            yield raw[i : i + 16]

    response = await small_api.post(
        "/orders",
        content=chunks(),
        headers={"Idempotency-Key": new_key(), "Content-Type": "application/json"},
    )
    assert response.status_code == 201


@pytest.fixture
def failing_inserts(db: DB) -> Iterator[str]:
    """A real database error on insert, for orders of one store: the unexpected case."""
    db.execute("ALTER TABLE orders ADD CONSTRAINT test_refuse CHECK (store_id <> 'explode')")
    yield "explode"
    db.execute("ALTER TABLE orders DROP CONSTRAINT test_refuse")


async def test_an_unexpected_error_is_a_generic_500_without_internals(
    api: httpx.AsyncClient, db: DB, failing_inserts: str
) -> None:
    response = await api.post(
        "/orders",
        json=order_body(storeId=failing_inserts),
        headers={
            "Idempotency-Key": new_key(),
            "X-Request-ID": "req-500",
            **await bearer(failing_inserts, "till-7"),
        },
    )
    problem = assert_problem(response, 500, "internal-error")
    assert problem["requestId"] == "req-500"
    text = response.text.lower()
    for leak in ("test_refuse", "constraint", "traceback", "insert", "asyncpg", "explode"):
        assert leak not in text
    assert counts(db)["orders"] == 0
    healthy = await api.post("/orders", json=order_body(), headers={"Idempotency-Key": new_key()})
    assert healthy.status_code == 201


async def test_every_answer_carries_a_request_id(api: httpx.AsyncClient) -> None:
    for response in (
        await api.get("/healthz"),
        await api.get("/nowhere"),
        await api.get("/orders/x", headers={"X-Request-ID": "mine-1"}),
    ):
        assert response.headers["x-request-id"]
    assert response.headers["x-request-id"] == "mine-1"


def test_default_body_limit_is_256_kib() -> None:
    assert ApiSettings().max_body_bytes == 256 * 1024
