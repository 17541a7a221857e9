"""The auditor's invariants on hand-made facts: a healthy system, then each kind of breach."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from pos.ops.audit.facts import OutboxFacts, ParkedEvent, ThirdPartyFacts
from pos.ops.audit.result import AuditResult, audit
from tests.unit.ops.audit_facts import T0, ack, healthy, order


def failing(result: AuditResult) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    found: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for breach in result.breaches:
        found.setdefault(breach.check, []).append((breach.problem, breach.orders))
    return found


def test_a_healthy_system_passes_every_check_with_zero_headline_figures() -> None:
    result = audit(healthy())
    assert result.passed, result.breaches
    f = result.figures
    assert (f["ordersLost"], f["duplicateOrders"], f["duplicateDeliveries"]) == (0, 0, 0)
    assert f["orders"] == 4
    assert (f["ordersSuccess"], f["ordersFailed"], f["ordersAcknowledged"]) == (3, 1, 4)
    assert f["thirdPartyDuplicatesAbsorbed"] == 2


def test_an_acknowledged_order_missing_from_the_database_is_lost() -> None:
    facts = healthy()
    facts = dataclasses.replace(facts, acknowledged=(*(facts.acknowledged or ()), ack(9)))
    result = audit(facts)
    assert failing(result) == {
        "acknowledged-orders-exist": [("1 acknowledged orders do not exist", ("order-9",))]
    }
    assert result.figures["ordersLost"] == 1


def test_an_order_stored_with_other_content_than_the_till_sent() -> None:
    facts = healthy()
    orders = (order(1, content_hash="something-else"), *facts.orders[1:])
    result = audit(dataclasses.replace(facts, orders=orders))
    assert failing(result) == {
        "acknowledged-orders-exist": [
            ("1 stored orders differ from what the till sent", ("order-1",))
        ]
    }


def test_one_key_acknowledged_with_two_order_ids_is_a_duplicate() -> None:
    facts = healthy()
    # The second id exists too (say under another scope), and was delivered as well.
    orders = (*facts.orders, order(11, key="key-1", scope="other", content_hash="hash-1"))
    facts = dataclasses.replace(
        facts,
        orders=orders,
        acknowledged=(*(facts.acknowledged or ()), ack(1, order_id="order-11")),
        kafka=dataclasses.replace(facts.kafka, events={o.id: 1 for o in orders}),
        third_party=ThirdPartyFacts(
            received=6,
            unique=4,
            duplicates=2,
            delivered=frozenset({"order-1", "order-2", "order-3", "order-11"}),
        ),
    )
    result = audit(facts)
    problems = failing(result)["acknowledged-orders-exist"]
    assert ("1 keys were acknowledged with different order ids", ("key-1",)) in problems
    assert ("1 acknowledged keys have more than one order", ("key-1",)) in problems
    assert result.figures["duplicateOrders"] == 1
    assert result.figures["duplicateDeliveries"] == 1


def test_two_orders_with_one_scope_and_key_break_the_idempotency_invariant() -> None:
    facts = healthy()
    twin = order(7, key="key-2", content_hash="hash-2")
    orders = (*facts.orders, twin)
    facts = dataclasses.replace(
        facts,
        orders=orders,
        kafka=dataclasses.replace(facts.kafka, events={o.id: 1 for o in orders}),
        third_party=dataclasses.replace(
            facts.third_party,
            unique=4,
            delivered=frozenset({"order-1", "order-2", "order-3", "order-7"}),
        ),
    )
    result = audit(facts)
    assert failing(result)["one-order-per-key"] == [
        ("2 orders share a (scope, key) with another", ("order-2", "order-7"))
    ]
    assert result.figures["duplicateOrders"] == 1
    assert result.figures["duplicateDeliveries"] == 1


def test_pending_orders_are_named_and_counted_as_lost() -> None:
    facts = healthy()
    orders = (*facts.orders[:2], order(3, "PENDING"), facts.orders[3])
    tp = dataclasses.replace(
        facts.third_party, unique=2, delivered=frozenset({"order-1", "order-2"})
    )
    result = audit(dataclasses.replace(facts, orders=orders, third_party=tp))
    assert failing(result) == {"orders-final": [("1 orders are still PENDING", ("order-3",))]}
    assert result.figures["ordersLost"] == 1
    assert result.figures["ordersPending"] == 1


def test_failed_orders_need_a_reason_and_a_dead_letter() -> None:
    facts = healthy()
    orders = (*facts.orders[:3], order(4, "FAILED", last_error=None))
    kafka = dataclasses.replace(facts.kafka, dead_letters=frozenset())
    result = audit(dataclasses.replace(facts, orders=orders, kafka=kafka))
    assert failing(result) == {
        "failed-orders-explained": [
            ("1 FAILED orders have no reason", ("order-4",)),
            ("1 FAILED orders have no message on the dead-letter topic", ("order-4",)),
        ]
    }


def test_a_success_order_the_third_party_never_received() -> None:
    facts = healthy()
    tp = ThirdPartyFacts(received=2, unique=2, delivered=frozenset({"order-1", "order-2"}))
    result = audit(dataclasses.replace(facts, third_party=tp))
    assert failing(result) == {
        "deliveries-match-success": [
            ("the third party counts 2 unique deliveries but 3 orders are SUCCESS", ()),
            ("1 SUCCESS orders never reached the third party", ("order-3",)),
        ]
    }
    assert result.figures["ordersLost"] == 1


def test_a_delivered_order_that_ended_failed() -> None:
    facts = healthy()
    tp = dataclasses.replace(
        facts.third_party,
        unique=4,
        delivered=frozenset({"order-1", "order-2", "order-3", "order-4"}),
    )
    result = audit(dataclasses.replace(facts, third_party=tp))
    assert failing(result)["deliveries-match-success"] == [
        ("the third party counts 4 unique deliveries but 3 orders are SUCCESS", ()),
        ("1 orders reached the third party but are not SUCCESS", ("order-4",)),
    ]


def test_a_delivery_for_an_order_that_does_not_exist() -> None:
    facts = healthy()
    tp = dataclasses.replace(
        facts.third_party,
        unique=4,
        delivered=frozenset({"order-1", "order-2", "order-3", "ghost"}),
    )
    result = audit(dataclasses.replace(facts, third_party=tp))
    breaches = failing(result)
    assert breaches["no-phantom-deliveries"] == [
        ("1 deliveries are for orders that do not exist", ("ghost",))
    ]


def test_an_order_without_its_event_on_kafka() -> None:
    facts = healthy()
    kafka = dataclasses.replace(facts.kafka, events={"order-1": 2, "order-2": 1, "order-4": 1})
    result = audit(dataclasses.replace(facts, kafka=kafka))
    assert failing(result) == {
        "events-on-kafka": [("1 orders have no event on the order topic", ("order-3",))]
    }
    assert result.figures["kafkaRedeliveredEvents"] == 1
    assert result.figures["ordersLost"] == 1


def test_orders_older_than_the_retained_events_are_not_checked_against_kafka() -> None:
    facts = healthy()
    kafka = dataclasses.replace(
        facts.kafka, events={"order-3": 1, "order-4": 1}, retained_since=T0 + timedelta(seconds=3)
    )
    assert audit(dataclasses.replace(facts, kafka=kafka)).passed


def test_unpublished_and_parked_outbox_events_are_listed_with_their_error() -> None:
    facts = healthy()
    outbox = OutboxFacts(
        unpublished=("order-2",),
        parked=(ParkedEvent(17, "order-3", 5, "MSG_SIZE_TOO_LARGE"),),
    )
    result = audit(dataclasses.replace(facts, outbox=outbox))
    assert failing(result) == {
        "outbox-drained": [
            ("1 outbox events are still unpublished", ("order-2",)),
            ("1 outbox events are parked (MSG_SIZE_TOO_LARGE)", ("order-3",)),
        ]
    }


def test_without_a_ledger_the_acknowledgement_check_is_skipped_and_said_so() -> None:
    result = audit(dataclasses.replace(healthy(), acknowledged=None))
    assert result.passed
    outcome = next(o for o in result.outcomes if o.check.name == "acknowledged-orders-exist")
    assert "no ledger" in outcome.note
    assert result.figures["ordersAcknowledged"] is None


@pytest.mark.parametrize(("unique", "passes", "duplicates"), [(3, True, 0), (5, False, 1)])
def test_without_the_receipts_only_the_counts_are_compared(
    unique: int, passes: bool, duplicates: int
) -> None:
    facts = dataclasses.replace(
        healthy(), third_party=ThirdPartyFacts(received=unique, unique=unique, delivered=None)
    )
    result = audit(facts)
    assert result.passed is passes
    # More unique deliveries than orders that exist: something took effect twice.
    assert result.figures["duplicateDeliveries"] == duplicates
    notes = {o.check.name: o.note for o in result.outcomes}
    assert notes["no-phantom-deliveries"].startswith("counts only")
