"""The simulated third party's answers, fault by fault, through its ASGI app in-process.

The chaos runs rely on each fault doing exactly what it says (a timeout records the order
and then stays silent, a refusal never hits a key already accepted, an outage answers 503
and records nothing), and the counters are what the auditor reads; these tests pin that
down without starting a process.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pos.simulated_third_party.app import MAX_BODY_BYTES, ThirdPartyApp
from pos.simulated_third_party.counters import Counters
from pos.simulated_third_party.faults import Faults
from pos.simulated_third_party.store import ReceiptStore


@pytest.fixture
def app(tmp_path: Path) -> ThirdPartyApp:
    store = ReceiptStore(tmp_path / "receipts.jsonl")
    return ThirdPartyApp(store, Counters(tmp_path / "counters"), Faults(), random.Random(7))


@pytest.fixture
async def client(app: ThirdPartyApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tp") as http:
        yield http


async def _order(client: httpx.AsyncClient, key: str, body: Any = None) -> httpx.Response:
    return await client.post(
        "/orders", json={"id": key} if body is None else body, headers={"Idempotency-Key": key}
    )


async def _faults(client: httpx.AsyncClient, **patch: Any) -> None:
    response = await client.put("/admin/faults", json=patch)
    assert response.status_code == 200, response.text


async def _stats(client: httpx.AsyncClient) -> dict[str, int]:
    stats: dict[str, int] = (await client.get("/stats")).json()
    return stats


async def test_the_first_call_records_a_receipt_and_a_repeat_replays_it(
    client: httpx.AsyncClient,
) -> None:
    first = await _order(client, "k-1")
    assert first.status_code == 201
    again = await _order(client, "k-1")
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    receipt = await client.get("/receipts/k-1")
    assert receipt.json()["receiptRef"] == first.json()["receiptRef"]
    assert (await client.get("/receipts/k-2")).status_code == 404
    stats = await _stats(client)
    assert (stats["received"], stats["unique"], stats["duplicates"]) == (2, 1, 1)
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_calls_that_are_not_orders_for_their_key_are_refused(
    client: httpx.AsyncClient,
) -> None:
    no_key = await client.post("/orders", json={"id": "k"})
    assert no_key.status_code == 400
    assert no_key.headers["content-type"] == "application/problem+json"
    assert (await _order(client, "k", body=[1, 2])).status_code == 400
    assert (await _order(client, "k", body={"id": "another"})).status_code == 422
    too_big = await client.post(
        "/orders", content=b"x" * (MAX_BODY_BYTES + 1), headers={"Idempotency-Key": "k"}
    )
    assert too_big.status_code == 413
    assert (await client.get("/nowhere")).status_code == 404
    stats = await _stats(client)
    assert (stats["refused"], stats["unique"]) == (3, 0)


async def test_an_outage_an_error_key_and_a_conflict_record_nothing(
    client: httpx.AsyncClient,
) -> None:
    await _faults(client, outage=True)
    assert (await _order(client, "k-1")).status_code == 503
    await _faults(client, outage=False, errorKeys=["k-2"])
    assert (await _order(client, "k-2")).status_code == 503
    assert (await _order(client, "k-3")).status_code == 201
    await _faults(client, errorKeys=[], conflictRate=1.0)
    conflict = await _order(client, "k-4")
    assert conflict.status_code == 409
    assert conflict.json()["title"] == "key in progress"
    stats = await _stats(client)
    assert (stats["errors"], stats["conflicts"], stats["unique"]) == (2, 1, 1)


async def test_a_refusal_never_hits_a_key_already_accepted(client: httpx.AsyncClient) -> None:
    assert (await _order(client, "known")).status_code == 201
    await _faults(client, refusalRate=1.0)
    assert (await _order(client, "new")).status_code == 422
    assert (await _order(client, "known")).status_code == 200
    assert (await _stats(client))["refused"] == 1


async def test_a_timeout_records_the_order_then_answers_late(client: httpx.AsyncClient) -> None:
    await _faults(client, timeoutRate=1.0, hangMs=30, latencyMs=5, jitterMs=5)
    late = await _order(client, "k-1")
    assert late.status_code == 201  # the answer comes, after the hang a caller gave up on
    assert (await client.get("/receipts/k-1")).status_code == 200
    stats = await _stats(client)
    assert (stats["timeouts"], stats["unique"]) == (1, 1)


async def test_a_status_override_answers_every_call_before_looking_at_it(
    client: httpx.AsyncClient,
) -> None:
    await _faults(client, statusOverride=401)
    assert (await client.post("/orders", content=b"not json")).status_code == 401
    assert (await _stats(client))["overridden"] == 1
    assert (await client.get("/admin/faults")).json()["statusOverride"] == 401


async def test_bad_fault_settings_are_refused_and_reset_clears_everything(
    client: httpx.AsyncClient,
) -> None:
    for bad in (b"[]", b"{", b'{"noSuchFault": 1}', b'{"outage": "yes"}'):
        assert (await client.put("/admin/faults", content=bad)).status_code == 422, bad
    assert (await _order(client, "k-1")).status_code == 201
    assert (await client.post("/admin/reset")).json() == {"reset": True}
    stats = await _stats(client)
    assert (stats["received"], stats["unique"]) == (0, 0)


async def test_the_lifespan_starts_and_closes_the_store(app: ThirdPartyApp) -> None:
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
