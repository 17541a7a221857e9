"""The simulated third party over real HTTP: dedupe, persistence, faults, stats."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.simulated_third_party.launcher import ThirdParty


def test_a_repeated_key_returns_the_first_receipt_and_counts_as_duplicate(tp: ThirdParty) -> None:
    first = tp.order("order-1")
    again = tp.order("order-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["receiptRef"] == first.json()["receiptRef"]
    assert again.json()["duplicate"] is True
    assert tp.order("order-2").status_code == 201
    assert tp.stats() == {
        "received": 3,
        "unique": 2,
        "duplicates": 1,
        "refused": 0,
        "errors": 0,
        "timeouts": 0,
        "conflicts": 0,
        "overridden": 0,
    }
    receipt = httpx.get(f"{tp.url}/receipts/order-1").json()
    assert receipt["receiptRef"] == first.json()["receiptRef"]
    assert httpx.get(f"{tp.url}/receipts/unknown").status_code == 404


def test_requests_that_are_not_orders_are_refused(tp: ThirdParty) -> None:
    no_key = httpx.post(tp.url + "/orders", json={"id": "x"})
    assert no_key.status_code == 400
    assert no_key.headers["content-type"] == "application/problem+json"
    assert tp.order("order-1", body={"id": "order-2"}).status_code == 422
    assert tp.order("order-1", content=b"[1]").status_code == 400
    assert httpx.get(tp.url + "/nowhere").status_code == 404
    assert tp.stats()["refused"] == 3
    assert tp.stats()["unique"] == 0


def test_faults_at_run_time(tp: ThirdParty) -> None:
    tp.faults(errorRate=1)
    assert tp.order("a").status_code == 503
    tp.faults(errorRate=0, refusalRate=1)
    assert tp.order("a").status_code == 422
    tp.faults(refusalRate=0)
    assert tp.order("a").status_code == 201
    tp.faults(refusalRate=1)
    assert tp.order("a").status_code == 200, "an accepted order is never refused later"
    tp.faults(refusalRate=0, outage=True)
    assert tp.order("a").status_code == 503
    tp.faults(outage=False, errorKeys=["b"])
    assert tp.order("b").status_code == 503
    assert tp.order("c").status_code == 201
    stats = tp.stats()
    assert (stats["errors"], stats["refused"], stats["unique"]) == (3, 1, 2)
    bad = httpx.put(tp.url + "/admin/faults", json={"errorRate": 2})
    assert bad.status_code == 422
    assert httpx.get(tp.url + "/admin/faults").json()["errorRate"] == 0


def test_a_conflict_answers_409_key_in_progress_and_records_nothing(tp: ThirdParty) -> None:
    tp.faults(conflictRate=1)
    conflict = tp.order("busy")
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["title"] == "key in progress"
    assert tp.receipt_ref("busy") is None
    tp.faults(conflictRate=0)
    assert tp.order("busy").status_code == 201, "the retry is the first delivery"
    stats = tp.stats()
    assert (stats["conflicts"], stats["unique"], stats["duplicates"]) == (1, 1, 0)


def test_a_status_override_answers_every_call_until_cleared(tp: ThirdParty) -> None:
    for status in (401, 403, 404):
        assert tp.faults(statusOverride=status)["statusOverride"] == status
        answer = tp.order("misrouted")
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/problem+json"
        assert httpx.post(tp.url + "/orders", json={}).status_code == status, "even without key"
    assert tp.receipt_ref("misrouted") is None
    assert httpx.put(tp.url + "/admin/faults", json={"statusOverride": 200}).status_code == 422
    assert tp.faults(statusOverride=None)["statusOverride"] is None
    assert tp.order("misrouted").status_code == 201
    stats = tp.stats()
    assert (stats["overridden"], stats["received"], stats["unique"]) == (6, 7, 1)


def test_a_timeout_records_the_order_durably_before_it_hangs(tp: ThirdParty) -> None:
    tp.faults(timeoutRate=1, hangMs=60_000)
    with pytest.raises(httpx.ReadTimeout):
        tp.order("slow", timeout=0.5)
    # The call is still hanging (for a minute): the receipt is already held...
    assert tp.receipt_ref("slow") is not None
    ref = tp.receipt_ref("slow")
    # ...and durably: a kill in the middle of the hang does not lose it.
    tp.restart()
    assert tp.receipt_ref("slow") == ref
    tp.faults(timeoutRate=0)
    retry = tp.order("slow")
    assert retry.status_code == 200, "the lost answer's receipt is replayed"
    assert retry.json()["receiptRef"] == ref


def test_a_timeout_records_the_order_but_answers_too_late(tp: ThirdParty) -> None:
    tp.faults(timeoutRate=1, hangMs=10_000)
    with pytest.raises(httpx.ReadTimeout):
        tp.order("slow", timeout=0.5)
    tp.faults(timeoutRate=0)
    retry = tp.order("slow")
    assert retry.status_code == 200, "the lost answer's receipt is replayed"
    stats = tp.stats()
    assert (stats["timeouts"], stats["unique"], stats["duplicates"]) == (1, 1, 1)


def test_receipts_survive_a_kill_and_faults_come_from_the_environment(tmp_path: Path) -> None:
    tp = ThirdParty(tmp_path).start()
    try:
        first = tp.order("order-1").json()
        tp.restart(env={"TP_REFUSAL_RATE": "1", "TP_LATENCY_MS": "5"})  # SIGKILL, start
        assert httpx.get(tp.url + "/admin/faults").json()["refusalRate"] == 1
        again = tp.order("order-1")
        assert again.status_code == 200
        assert again.json()["receiptRef"] == first["receiptRef"]
        assert tp.order("order-2").status_code == 422
        assert tp.stats()["unique"] == 1
    finally:
        tp.stop()


def test_stats_survive_a_kill(tmp_path: Path) -> None:
    tp = ThirdParty(tmp_path).start()
    try:
        for key in ("order-1", "order-1", "order-2", "order-1"):
            tp.order(key)
        before = tp.stats()
        assert (before["received"], before["unique"], before["duplicates"]) == (4, 2, 2)
        tp.restart()  # SIGKILL: no shutdown hook runs
        assert tp.stats() == before
        tp.order("order-2")
        after = tp.stats()
        assert (after["received"], after["unique"], after["duplicates"]) == (5, 2, 3)
    finally:
        tp.stop()


def test_every_fault_starts_from_the_environment(tmp_path: Path) -> None:
    tp = ThirdParty(tmp_path, env={"TP_CONFLICT_RATE": "1", "TP_STATUS_OVERRIDE": "403"}).start()
    try:
        faults = httpx.get(tp.url + "/admin/faults").json()
        assert (faults["conflictRate"], faults["statusOverride"]) == (1, 403)
        assert tp.order("order-1").status_code == 403
        tp.faults(statusOverride=None)
        assert tp.order("order-1").status_code == 409
    finally:
        tp.stop()
