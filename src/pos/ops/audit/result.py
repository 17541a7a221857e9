"""Run every check over the facts and derive the headline figures. Pure, no I/O."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pos.ops.audit.checks import CHECKS, FAILED, PENDING, SUCCESS, Breach, Check
from pos.ops.audit.facts import Facts


@dataclass(frozen=True)
class CheckOutcome:
    check: Check
    breaches: tuple[Breach, ...]
    note: str = ""  # why a check ran only in part (no ledger, receipts not listable)

    @property
    def passed(self) -> bool:
        return not self.breaches


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


def _note(check: Check, facts: Facts) -> str:
    if check.name == "acknowledged-orders-exist" and facts.acknowledged is None:
        return "skipped: no ledger given (--ledger)"
    if check.name in {"deliveries-match-success", "no-phantom-deliveries"}:
        if facts.third_party.delivered is None:
            return "counts only: the third party's receipts could not be listed"
        return f"receipts from {facts.third_party.source}"
    return ""


def audit(facts: Facts) -> AuditResult:
    outcomes = tuple(CheckOutcome(c, tuple(c.run(facts)), _note(c, facts)) for c in CHECKS)
    return AuditResult(outcomes, figures(facts))


def _till_orders(facts: Facts) -> list[set[str]]:
    """The order ids behind each till request: exactly one id each when all is well.

    A request is a (scope, key) in the database; a key from the ledger stands for one
    request whatever scope its orders carry (the simulator does not know scopes), and the
    ids it was acknowledged with join it, so a duplicate shows on whichever side it is.
    """
    acked = {a.key for a in facts.acknowledged or ()}
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for order in facts.orders:
        scope = "*" if order.key in acked else order.scope
        groups[(scope, order.key)].add(order.id)
    for ack in facts.acknowledged or ():
        groups[("*", ack.key)].add(ack.order_id)
    return list(groups.values())


def figures(facts: Facts) -> dict[str, int | None]:
    statuses = [o.status for o in facts.orders]
    events = facts.kafka.events
    tp = facts.third_party
    since = facts.kafka.retained_since
    known = {o.id for o in facts.orders}

    lost = {a.order_id for a in facts.acknowledged or () if a.order_id not in known}
    lost |= {o.id for o in facts.orders if o.status == PENDING}
    lost |= {
        o.id
        for o in facts.orders
        if not events.get(o.id) and (since is None or o.created_at >= since)
    }
    lost |= set(facts.outbox.unpublished)
    if tp.delivered is not None:
        lost |= {o.id for o in facts.orders if o.status == SUCCESS} - tp.delivered

    till_orders = _till_orders(facts)
    if tp.delivered is not None:
        delivered = tp.delivered
        twice = sum(max(0, len(ids & delivered) - 1) for ids in till_orders)
        duplicate_deliveries = twice + max(0, tp.unique - len(delivered))
    else:  # without the receipts, only "more unique deliveries than orders" shows
        duplicate_deliveries = max(0, tp.unique - len(facts.orders))

    acked = None if facts.acknowledged is None else len({a.key for a in facts.acknowledged})
    return {
        "orders": len(statuses),
        "ordersSuccess": statuses.count(SUCCESS),
        "ordersFailed": statuses.count(FAILED),
        "ordersPending": statuses.count(PENDING),
        "ordersAcknowledged": acked,
        "kafkaEvents": sum(events.values()),
        "kafkaRedeliveredEvents": sum(n - 1 for n in events.values() if n > 1),
        "deadLetters": len(facts.kafka.dead_letters),
        "thirdPartyReceived": tp.received,
        "thirdPartyUnique": tp.unique,
        "thirdPartyDuplicatesAbsorbed": tp.duplicates,
        "outboxUnpublished": len(facts.outbox.unpublished),
        "outboxParked": len(facts.outbox.parked),
        "ordersLost": len(lost),
        "duplicateOrders": sum(len(ids) - 1 for ids in till_orders),
        "duplicateDeliveries": duplicate_deliveries,
    }
