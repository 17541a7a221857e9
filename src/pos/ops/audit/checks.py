"""The invariants about orders as pure functions over collected facts.

Orders are matched to the ledger by (scope, key), as the API scopes idempotency keys per
device: two tills numbering their keys alike are two sales, not a duplicate. Each check
returns a `Finding` naming the orders at fault, so a failed audit says which orders to
look at, not only that something is wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pos.ops.audit.facts import Facts, OrderFact
from pos.ops.audit.finding import Finding, breach, counted, not_measured

SUCCESS, FAILED, PENDING = "SUCCESS", "FAILED", "PENDING"
NO_LEDGER = "no ledger given (--ledger)"


def by_scoped_key(orders: Iterable[OrderFact]) -> dict[tuple[str, str], list[OrderFact]]:
    found: dict[tuple[str, str], list[OrderFact]] = defaultdict(list)
    for order in orders:
        found[(order.scope, order.key)].append(order)
    return found


def acknowledged_orders_lost(facts: Facts) -> Finding:
    """An acknowledgement whose (scope, key) holds no order: the till was told "stored"."""
    if facts.acknowledged is None:
        return not_measured(NO_LEDGER)
    stored = by_scoped_key(facts.orders)
    lost = {a.order_id for a in facts.acknowledged if (a.scope, a.key) not in stored}
    return counted("acknowledgedOrdersLost", "{n} acknowledged orders do not exist", lost)


def acknowledged_orders_altered(facts: Facts) -> Finding:
    """The order under an acknowledged (scope, key) is the one the till was told, as sent."""
    if facts.acknowledged is None:
        return not_measured(NO_LEDGER)
    name = "acknowledgedOrdersAltered"
    stored = by_scoped_key(facts.orders)
    other_id, altered = set(), set()
    for ack in facts.acknowledged:
        orders = stored.get((ack.scope, ack.key), [])
        if orders and ack.order_id not in {o.id for o in orders}:
            other_id.add(ack.order_id)
        altered |= {
            o.id for o in orders if o.id == ack.order_id and o.content_hash != ack.content_hash
        }
    found = (
        *breach(name, "{n} acknowledged ids are not the order under their key", other_id),
        *breach(name, "{n} stored orders differ from what the till sent", altered),
    )
    return Finding(len(other_id | altered), found)


class _Groups:
    """Union-find over order ids: ids joined when they must be one order."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self._parent.setdefault(x, x)
        while self._parent[x] != x:
            self._parent[x] = self._parent[self._parent[x]]
            x = self._parent[x]
        return x

    def join(self, ids: Iterable[str]) -> None:
        first, *rest = list(ids) or [""]
        for other in rest:
            self._parent[self.find(other)] = self.find(first)

    def groups(self) -> list[set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for x in list(self._parent):
            found[self.find(x)].add(x)
        return list(found.values())


def sale_groups(facts: Facts) -> list[set[str]]:
    """The order ids behind each sale: exactly one each when all is well.

    Ids are one sale when they share a (scope, key) in the database (which its UNIQUE
    constraint should make impossible), when the ledger acknowledged them for one key, or
    when the ledger says they were one sale sent under several keys.
    """
    groups = _Groups()
    for orders in by_scoped_key(facts.orders).values():
        groups.join(o.id for o in orders)
    stored = by_scoped_key(facts.orders)
    acked: dict[str, set[str]] = defaultdict(set)
    for ack in facts.acknowledged or ():
        acked[ack.sale].add(ack.order_id)
        acked[ack.sale] |= {o.id for o in stored.get((ack.scope, ack.key), [])}
    for ids in acked.values():
        groups.join(ids)
    return groups.groups()


def orders_created_twice(facts: Facts) -> Finding:
    twins = [ids for ids in sale_groups(facts) if len(ids) > 1]
    found = breach(
        "ordersCreatedTwice",
        "{n} orders belong to a sale that has another order",
        (i for ids in twins for i in ids),
    )
    return Finding(sum(len(ids) - 1 for ids in twins), found)


def orders_stuck(facts: Facts) -> Finding:
    pending = (o.id for o in facts.orders if o.status == PENDING)
    return counted("ordersStuck", "{n} orders are still PENDING", pending)


def failed_orders_unexplained(facts: Facts) -> Finding:
    failed = [o for o in facts.orders if o.status == FAILED]
    name = "failedOrdersUnexplained"
    silent = {o.id for o in failed if not o.last_error}
    no_letter = {o.id for o in failed if o.id not in facts.kafka.dead_letters}
    found = (
        *breach(name, "{n} FAILED orders have no reason", silent),
        *breach(name, "{n} FAILED orders have no message on the dead-letter topic", no_letter),
    )
    return Finding(len(silent | no_letter), found)


def orders_without_event(facts: Facts) -> Finding:
    since = facts.kafka.retained_since
    checkable = (o for o in facts.orders if since is None or o.created_at >= since)
    absent = (o.id for o in checkable if not facts.kafka.events.get(o.id))
    return counted("ordersWithoutEvent", "{n} orders have no event on the order topic", absent)


def events_without_order(facts: Facts) -> Finding:
    known = {o.id for o in facts.orders}
    orphans = (oid for oid in facts.kafka.events if oid not in known)
    return counted("eventsWithoutOrder", "{n} events on the order topic have no order", orphans)


def outbox_undrained(facts: Facts) -> Finding:
    name = "outboxUndrained"
    parked = facts.outbox.parked
    reasons = sorted({p.last_error or "no error recorded" for p in parked})
    waiting = set(facts.outbox.unpublished)
    found = (
        *breach(name, "{n} outbox events are still unpublished", waiting),
        *breach(
            name,
            "{n} outbox events are parked (" + "; ".join(reasons)[:300] + ")",
            (p.order_id for p in parked),
        ),
    )
    return Finding(len(waiting) + len(parked), found)
