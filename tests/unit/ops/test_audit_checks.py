"""The auditor's verdicts on hand-made facts: a healthy system, then each kind of breach."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from pos.ops.audit.facts import Facts, OutboxFacts, ParkedEventFact, ThirdPartyFacts
from pos.ops.audit.records import RecordBound
from pos.ops.audit.repeats import RepeatBound
from pos.ops.audit.result import CHECKS, AuditResult, audit
from tests.unit.ops.audit_facts import T0, ack, commit, healthy, order


def failing(result: AuditResult) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    found: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for breach in result.breaches:
        found.setdefault(breach.check, []).append((breach.problem, breach.orders))
    return found


def with_orders(facts: Facts, *orders: object) -> Facts:
    """``facts`` with these orders, each with its event on the topic (so only the breach
    under test shows)."""
    listed = tuple(orders)
    kafka = dataclasses.replace(facts.kafka, events={o.id: 1 for o in listed})  # type: ignore[attr-defined]
    return dataclasses.replace(facts, orders=listed, kafka=kafka)  # type: ignore[arg-type]


def test_a_healthy_system_passes_every_verdict() -> None:
    result = audit(healthy())
    assert result.passed, result.breaches
    verdicts = result.verdicts()
    assert set(verdicts) == {c.name for c in CHECKS}
    assert all(v["passed"] and "measured" not in v for v in verdicts.values())
    assert verdicts["thirdPartyRepeats"]["count"] == 2  # within the two late answers
    f = result.figures
    assert (f["ordersLost"], f["duplicateOrders"]) == (0, 0)
    assert (f["ordersSuccess"], f["ordersFailed"], f["ordersAcknowledged"]) == (3, 1, 4)


def test_an_acknowledged_scope_and_key_without_an_order_is_lost() -> None:
    facts = healthy()
    facts = dataclasses.replace(facts, acknowledged=(*(facts.acknowledged or ()), ack(9)))
    result = audit(facts)
    assert failing(result) == {
        "acknowledgedOrdersLost": [("1 acknowledged orders do not exist", ("order-9",))]
    }
    assert result.verdicts()["acknowledgedOrdersLost"] == {"passed": False, "count": 1}
    assert result.figures["ordersLost"] == 1


def test_the_same_key_under_another_till_does_not_stand_in_for_a_lost_order() -> None:
    # Till 2 numbers its keys like till 1: its key-1 is its own sale, not till 1's.
    facts = healthy()
    orders = (order(1, scope="store-1/till-2", id="order-21"), *facts.orders[1:])
    tp = dataclasses.replace(
        facts.third_party, delivered=frozenset({"order-21", "order-2", "order-3"})
    )
    result = audit(dataclasses.replace(with_orders(facts, *orders), third_party=tp))
    assert failing(result)["acknowledgedOrdersLost"] == [
        ("1 acknowledged orders do not exist", ("order-1",))
    ]


def test_two_tills_using_the_same_keys_are_two_sales_not_a_duplicate() -> None:
    facts = healthy()
    other = "store-2/till-1"
    twin = order(11, key="key-1", scope=other, content_hash="hash-11")
    facts = with_orders(facts, *facts.orders, twin)
    facts = dataclasses.replace(
        facts,
        acknowledged=(
            *(facts.acknowledged or ()),
            ack(1, order_id="order-11", scope=other, sale="sale-11", content_hash="hash-11"),
        ),
        kafka=dataclasses.replace(facts.kafka, offsets={}),
        commits=(),
        third_party=dataclasses.replace(
            facts.third_party, delivered=frozenset({"order-1", "order-2", "order-3", "order-11"})
        ),
    )
    result = audit(facts)
    assert result.passed, result.breaches
    assert result.figures["duplicateOrders"] == 0


def test_one_scope_and_key_with_two_orders_is_an_order_created_twice() -> None:
    # Possible only with the UNIQUE constraint gone: the verdict must still see it.
    facts = healthy()
    twin = order(7, key="key-2", content_hash="hash-2")
    facts = with_orders(facts, *facts.orders, twin)
    tp = dataclasses.replace(
        facts.third_party, delivered=frozenset({"order-1", "order-2", "order-3", "order-7"})
    )
    result = audit(dataclasses.replace(facts, third_party=tp))
    assert failing(result) == {
        "ordersCreatedTwice": [
            ("2 orders belong to a sale that has another order", ("order-2", "order-7"))
        ]
    }
    assert result.figures["duplicateOrders"] == 1


def test_one_sale_acknowledged_under_two_keys_is_an_order_created_twice() -> None:
    facts = healthy()
    again = order(8, key="key-8", content_hash="hash-1")  # the same payload, a new key
    facts = with_orders(facts, *facts.orders, again)
    facts = dataclasses.replace(
        facts,
        acknowledged=(*(facts.acknowledged or ()), ack(8, sale="sale-1", content_hash="hash-1")),
        third_party=dataclasses.replace(
            facts.third_party, delivered=frozenset({"order-1", "order-2", "order-3", "order-8"})
        ),
    )
    result = audit(facts)
    assert failing(result) == {
        "ordersCreatedTwice": [
            ("2 orders belong to a sale that has another order", ("order-1", "order-8"))
        ]
    }
    assert result.verdicts()["ordersCreatedTwice"] == {"passed": False, "count": 1}


def test_an_order_stored_with_other_content_than_the_till_sent() -> None:
    facts = healthy()
    orders = (order(1, content_hash="something-else"), *facts.orders[1:])
    result = audit(dataclasses.replace(facts, orders=orders))
    assert failing(result) == {
        "acknowledgedOrdersAltered": [
            ("1 stored orders differ from what the till sent", ("order-1",))
        ]
    }


def test_pending_orders_are_stuck_and_counted_as_lost() -> None:
    facts = healthy()
    orders = (*facts.orders[:2], order(3, "PENDING"), facts.orders[3])
    tp = dataclasses.replace(facts.third_party, delivered=frozenset({"order-1", "order-2"}))
    commits = tuple(commit(n, n + 2) for n in (1, 2))  # never committed past the pending one
    result = audit(dataclasses.replace(facts, orders=orders, third_party=tp, commits=commits))
    assert failing(result) == {"ordersStuck": [("1 orders are still PENDING", ("order-3",))]}
    assert result.figures["ordersLost"] == 1


def test_failed_orders_need_a_reason_and_a_dead_letter() -> None:
    facts = healthy()
    orders = (*facts.orders[:3], order(4, "FAILED", last_error=None))
    kafka = dataclasses.replace(facts.kafka, dead_letters=frozenset())
    result = audit(dataclasses.replace(facts, orders=orders, kafka=kafka))
    assert failing(result) == {
        "failedOrdersUnexplained": [
            ("1 FAILED orders have no reason", ("order-4",)),
            ("1 FAILED orders have no message on the dead-letter topic", ("order-4",)),
        ]
    }


def test_a_success_order_without_a_receipt() -> None:
    facts = healthy()
    tp = dataclasses.replace(facts.third_party, delivered=frozenset({"order-1", "order-2"}))
    result = audit(dataclasses.replace(facts, third_party=tp))
    assert failing(result) == {
        "successOrdersWithoutReceipt": [
            ("1 SUCCESS orders have no third-party receipt", ("order-3",))
        ]
    }
    assert result.figures["ordersLost"] == 1


def test_a_failed_order_that_holds_a_receipt() -> None:
    facts = healthy()
    tp = dataclasses.replace(
        facts.third_party, delivered=frozenset({"order-1", "order-2", "order-3", "order-4"})
    )
    result = audit(dataclasses.replace(facts, third_party=tp))
    assert failing(result) == {
        "failedOrdersWithReceipt": [("1 FAILED orders hold a third-party receipt", ("order-4",))]
    }


def test_a_receipt_for_an_order_that_does_not_exist() -> None:
    facts = healthy()
    tp = dataclasses.replace(
        facts.third_party, delivered=frozenset({"order-1", "order-2", "order-3", "ghost"})
    )
    result = audit(dataclasses.replace(facts, third_party=tp))
    assert failing(result) == {
        "receiptsWithoutOrder": [("1 receipts are for orders that do not exist", ("ghost",))]
    }


@pytest.mark.parametrize(
    ("duplicates", "timeouts", "bound", "passes"),
    [
        (0, 0, RepeatBound(), True),
        (1, 0, RepeatBound(), False),  # a repeat without any fault
        (2, 2, RepeatBound(), True),  # each late answer retried once
        (3, 2, RepeatBound(), False),
        (258, 2, RepeatBound(interruptions=1, in_flight=256), True),  # one consumer crash
        (259, 2, RepeatBound(interruptions=1, in_flight=256), False),
    ],
)
def test_third_party_repeats_are_judged_against_the_faults_that_explain_them(
    duplicates: int, timeouts: int, bound: RepeatBound, passes: bool
) -> None:
    facts = healthy()
    tp = dataclasses.replace(facts.third_party, duplicates=duplicates, timeouts=timeouts)
    result = audit(dataclasses.replace(facts, third_party=tp, repeat_bound=bound))
    assert result.passed is passes
    assert result.verdicts()["thirdPartyRepeats"] == {"passed": passes, "count": duplicates}
    assert result.figures["thirdPartyRepeatsAllowed"] == bound.allowed(timeouts)


def test_an_order_without_its_event_on_kafka() -> None:
    facts = healthy()
    kafka = dataclasses.replace(facts.kafka, events={"order-1": 2, "order-2": 1, "order-4": 1})
    # One relay cut explains order-1's second record.
    result = audit(dataclasses.replace(facts, kafka=kafka, record_bound=RecordBound(held=(1,))))
    assert failing(result) == {
        "ordersWithoutEvent": [("1 orders have no event on the order topic", ("order-3",))]
    }
    assert result.figures["kafkaRedeliveredEvents"] == 1
    assert result.figures["ordersLost"] == 1


def test_an_event_without_its_order() -> None:
    facts = healthy()
    kafka = dataclasses.replace(facts.kafka, events={**facts.kafka.events, "ghost": 1})
    result = audit(dataclasses.replace(facts, kafka=kafka))
    assert failing(result) == {
        "eventsWithoutOrder": [("1 events on the order topic have no order", ("ghost",))]
    }


def test_orders_older_than_the_retained_events_are_not_checked_against_kafka() -> None:
    facts = healthy()
    kafka = dataclasses.replace(
        facts.kafka, events={"order-3": 1, "order-4": 1}, retained_since=T0 + timedelta(seconds=3)
    )
    assert audit(dataclasses.replace(facts, kafka=kafka)).passed


def test_an_offset_committed_before_its_order_was_final() -> None:
    facts = healthy()
    # Order 2 became final at second 3, but offset 2 (past it) was committed at second 2.5.
    commits = (*(facts.commits or ()), commit(2, 2.5))
    result = audit(dataclasses.replace(facts, commits=commits))
    assert failing(result) == {
        "offsetsCommittedPastUnfinished": [
            ("1 orders were committed past before they were final", ("order-2",))
        ]
    }


def test_a_commit_past_an_order_that_never_became_final() -> None:
    facts = healthy()
    orders = (*facts.orders[:2], order(3, "PENDING"), facts.orders[3])
    tp = dataclasses.replace(facts.third_party, delivered=frozenset({"order-1", "order-2"}))
    result = audit(dataclasses.replace(facts, orders=orders, third_party=tp))
    found = failing(result)
    assert found["offsetsCommittedPastUnfinished"] == [
        ("1 orders were committed past before they were final", ("order-3",))
    ]
    assert set(found) == {"offsetsCommittedPastUnfinished", "ordersStuck"}


def test_commits_of_another_topic_or_partition_cover_nothing_here() -> None:
    facts = healthy()
    early = (
        dataclasses.replace(commit(4, 0.5), topic="another.topic"),
        commit(4, 0.5, partition=1),
    )
    assert audit(dataclasses.replace(facts, commits=(*(facts.commits or ()), *early))).passed


def test_unpublished_and_parked_outbox_events_are_listed_with_their_error() -> None:
    facts = healthy()
    outbox = OutboxFacts(
        unpublished=("order-2",),
        parked=(ParkedEventFact(17, "order-3", 5, "MSG_SIZE_TOO_LARGE"),),
    )
    result = audit(dataclasses.replace(facts, outbox=outbox))
    assert failing(result) == {
        "outboxUndrained": [
            ("1 outbox events are still unpublished", ("order-2",)),
            ("1 outbox events are parked (MSG_SIZE_TOO_LARGE)", ("order-3",)),
        ]
    }


def test_verdicts_without_their_source_say_not_measured() -> None:
    facts = dataclasses.replace(
        healthy(),
        acknowledged=None,
        commits=None,
        third_party=ThirdPartyFacts(received=3, unique=3, delivered=None),
        record_bound=None,
    )
    result = audit(facts)
    assert result.passed
    unmeasured = {name for name, v in result.verdicts().items() if v.get("measured") is False}
    assert unmeasured == {
        "duplicateRecords",
        "acknowledgedOrdersLost",
        "acknowledgedOrdersAltered",
        "failedOrdersWithReceipt",
        "successOrdersWithoutReceipt",
        "receiptsWithoutOrder",
        "offsetsCommittedPastUnfinished",
    }
    notes = {o.check.name: o.note for o in result.outcomes}
    assert "CONSUMER_COMMIT_LOG" in notes["offsetsCommittedPastUnfinished"]
    assert result.figures["ordersAcknowledged"] is None


def test_duplicate_records_within_what_the_relay_cuts_explain_pass() -> None:
    facts = healthy()
    events = {**facts.kafka.events, "order-1": 3, "order-2": 2}  # 3 records too many
    facts = dataclasses.replace(
        facts,
        kafka=dataclasses.replace(facts.kafka, events=events),
        record_bound=RecordBound(held=(2, 1)),
    )
    result = audit(facts)
    assert result.passed, result.breaches
    assert result.verdicts()["duplicateRecords"] == {"passed": True, "count": 3}
    assert (result.figures["kafkaRedeliveredEvents"], result.figures["kafkaDistinctEvents"]) == (
        3,
        4,
    )
    assert result.figures["duplicateRecordsAllowed"] == 3


def test_an_outage_turned_into_duplicate_records_fails_the_run() -> None:
    # A leader change cuts no relay: every second record of an event is a breach.
    facts = healthy()
    events = {**facts.kafka.events, "order-2": 2, "order-3": 2}
    facts = dataclasses.replace(facts, kafka=dataclasses.replace(facts.kafka, events=events))
    result = audit(facts)
    assert failing(result) == {
        "duplicateRecords": [
            (
                "2 records on the order topic repeat an event "
                "(bound 0 = rows unpublished at 0 relay cuts)",
                ("order-2", "order-3"),
            )
        ]
    }
