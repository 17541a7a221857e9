"""Idempotency under retries, races, locks and expiry: one order per key, ever."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import httpx
import psycopg
import pytest

from pos.config import ApiSettings, DatabaseSettings
from pos.domain.fingerprint import fingerprint
from pos.order_api.cleanup import purge_expired
from pos.order_api.database import create_api_pool
from pos.order_api.metrics import ApiMetrics
from pos.order_api.store import IntakeStore
from tests.integration.order_api.conftest import ApiClientFactory, counts, new_key, order_body

DB = psycopg.Connection[tuple[object, ...]]
PROBLEMS = "https://pos.example.com/problems/"


async def test_same_key_same_body_replays_the_first_answer_byte_for_byte(
    api: httpx.AsyncClient, db: DB
) -> None:
    key = new_key()
    first = await api.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
    replays = [
        await api.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
        for _ in range(3)
    ]
    for replay in replays:
        assert replay.status_code == first.status_code == 201
        assert replay.content == first.content
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.headers["location"] == first.headers["location"]
    assert counts(db) == {"orders": 1, "order_items": 2, "outbox": 1, "idempotency_keys": 1}


async def test_same_key_other_body_is_refused_and_writes_nothing(
    api: httpx.AsyncClient, db: DB
) -> None:
    key = new_key()
    await api.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
    before = counts(db)
    other = await api.post(
        "/orders", json=order_body(currency="USD"), headers={"Idempotency-Key": key}
    )
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"] == PROBLEMS + "idempotency-key-reused"
    assert counts(db) == before
    # The refused request did not touch the stored answer either.
    again = await api.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"


async def test_fifty_racing_requests_make_one_order(api: httpx.AsyncClient, db: DB) -> None:
    key = new_key()
    responses = await asyncio.gather(
        *(
            api.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
            for _ in range(50)
        )
    )
    kinds = Counter(
        "created"
        if r.status_code == 201 and "idempotent-replayed" not in r.headers
        else "replayed"
        if r.status_code == 201
        else r.status_code
        for r in responses
    )
    assert kinds["created"] == 1
    assert set(kinds) <= {"created", "replayed", 409}, kinds
    created = next(r for r in responses if "idempotent-replayed" not in r.headers)
    assert all(r.content == created.content for r in responses if r.status_code == 201)
    assert counts(db) == {"orders": 1, "order_items": 2, "outbox": 1, "idempotency_keys": 1}


async def _wait_until_blocked(db: DB) -> None:
    for _ in range(400):
        row = db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pos-api' "
            "AND datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        if row and row[0]:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the request never waited for the first one")


async def test_a_request_racing_the_first_one_waits_for_its_commit_and_replays(
    api: httpx.AsyncClient, db: DB, database_url: str
) -> None:
    key = new_key()
    order_id = uuid.uuid4()
    with psycopg.connect(database_url) as first:
        # The first request, mid-flight: its record is written but not yet committed.
        first.execute(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, order_id, status_code, "
            "response_body, expires_at) VALUES ('store-1/till-7', %s, %s, %s, 201, %s, "
            "now() + interval '1 day')",
            (key, fingerprint(order_body()), order_id, b'{"first": true}'),
        )
        second = asyncio.create_task(
            api.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
        )
        await _wait_until_blocked(db)
        first.commit()
        response = await second
    assert response.status_code == 201
    assert response.headers["idempotent-replayed"] == "true"
    assert response.content == b'{"first": true}'
    assert response.headers["location"] == f"/orders/{order_id}"
    assert counts(db)["orders"] == 0  # the second request wrote nothing


async def test_a_request_blocked_by_the_first_one_answers_409_with_retry_after(
    api_factory: ApiClientFactory, db: DB, database_url: str
) -> None:
    key = new_key()
    # An unfinished first request: its idempotency record is written but not committed.
    with psycopg.connect(database_url) as holder:
        holder.execute(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, order_id, status_code, "
            "response_body, expires_at) VALUES ('store-1/till-7', %s, '\\x00', %s, 201, '\\x00', "
            "now() + interval '1 day')",
            (key, uuid.uuid4()),
        )
        async with api_factory(idempotency_lock_timeout_ms=200) as api:
            response = await api.post(
                "/orders", json=order_body(), headers={"Idempotency-Key": key}
            )
        holder.rollback()
    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == PROBLEMS + "idempotency-key-in-flight"
    assert counts(db)["orders"] == 0
    async with api_factory() as api:
        retried = await api.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


def _expire(db: DB, key: str) -> None:
    db.execute(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = %s",
        (key,),
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_api_pool(DatabaseSettings(), ApiSettings())
    yield pool
    await pool.close()


async def test_a_key_is_never_reused_after_its_record_expires(
    api: httpx.AsyncClient, db: DB, pool: asyncpg.Pool
) -> None:
    key = new_key()
    first = await api.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
    order_id = first.json()["id"]
    _expire(db, key)

    # Expired but not swept yet, and after the sweep: the same answer either way.
    for sweep in (False, True):
        if sweep:
            assert await purge_expired(IntakeStore(pool), ApiMetrics(), batch_size=100) == 1
        for body in (order_body(), order_body(currency="USD")):
            reused = await api.post("/orders", json=body, headers={"Idempotency-Key": key})
            assert reused.status_code == 409
            problem = reused.json()
            assert problem["type"] == PROBLEMS + "idempotency-key-expired"
            assert problem["orderId"] == order_id
            assert order_id in problem["detail"]
    assert counts(db) == {"orders": 1, "order_items": 2, "outbox": 1, "idempotency_keys": 0}


async def test_cleanup_deletes_only_expired_records_in_batches(db: DB, pool: asyncpg.Pool) -> None:
    db.execute(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, order_id, status_code, "
        "response_body, expires_at) SELECT 'public', 'k' || n, '\\x00', gen_random_uuid(), "
        "201, '\\x00', now() + CASE WHEN n <= 23 THEN interval '-1 hour' ELSE interval '1 hour' "
        "END FROM generate_series(1, 30) AS n"
    )
    metrics = ApiMetrics()
    assert await purge_expired(IntakeStore(pool), metrics, batch_size=5) == 23
    assert metrics.expired_keys_deleted._value.get() == 23
    assert counts(db)["idempotency_keys"] == 7
    assert await purge_expired(IntakeStore(pool), metrics, batch_size=5) == 0


async def test_the_periodic_cleanup_runs_inside_the_api(
    api_factory: ApiClientFactory, db: DB
) -> None:
    async with api_factory(idempotency_cleanup_interval_seconds=0.05) as api:
        response = await api.post(
            "/orders", json=order_body(), headers={"Idempotency-Key": new_key()}
        )
        assert response.status_code == 201
        db.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
        for _ in range(200):
            if counts(db)["idempotency_keys"] == 0:
                break
            await asyncio.sleep(0.05)
    assert counts(db)["idempotency_keys"] == 0
    assert counts(db)["orders"] == 1
