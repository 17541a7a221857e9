"""Hand-made facts of a healthy system, for the audit and chaos-results unit tests."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from pos.ops.audit.commits import CommitRecord
from pos.ops.audit.facts import Facts, KafkaFacts, OrderFact, OutboxFacts, ThirdPartyFacts
from pos.ops.audit.records import RecordBound
from pos.ops.ledger import AckRecord

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TOPIC = "order.created"


def order(n: int, status: str = "SUCCESS", **changes: object) -> OrderFact:
    base = OrderFact(
        id=f"order-{n}",
        scope="store-1/till-1",
        key=f"key-{n}",
        status=status,
        last_error="refused" if status == "FAILED" else None,
        content_hash=f"hash-{n}",
        created_at=T0 + timedelta(seconds=n),
        final_at=None if status == "PENDING" else T0 + timedelta(seconds=n + 1),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def ack(n: int, **changes: str) -> AckRecord:
    base = AckRecord(f"key-{n}", f"order-{n}", f"hash-{n}", "store-1/till-1", f"sale-{n}")
    return dataclasses.replace(base, **changes)


def commit(offset: int, seconds: float, partition: int = 0) -> CommitRecord:
    return CommitRecord(TOPIC, partition, offset, T0 + timedelta(seconds=seconds), "member-1")


def healthy() -> Facts:
    """Three delivered orders and one that failed for good, all as they should be.

    The third party answered two calls late and got each retried once (two repeats,
    explained by the two late answers); the consumer committed past each order only
    after it was final (order n is final at second n + 1, committed at n + 2).
    """
    orders = (order(1), order(2), order(3), order(4, "FAILED"))
    return Facts(
        orders=orders,
        outbox=OutboxFacts(),
        kafka=KafkaFacts(
            topic=TOPIC,
            events={o.id: 1 for o in orders},
            dead_letters=frozenset({"order-4"}),
            offsets={0: [(n - 1, f"order-{n}") for n in (1, 2, 3, 4)]},
        ),
        third_party=ThirdPartyFacts(
            received=5,
            unique=3,
            duplicates=2,
            timeouts=2,
            delivered=frozenset({"order-1", "order-2", "order-3"}),
        ),
        acknowledged=tuple(ack(n) for n in (1, 2, 3, 4)),
        commits=tuple(commit(n, n + 2) for n in (1, 2, 3, 4)),
        record_bound=RecordBound(),  # no relay was cut: not one duplicate record allowed
    )
