"""The consumer's HTTP client against the real simulated third party: keep-alive, lost
connections, timeouts, and how each answer is classified."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from pos.order_consumer.http_pool import HttpPool
from pos.order_consumer.metrics import ConsumerMetrics
from pos.order_consumer.outcomes import Delivered, Refused, Transient
from pos.order_consumer.third_party_client import ThirdPartyClient
from tests.integration.third_party.launcher import ThirdParty
from tests.support.processes import free_port


def client(url: str, timeout: float = 2.0) -> ThirdPartyClient:
    return ThirdPartyClient(url, timeout=timeout, max_in_flight=4, metrics=ConsumerMetrics())


async def test_answers_become_outcomes(tp: ThirdParty) -> None:
    third_party = client(tp.url)
    order_id = uuid.uuid4()
    body = f'{{"id": "{order_id}"}}'.encode()
    first = await third_party.deliver(order_id, body)
    assert isinstance(first, Delivered)
    assert first.receipt_ref == tp.receipt_ref(str(order_id))
    assert await third_party.deliver(order_id, body) == Delivered(first.receipt_ref, True)
    tp.faults(refusalRate=1)
    refused = await third_party.deliver(uuid.uuid4(), b"{}")
    assert isinstance(refused, Refused)
    assert "422" in refused.reason
    tp.faults(refusalRate=0, outage=True)
    assert isinstance(await third_party.deliver(order_id, body), Transient)
    third_party.close()


async def test_a_timeout_is_transient_and_its_late_answer_is_never_read(tp: ThirdParty) -> None:
    third_party = client(tp.url, timeout=0.3)
    tp.faults(timeoutRate=1, hangMs=1500)
    slow = uuid.uuid4()
    assert await third_party.deliver(slow, b"{}") == Transient("no answer within 0.3 s")
    tp.faults(timeoutRate=0)
    for _ in range(8):  # every pooled connection: none may carry the late answer
        other = uuid.uuid4()
        outcome = await third_party.deliver(other, b"{}")
        assert isinstance(outcome, Delivered)
        assert outcome.receipt_ref == tp.receipt_ref(str(other))
    third_party.close()


async def test_connections_survive_a_third_party_restart(tmp_path: Path) -> None:
    server = ThirdParty(tmp_path).start()
    pool = HttpPool(server.url, timeout=2)
    try:
        responses = await asyncio.gather(
            *(pool.post("/orders", b"{}", {"Idempotency-Key": f"k{i}"}) for i in range(8))
        )
        assert {r.status for r in responses} == {201}
        await asyncio.to_thread(server.restart)  # the pooled connections die with it
        after = await pool.post("/orders", b"{}", {"Idempotency-Key": "k0"})
        assert after.status == 200, "reconnected; the receipt survived the restart"
        assert after.headers["content-type"] == "application/json"
    finally:
        pool.close()
        server.stop()


async def test_an_unreachable_third_party_is_transient() -> None:
    outcome = await client(f"http://127.0.0.1:{free_port()}").deliver(uuid.uuid4(), b"{}")
    assert isinstance(outcome, Transient)
    assert outcome.reason.startswith("connection error")


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="not an http"):
        HttpPool("ftp://example.com", timeout=1)
