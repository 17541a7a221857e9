"""The Order API on a PostgreSQL primary with a synchronous standby.

- The primary is SIGKILLed while tills keep sending orders, the standby is promoted: every
  order the API acknowledged is on the new primary, the requests caught in the crash got
  503 + Retry-After (never 500), and their retries with the same key made each order once.
- The standby is gone: a commit cannot be confirmed, and instead of hanging it is answered
  503 within the bound; the retry with the same key replays the order once the primary
  commits alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import psycopg
import pytest

from pos.config import ApiSettings, AuthSettings, DatabaseSettings, KafkaSettings
from pos.infra.pg_pair import wait_writable
from pos.order_api.app import create_app
from tests.integration.order_api.conftest import order_body
from tests.integration.replicated.conftest import Replicated
from tests.support.devices import bearer

pytestmark = pytest.mark.replicated

TILLS = 4


@contextlib.asynccontextmanager
async def api_client(
    topology: Replicated, monkeypatch: pytest.MonkeyPatch, **api: Any
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("DATABASE_URL", topology.database_url)  # for the device key
    app = create_app(
        api=ApiSettings(**api),
        db=DatabaseSettings(database_url=topology.database_url, db_pool_min=1),
        kafka=KafkaSettings(),
        auth=AuthSettings(api_rate_limit_per_second=1e9, api_rate_limit_burst=10**9),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://api.test",
            headers=await bearer(),
            timeout=30,
        ) as client,
    ):
        yield client


def orders_by_key(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT idempotency_key, id::text FROM orders").fetchall()
    found: dict[str, list[str]] = {}
    for key, order_id in rows:
        found.setdefault(key, []).append(order_id)
    return found


async def test_orders_acknowledged_before_the_primary_dies_survive_failover(
    pg_topology: Replicated, monkeypatch: pytest.MonkeyPatch
) -> None:
    acked: dict[str, str] = {}  # key -> order id of its 201 / replay
    statuses: list[int] = []
    progress = asyncio.Event()  # set on every answer a till gets
    refused = asyncio.Event()  # a till got 503
    stop = asyncio.Event()

    async def until(check: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):
            while not check():
                await progress.wait()
                progress.clear()

    async def till(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            key = f"failover-{uuid.uuid4()}"
            while True:  # a till retries the same key until it has an answer
                response = await client.post(
                    "/orders", json=order_body(), headers={"Idempotency-Key": key}
                )
                statuses.append(response.status_code)
                progress.set()
                if response.status_code in (200, 201):
                    acked[key] = response.json()["id"]
                    break
                assert response.status_code == 503, response.text
                assert response.headers["Retry-After"] == "1"
                assert response.headers["content-type"] == "application/problem+json"
                refused.set()
                await asyncio.sleep(0.05)

    async with api_client(pg_topology, monkeypatch) as client:
        tills = [asyncio.create_task(till(client)) for _ in range(TILLS)]
        await until(lambda: len(acked) >= 200, within=30)
        before_kill = dict(acked)
        primary = pg_topology.pair.primary()
        assert primary is not None
        await asyncio.to_thread(pg_topology.pair.kill_node, primary)
        # The tills meet the dead primary (503) before the standby is promoted.
        await asyncio.wait_for(refused.wait(), 10)
        started = time.monotonic()
        new_primary = await asyncio.to_thread(pg_topology.pair.failover)
        promoted_in = time.monotonic() - started
        target = len(acked) + 200
        await until(lambda: len(acked) >= target, within=45)
        stop.set()
        await asyncio.gather(*tills)

    assert new_primary != primary
    assert len(acked) >= target, f"intake did not resume after failover ({len(acked)})"
    stored = orders_by_key(pg_topology.database_url)
    lost = {k for k in acked if k not in stored}
    twice = {k: ids for k, ids in stored.items() if len(ids) > 1}
    print(
        f"\nprimary {primary} killed after {len(before_kill)} acks; {new_primary} promoted in "
        f"{promoted_in:.2f} s; {len(acked)} acked in all, {statuses.count(503)} answers 503"
    )
    assert lost == set(), f"{len(lost)} acknowledged orders missing after failover"
    assert twice == {}
    assert all(stored[k] == [order_id] for k, order_id in acked.items())
    assert 500 not in statuses
    assert statuses.count(503) >= 1, "requests caught in the crash are answered 503"


async def test_a_commit_without_its_standby_is_answered_503_and_replayed_later(
    pg_topology: Replicated, monkeypatch: pytest.MonkeyPatch
) -> None:
    primary = pg_topology.pair.primary()
    assert primary is not None
    standby = next(n.name for n in pg_topology.pair.nodes if n.name != primary)
    key = f"standby-gone-{uuid.uuid4()}"
    async with api_client(pg_topology, monkeypatch, api_db_timeout_seconds=1.5) as client:
        first = await client.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
        assert first.status_code == 201
        await asyncio.to_thread(pg_topology.pair.stop_node, standby)

        started = time.monotonic()
        response = await client.post(
            "/orders", json=order_body(), headers={"Idempotency-Key": key + "-2"}
        )
        waited = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert response.json()["type"].endswith("/database-unavailable")
        assert waited < 10, f"the commit wait was not bounded ({waited:.1f} s)"

        # The operator lets the primary commit alone (degraded): the in-doubt commit is
        # released, and the till's retry with the same key gets that order, not a new one.
        await asyncio.to_thread(pg_topology.pair.run_alone, primary)
        retry = await client.post(
            "/orders", json=order_body(), headers={"Idempotency-Key": key + "-2"}
        )
        assert retry.status_code == 201, retry.text
        assert retry.headers.get("Idempotent-Replayed") == "true"
    stored = orders_by_key(pg_topology.database_url)
    assert len(stored[key + "-2"]) == 1
    assert stored[key + "-2"] == [retry.json()["id"]]
    await asyncio.to_thread(pg_topology.pair.start_node, standby)
    await asyncio.to_thread(wait_writable, pg_topology.database_url, timeout=30)
