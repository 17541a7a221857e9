"""The consumer's HTTP client against the real simulated third party: keep-alive, lost
connections, timeouts, and how each answer is classified."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from pos.order_consumer.breaker import Breaker
from pos.order_consumer.call_gate import CallGate
from pos.order_consumer.http_pool import HttpPool
from pos.order_consumer.metrics import ConsumerMetrics
from pos.order_consumer.outcomes import Delivered, Misconfigured, Refused, Transient, Unknown
from pos.order_consumer.third_party_client import Held, NotHeld, ThirdPartyClient
from pos.scratch.processes import free_port
from tests.integration.simulated_third_party.launcher import ThirdParty


class Client(ThirdPartyClient):
    """The client with a breaker that never opens, answering only the outcome."""

    async def send(self, order_id: uuid.UUID, body: bytes) -> object:
        return (await self.deliver(order_id, body)).outcome


def client(url: str, timeout: float = 2.0) -> Client:
    metrics = ConsumerMetrics()
    gate = CallGate(Breaker(10**6, 1.0, 1.0, 0.0), 4, metrics)
    return Client(url, timeout=timeout, gate=gate, metrics=metrics)


async def test_answers_become_outcomes(tp: ThirdParty) -> None:
    third_party = client(tp.url)
    order_id = uuid.uuid4()
    body = f'{{"id": "{order_id}"}}'.encode()
    first = await third_party.send(order_id, body)
    assert isinstance(first, Delivered)
    assert first.receipt_ref == tp.receipt_ref(str(order_id))
    assert await third_party.send(order_id, body) == Delivered(first.receipt_ref, True)
    assert await third_party.receipt(order_id) == Held(first.receipt_ref)
    assert await third_party.receipt(uuid.uuid4()) == NotHeld()
    tp.faults(refusalRate=1)
    refused = await third_party.send(uuid.uuid4(), b"{}")
    assert isinstance(refused, Refused)
    assert "422" in refused.reason
    tp.faults(refusalRate=0, outage=True)
    assert isinstance(await third_party.send(order_id, body), Transient)
    third_party.close()


async def test_a_timeout_is_unknown_and_its_late_answer_is_never_read(tp: ThirdParty) -> None:
    third_party = client(tp.url, timeout=0.3)
    tp.faults(timeoutRate=1, hangMs=1500)
    slow = uuid.uuid4()
    assert await third_party.send(slow, b"{}") == Unknown("no answer within 0.3 s")
    # Processed, though the answer came too late: the lookup settles it.
    assert isinstance(await third_party.receipt(slow), Held)
    tp.faults(timeoutRate=0)
    for _ in range(8):  # every pooled connection: none may carry the late answer
        other = uuid.uuid4()
        outcome = await third_party.send(other, b"{}")
        assert isinstance(outcome, Delivered)
        assert outcome.receipt_ref == tp.receipt_ref(str(other))
    third_party.close()


async def test_a_refused_connection_is_transient() -> None:
    third_party = client(f"http://127.0.0.1:{free_port()}")
    outcome = await third_party.send(uuid.uuid4(), b"{}")
    assert isinstance(outcome, Transient)
    assert "refused" in outcome.reason
    third_party.close()


@pytest.mark.parametrize("status", [401, 403, 404])
def test_every_call_refused_for_credentials_or_url_means_misconfigured(status: int) -> None:
    from pos.order_consumer.outcomes import classify

    assert isinstance(classify(status, b""), Misconfigured)


async def test_connections_survive_a_third_party_restart(tmp_path: Path) -> None:
    server = ThirdParty(tmp_path).start()
    pool = HttpPool(server.url, timeout=2)
    try:
        responses = await asyncio.gather(
            *(
                pool.request("POST", "/orders", b"{}", {"Idempotency-Key": f"k{i}"})
                for i in range(8)
            )
        )
        assert {r.status for r in responses} == {201}
        await asyncio.to_thread(server.restart)  # the pooled connections die with it
        after = await pool.request("POST", "/orders", b"{}", {"Idempotency-Key": "k0"})
        assert after.status == 200, "reconnected; the receipt survived the restart"
        assert after.headers["content-type"] == "application/json"
    finally:
        pool.close()
        server.stop()


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="not an http"):
        HttpPool("ftp://example.com", timeout=1)
