"""Run every check over the facts and derive the headline figures. Pure, no I/O.

One verdict per kind of breach, each with a count, so the chaos results show how close
to a breach a run came as well as whether one happened. The headline figures
(``ordersLost``, ``duplicateOrders``) come from the same facts, so the report and the
chaos results cannot disagree with the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pos.ops.audit import checks, delivery, offsets, records
from pos.ops.audit.checks import FAILED, PENDING, SUCCESS
from pos.ops.audit.facts import Facts
from pos.ops.audit.finding import Breach, Check, Finding

CHECKS = (
    Check(
        "acknowledgedOrdersLost",
        "every order acknowledged to a till exists under its (scope, key)",
        checks.acknowledged_orders_lost,
    ),
    Check(
        "acknowledgedOrdersAltered",
        "the order under an acknowledged key is the one acknowledged, as sent",
        checks.acknowledged_orders_altered,
    ),
    Check("ordersCreatedTwice", "one order per sale", checks.orders_created_twice),
    Check("ordersStuck", "every order ends SUCCESS or FAILED", checks.orders_stuck),
    Check(
        "failedOrdersWithReceipt",
        "no FAILED order holds a third-party receipt",
        delivery.failed_orders_with_receipt,
    ),
    Check(
        "successOrdersWithoutReceipt",
        "every SUCCESS order holds a third-party receipt",
        delivery.success_orders_without_receipt,
    ),
    Check(
        "receiptsWithoutOrder",
        "no third-party receipt for an order that does not exist",
        delivery.receipts_without_order,
    ),
    Check(
        "thirdPartyRepeats",
        "calls repeating a key the third party held stay within what the faults explain",
        delivery.third_party_repeats,
    ),
    Check(
        "failedOrdersUnexplained",
        "every FAILED order has a reason and a dead letter",
        checks.failed_orders_unexplained,
    ),
    Check("ordersWithoutEvent", "every order has its event on Kafka", checks.orders_without_event),
    Check(
        "eventsWithoutOrder",
        "every event on the order topic has its order",
        checks.events_without_order,
    ),
    Check(
        offsets.NAME,
        "no offset committed past an order not final at the time",
        offsets.committed_past_unfinished,
    ),
    Check("outboxUndrained", "no outbox event unpublished or parked", checks.outbox_undrained),
    Check(
        records.NAME,
        "records on the order topic repeat events only as far as relay cuts explain",
        records.duplicate_records,
    ),
)


@dataclass(frozen=True)
class CheckOutcome:
    check: Check
    finding: Finding

    @property
    def passed(self) -> bool:
        return self.finding.passed

    @property
    def breaches(self) -> tuple[Breach, ...]:
        return self.finding.breaches

    @property
    def note(self) -> str:
        return self.finding.note


@dataclass(frozen=True)
class AuditResult:
    outcomes: tuple[CheckOutcome, ...]
    figures: dict[str, int | None]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def breaches(self) -> list[Breach]:
        return [b for o in self.outcomes for b in o.breaches]

    def verdicts(self) -> dict[str, dict[str, Any]]:
        """``{name: {"passed", "count"}}``, plus ``measured: false`` and why, when not."""
        found: dict[str, dict[str, Any]] = {}
        for o in self.outcomes:
            verdict: dict[str, Any] = {"passed": o.passed, "count": o.finding.count}
            if not o.finding.measured:
                verdict |= {"measured": False, "note": o.note}
            found[o.check.name] = verdict
        return found


def audit(facts: Facts) -> AuditResult:
    outcomes = tuple(CheckOutcome(c, c.run(facts)) for c in CHECKS)
    return AuditResult(outcomes, figures(facts, {o.check.name: o.finding for o in outcomes}))


def figures(facts: Facts, found: dict[str, Finding]) -> dict[str, int | None]:
    statuses = [o.status for o in facts.orders]
    events = facts.kafka.events
    tp = facts.third_party
    # Lost: acknowledged and absent, or present but never brought to an end (stuck,
    # never published, SUCCESS without having reached the third party).
    lost: set[str] = set()
    for name in (
        "acknowledgedOrdersLost",
        "ordersStuck",
        "ordersWithoutEvent",
        "successOrdersWithoutReceipt",
    ):
        lost |= {i for b in found[name].breaches for i in b.orders}
    lost |= set(facts.outbox.unpublished)
    acked = None if facts.acknowledged is None else len({a.sale for a in facts.acknowledged})
    return {
        "orders": len(statuses),
        "ordersSuccess": statuses.count(SUCCESS),
        "ordersFailed": statuses.count(FAILED),
        "ordersPending": statuses.count(PENDING),
        "ordersAcknowledged": acked,
        "kafkaEvents": sum(events.values()),
        "kafkaRedeliveredEvents": sum(n - 1 for n in events.values() if n > 1),
        "kafkaDistinctEvents": len(events),
        "duplicateRecordsAllowed": (
            None if facts.record_bound is None else facts.record_bound.allowed
        ),
        "deadLetters": len(facts.kafka.dead_letters),
        "thirdPartyReceived": tp.received,
        "thirdPartyUnique": tp.unique,
        "thirdPartyRepeats": tp.duplicates,
        "thirdPartyRepeatsAllowed": facts.repeat_bound.allowed(tp.timeouts),
        "thirdPartyLateAnswers": tp.timeouts,
        "outboxUnpublished": len(facts.outbox.unpublished),
        "outboxParked": len(facts.outbox.parked),
        "ordersLost": len(lost),
        "duplicateOrders": found["ordersCreatedTwice"].count,
    }
