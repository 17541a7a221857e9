"""The operator's view of the outbox: figures, parked (poison) rows, re-queueing them.

Plain synchronous functions over a psycopg connection, so `pos outbox ...` and `pos status`
call them the same way and neither needs an event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from pos.order_publisher.outbox_store import BACKLOG_SQL
from pos.order_publisher.wakeup import CHANNEL

Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class OutboxStats:
    backlog: int
    oldest_unpublished_age_seconds: float | None
    parked: int


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    id: int
    event_id: uuid.UUID
    aggregate_id: uuid.UUID
    event_type: str
    topic: str
    attempts: int
    last_error: str | None
    created_at: datetime
    parked_at: datetime


# Parked rows are rare and have no index of their own: one pass over what is unpublished.
_PARKED_COUNT_SQL = "SELECT count(*) FROM outbox WHERE NOT published AND parked_at IS NOT NULL"

_LIST_PARKED_SQL = """
SELECT id, event_id, aggregate_id, event_type, topic, attempts, last_error, created_at, parked_at
FROM outbox WHERE NOT published AND parked_at IS NOT NULL
ORDER BY id LIMIT %s
"""

# A fresh set of attempts, due at once; last_error stays as the history of why it parked.
_REQUEUE_SQL = """
UPDATE outbox SET parked_at = NULL, attempts = 0, next_attempt_at = NULL
WHERE NOT published AND parked_at IS NOT NULL AND (%(all)s OR id = ANY(%(ids)s))
"""


def outbox_stats(conn: Connection) -> OutboxStats:
    count, age = _one(conn, BACKLOG_SQL)
    (parked,) = _one(conn, _PARKED_COUNT_SQL)
    return OutboxStats(
        backlog=int(str(count)),
        oldest_unpublished_age_seconds=None if age is None else float(str(age)),
        parked=int(str(parked)),
    )


def _one(conn: Connection, sql: str) -> tuple[object, ...]:
    row = conn.execute(sql).fetchone()
    assert row is not None  # aggregates always return a row
    return row


def list_parked(conn: Connection, limit: int = 50) -> list[ParkedEvent]:
    with conn.cursor(row_factory=psycopg.rows.class_row(ParkedEvent)) as cur:
        return cur.execute(_LIST_PARKED_SQL, (limit,)).fetchall()


def requeue(conn: Connection, ids: Sequence[int] | None = None) -> int:
    """Give parked rows (the given ids, or all) a fresh set of attempts; returns how many.

    The NOTIFY wakes idle relays at once: the insert trigger only fires for new rows.
    """
    with conn.transaction():
        cur = conn.execute(_REQUEUE_SQL, {"all": ids is None, "ids": list(ids or [])})
        if cur.rowcount:
            conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return cur.rowcount


def broker_available(metrics_url: str, timeout: float = 2.0) -> bool | None:
    """Whether a running relay currently gets acknowledgements from Kafka, from its /metrics.

    None when the relay does not answer: the state lives in the relay, not in the database.
    """
    try:
        text = httpx.get(metrics_url, timeout=timeout).text
    except httpx.HTTPError:
        return None
    for family in text_string_to_metric_families(text):
        if family.name == "pos_publisher_broker_available":
            return any(sample.value >= 1 for sample in family.samples)
    return None
