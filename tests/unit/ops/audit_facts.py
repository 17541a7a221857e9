"""Hand-made facts of a healthy system, for the audit and chaos-results unit tests."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from pos.ops.audit.facts import Facts, KafkaFacts, OrderFact, OutboxFacts, ThirdPartyFacts
from pos.ops.ledger import AckRecord

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def order(n: int, status: str = "SUCCESS", **changes: object) -> OrderFact:
    base = OrderFact(
        id=f"order-{n}",
        scope="default",
        key=f"key-{n}",
        status=status,
        last_error="refused" if status == "FAILED" else None,
        content_hash=f"hash-{n}",
        created_at=T0 + timedelta(seconds=n),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def ack(n: int, **changes: str) -> AckRecord:
    return dataclasses.replace(AckRecord(f"key-{n}", f"order-{n}", f"hash-{n}"), **changes)


def healthy() -> Facts:
    """Three delivered orders and one that failed for good, all as they should be."""
    orders = (order(1), order(2), order(3), order(4, "FAILED"))
    return Facts(
        orders=orders,
        outbox=OutboxFacts(),
        kafka=KafkaFacts(events={o.id: 1 for o in orders}, dead_letters=frozenset({"order-4"})),
        third_party=ThirdPartyFacts(
            received=5,
            unique=3,
            duplicates=2,
            delivered=frozenset({"order-1", "order-2", "order-3"}),
        ),
        acknowledged=tuple(ack(n) for n in (1, 2, 3, 4)),
    )
