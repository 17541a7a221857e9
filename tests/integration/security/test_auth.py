"""Device authentication of the order routes, in-process against the real database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import psycopg
import pytest

from pos.config import AuthSettings, KafkaSettings
from pos.order_api import metrics
from pos.security import keys, registry
from tests.support.api_client import in_process_api

DB = psycopg.Connection[tuple[object, ...]]
PROBLEMS = "https://pos.example.com/problems/"


@pytest.fixture(scope="module")
async def api(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_api() as client:
        yield client


async def issue(database_url: str, store_id: str, device_id: str) -> keys.ApiKey:
    conn = await asyncpg.connect(database_url)
    try:
        return await registry.add(conn, store_id, device_id)
    finally:
        await conn.close()


async def revoke(database_url: str, key: keys.ApiKey) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await registry.revoke_key(conn, key.key_id)
    finally:
        await conn.close()


def body(store_id: str, device_id: str) -> dict[str, Any]:
    return {
        "storeId": store_id,
        "deviceId": device_id,
        "currency": "EUR",
        "items": [{"sku": "LATTE-L", "name": "Latte", "quantity": 2, "unitPrice": 450}],
    }


def bearer(key: keys.ApiKey | str, idempotency_key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def orders_written(db: DB) -> int:
    row = db.execute("SELECT count(*) FROM orders").fetchone()
    assert row is not None
    return int(str(row[0]))


def assert_problem(response: httpx.Response, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEMS + kind


@pytest.fixture
async def device(database_url: str) -> tuple[keys.ApiKey, str, str]:
    store_id, device_id = f"s-{uuid.uuid4().hex[:8]}", "till-1"
    return await issue(database_url, store_id, device_id), store_id, device_id


def _failures(reason: str) -> float:
    value: float = metrics.AUTH_FAILURES.labels(reason)._value.get()
    return value


@pytest.mark.parametrize(
    ("authorization", "reason", "challenge"),
    [
        (None, "missing", "Bearer"),
        ("Basic dXNlcjpwYXNz", "missing", "Bearer"),
        ("Bearer not-a-key", "malformed", 'Bearer error="invalid_token"'),
        (f"Bearer {keys.generate()}", "unknown", 'Bearer error="invalid_token"'),
    ],
    ids=["none", "basic", "malformed", "unknown"],  # stable: the same on every worker
)
async def test_missing_or_bad_keys_are_401_and_counted(
    api: httpx.AsyncClient,
    db: DB,
    authorization: str | None,
    reason: str,
    challenge: str,
) -> None:
    before = _failures(reason)
    headers = {"Idempotency-Key": "k-1"}
    if authorization is not None:
        headers["Authorization"] = authorization
    for response in (
        await api.post("/orders", json=body("store-1", "till-1"), headers=headers),
        await api.get("/orders", headers=headers),
        await api.get(f"/orders/{uuid.uuid4()}", headers=headers),
    ):
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == challenge
    assert _failures(reason) == before + 3
    assert orders_written(db) == 0


async def test_a_wrong_secret_for_a_real_key_id_is_refused(
    api: httpx.AsyncClient, db: DB, device: tuple[keys.ApiKey, str, str]
) -> None:
    key, store_id, device_id = device
    good = await api.get("/orders", headers=bearer(key))  # the key id is now cached
    assert good.status_code == 200
    forged = keys.ApiKey(key.key_id, keys.generate().secret)
    before = _failures("wrong_secret")
    response = await api.post(
        "/orders", json=body(store_id, device_id), headers=bearer(forged, "k-forged")
    )
    assert_problem(response, 401, "unauthorized")
    assert _failures("wrong_secret") == before + 1
    assert orders_written(db) == 0


async def test_operations_routes_need_no_key(api: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/metrics", "/openapi.json", "/docs"):
        assert (await api.get(path)).status_code == 200, path
    scheme = (await api.get("/openapi.json")).json()["components"]["securitySchemes"]
    assert scheme["DeviceKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A device API key issued by `pos devices add --store S --device D`.",
    }


async def test_two_devices_with_one_idempotency_key_get_two_orders_and_own_replays(
    api: httpx.AsyncClient, db: DB, database_url: str
) -> None:
    store_id = f"s-{uuid.uuid4().hex[:8]}"
    first = await issue(database_url, store_id, "till-1")
    second = await issue(database_url, store_id, "till-2")
    shared = "same-key"
    a = await api.post("/orders", json=body(store_id, "till-1"), headers=bearer(first, shared))
    b = await api.post("/orders", json=body(store_id, "till-2"), headers=bearer(second, shared))
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers
    again = await api.post("/orders", json=body(store_id, "till-2"), headers=bearer(second, shared))
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == b.content
    assert orders_written(db) == 2


async def test_the_body_must_name_the_keys_device(
    api: httpx.AsyncClient, db: DB, device: tuple[keys.ApiKey, str, str]
) -> None:
    key, store_id, device_id = device
    for other in (body(store_id, "till-9"), body("store-elsewhere", device_id)):
        response = await api.post("/orders", json=other, headers=bearer(key, str(uuid.uuid4())))
        assert_problem(response, 403, "device-mismatch")
    assert orders_written(db) == 0


async def test_a_device_reads_only_its_own_stores_orders(
    api: httpx.AsyncClient, db: DB, database_url: str
) -> None:
    mine, theirs = f"s-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
    my_till = await issue(database_url, mine, "till-1")
    my_other_till = await issue(database_url, mine, "till-2")
    their_till = await issue(database_url, theirs, "till-1")
    ours = await api.post("/orders", json=body(mine, "till-2"), headers=bearer(my_other_till, "a"))
    other = await api.post("/orders", json=body(theirs, "till-1"), headers=bearer(their_till, "b"))
    ours_id, other_id = ours.json()["id"], other.json()["id"]

    assert (await api.get(f"/orders/{ours_id}", headers=bearer(my_till))).status_code == 200
    hidden = await api.get(f"/orders/{other_id}", headers=bearer(my_till))
    assert_problem(hidden, 404, "not-found")  # not 403: ids of other stores do not leak
    listed = (await api.get("/orders", headers=bearer(my_till))).json()["items"]
    assert [o["id"] for o in listed] == [ours_id]


async def test_revocation_takes_effect_after_the_cache_ttl(
    db: DB, database_url: str, device: tuple[keys.ApiKey, str, str]
) -> None:
    key, _, _ = device
    async with in_process_api(auth=AuthSettings(api_key_cache_seconds=3600)) as cached:
        assert (await cached.get("/orders", headers=bearer(key))).status_code == 200
        await revoke(database_url, key)
        # Within the TTL the verified key is not looked up again: no extra round trip.
        assert (await cached.get("/orders", headers=bearer(key))).status_code == 200
    async with in_process_api(auth=AuthSettings(api_key_cache_seconds=0)) as uncached:
        assert_problem(await uncached.get("/orders", headers=bearer(key)), 401, "unauthorized")


async def test_a_device_over_its_rate_is_told_when_to_come_back(
    db: DB, device: tuple[keys.ApiKey, str, str]
) -> None:
    key, store_id, device_id = device
    limited = AuthSettings(api_rate_limit_per_second=0.01, api_rate_limit_burst=2)
    async with in_process_api(auth=limited) as api:
        answers = [
            await api.post("/orders", json=body(store_id, device_id), headers=bearer(key, f"r{i}"))
            for i in range(3)
        ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert_problem(answers[2], 429, "rate-limited")
    assert answers[2].headers["retry-after"] == "100"
    assert orders_written(db) == 2


async def test_security_headers(
    api: httpx.AsyncClient, device: tuple[keys.ApiKey, str, str]
) -> None:
    key, _, _ = device
    order_answers = [
        await api.get("/orders", headers=bearer(key)),
        await api.get("/orders"),  # a 401 too
    ]
    for response in order_answers:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
    docs = await api.get("/docs")
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert "cache-control" not in (await api.get("/healthz")).headers
