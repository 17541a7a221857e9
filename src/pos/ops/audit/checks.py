"""The invariants of the pipeline as pure functions over collected facts.

Each check returns the breaches it found, each naming the orders at fault, so a failed
audit says which orders to look at, not only that something is wrong. The headline
figures (orders lost, duplicate orders, duplicate deliveries) are derived from the same
facts in `figures`, so the report and the chaos results cannot disagree with the checks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pos.ops.audit.facts import Facts, OrderFact

SUCCESS, FAILED, PENDING = "SUCCESS", "FAILED", "PENDING"


@dataclass(frozen=True)
class Breach:
    check: str
    problem: str
    orders: tuple[str, ...]  # order ids, or idempotency keys where no order exists


@dataclass(frozen=True)
class Check:
    name: str
    invariant: str
    run: Callable[[Facts], list[Breach]]


def _breach(check: str, problem: str, orders: Iterable[str]) -> list[Breach]:
    listed = tuple(sorted(orders))
    return [Breach(check, problem.format(n=len(listed)), listed)] if listed else []


def _by_key(orders: Iterable[OrderFact]) -> dict[str, list[OrderFact]]:
    found: dict[str, list[OrderFact]] = defaultdict(list)
    for order in orders:
        found[order.key].append(order)
    return found


def acknowledged_orders_exist(facts: Facts) -> list[Breach]:
    """Every order acknowledged to a till exists, once, with what the till sent."""
    if facts.acknowledged is None:
        return []
    name = "acknowledged-orders-exist"
    by_id = {o.id: o for o in facts.orders}
    by_key = _by_key(facts.orders)
    acked_ids: dict[str, set[str]] = defaultdict(set)
    for ack in facts.acknowledged:
        acked_ids[ack.key].add(ack.order_id)
    missing, altered, rekeyed = set(), set(), set()
    for ack in facts.acknowledged:
        order = by_id.get(ack.order_id)
        if order is None:
            missing.add(ack.order_id)
        elif order.key != ack.key:
            rekeyed.add(ack.order_id)
        elif order.content_hash != ack.content_hash:
            altered.add(ack.order_id)
    split = {k for k, ids in acked_ids.items() if len(ids) > 1}
    repeated = {k for k in acked_ids if len(by_key.get(k, ())) > 1}
    return [
        *_breach(name, "{n} acknowledged orders do not exist", missing),
        *_breach(name, "{n} acknowledged orders carry another idempotency key", rekeyed),
        *_breach(name, "{n} stored orders differ from what the till sent", altered),
        *_breach(name, "{n} keys were acknowledged with different order ids", split),
        *_breach(name, "{n} acknowledged keys have more than one order", repeated),
    ]


def one_order_per_key(facts: Facts) -> list[Breach]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for order in facts.orders:
        groups[(order.scope, order.key)].append(order.id)
    extra = [oid for ids in groups.values() if len(ids) > 1 for oid in ids]
    return _breach("one-order-per-key", "{n} orders share a (scope, key) with another", extra)


def orders_final(facts: Facts) -> list[Breach]:
    pending = (o.id for o in facts.orders if o.status == PENDING)
    return _breach("orders-final", "{n} orders are still PENDING", pending)


def failed_orders_explained(facts: Facts) -> list[Breach]:
    failed = [o for o in facts.orders if o.status == FAILED]
    name = "failed-orders-explained"
    return [
        *_breach(
            name, "{n} FAILED orders have no reason", (o.id for o in failed if not o.last_error)
        ),
        *_breach(
            name,
            "{n} FAILED orders have no message on the dead-letter topic",
            (o.id for o in failed if o.id not in facts.kafka.dead_letters),
        ),
    ]


def deliveries_match_success(facts: Facts) -> list[Breach]:
    """The third party holds exactly the SUCCESS orders: no more, no fewer."""
    name = "deliveries-match-success"
    tp = facts.third_party
    success = {o.id for o in facts.orders if o.status == SUCCESS}
    breaches = []
    if tp.unique != len(success):
        breaches.append(
            Breach(
                name,
                f"the third party counts {tp.unique} unique deliveries "
                f"but {len(success)} orders are SUCCESS",
                (),
            )
        )
    if tp.delivered is None:
        return breaches
    others = {o.id: o.status for o in facts.orders if o.status != SUCCESS}
    return [
        *breaches,
        *_breach(name, "{n} SUCCESS orders never reached the third party", success - tp.delivered),
        *_breach(
            name,
            "{n} orders reached the third party but are not SUCCESS",
            (oid for oid in tp.delivered if oid in others),
        ),
    ]


def no_phantom_deliveries(facts: Facts) -> list[Breach]:
    """Nothing reached the third party that is not an order in the database."""
    delivered = facts.third_party.delivered
    if delivered is None:
        return []
    known = {o.id for o in facts.orders}
    return _breach(
        "no-phantom-deliveries",
        "{n} deliveries are for orders that do not exist",
        delivered - known,
    )


def events_on_kafka(facts: Facts) -> list[Breach]:
    since = facts.kafka.retained_since
    checkable = (o for o in facts.orders if since is None or o.created_at >= since)
    absent = (o.id for o in checkable if not facts.kafka.events.get(o.id))
    return _breach("events-on-kafka", "{n} orders have no event on the order topic", absent)


def outbox_drained(facts: Facts) -> list[Breach]:
    name = "outbox-drained"
    parked = facts.outbox.parked
    reasons = sorted({p.last_error or "no error recorded" for p in parked})
    return [
        *_breach(name, "{n} outbox events are still unpublished", facts.outbox.unpublished),
        *_breach(
            name,
            "{n} outbox events are parked (" + "; ".join(reasons)[:300] + ")",
            (p.order_id for p in parked),
        ),
    ]


CHECKS = (
    Check(
        "acknowledged-orders-exist",
        "every order acknowledged to a till exists exactly once, as sent",
        acknowledged_orders_exist,
    ),
    Check("one-order-per-key", "one order per (scope, idempotency key)", one_order_per_key),
    Check("orders-final", "every order ends SUCCESS or FAILED", orders_final),
    Check(
        "failed-orders-explained",
        "every FAILED order has a reason and a dead letter",
        failed_orders_explained,
    ),
    Check(
        "deliveries-match-success",
        "third-party unique deliveries = SUCCESS orders",
        deliveries_match_success,
    ),
    Check(
        "no-phantom-deliveries",
        "no delivery for an order that does not exist",
        no_phantom_deliveries,
    ),
    Check("events-on-kafka", "every order has its event on Kafka", events_on_kafka),
    Check("outbox-drained", "no outbox event unpublished or parked", outbox_drained),
)
