"""The one way the operator tools read the running system's figures.

`pos status` and the auditor (`pos verify`, `pos chaos`) both need the orders counted by
status, the outbox backlog, every partition's watermarks (and a group's commits) and the
third party's counters (`GET /stats`). They read them here, so the two can never disagree
on what a figure means; each keeps its own use of them: the status screen turns errors
into "down" and draws them, the auditor refuses to conclude and checks invariants.

Plain synchronous functions with the caller's time-out: neither tool runs an event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import psycopg
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from pos.domain.status import OrderStatus
from pos.order_publisher.admin import OutboxStats, outbox_stats

Connection = psycopg.Connection[tuple[object, ...]]

ORDERS_BY_STATUS_SQL = "SELECT status, count(*) FROM orders GROUP BY status"

# The first entry of ix_orders_status_created_at_id: cheap however many orders there are.
OLDEST_PENDING_SQL = """
SELECT extract(epoch FROM now() - min(created_at))::float8 FROM orders WHERE status = 'PENDING'
"""


@dataclass(frozen=True)
class DatabaseFigures:
    """The database's side of the pipeline at one moment."""

    orders: dict[str, int]  # orders per status, only the statuses present
    # Backlog (unpublished, not parked), its oldest row's age, parked (poison) rows: the
    # publisher's own admin figures, so no tool disagrees with `pos outbox stats`.
    outbox: OutboxStats
    # How long the oldest PENDING order has waited; None when none is PENDING.
    oldest_pending_age_seconds: float | None

    @property
    def pending(self) -> int:
        return self.orders.get(OrderStatus.PENDING.value, 0)

    @property
    def final(self) -> int:
        return sum(n for status, n in self.orders.items() if status != OrderStatus.PENDING.value)


def order_counts(conn: Connection) -> dict[str, int]:
    return {str(status): int(str(n)) for status, n in conn.execute(ORDERS_BY_STATUS_SQL)}


def database_figures(conn: Connection) -> DatabaseFigures:
    counts = order_counts(conn)
    outbox = outbox_stats(conn)
    oldest = conn.execute(OLDEST_PENDING_SQL).fetchone()
    age = None if oldest is None or oldest[0] is None else float(str(oldest[0]))
    return DatabaseFigures(counts, outbox, age)


@dataclass(frozen=True)
class Offsets:
    """One partition's offsets as read from the broker; ``committed`` None = no commit yet."""

    partition: int
    low: int
    high: int
    committed: int | None = None


def _list_offsets(
    client: AdminClient, tps: list[TopicPartition], spec: OffsetSpec, timeout: float
) -> dict[int, int]:
    futures = client.list_offsets({tp: spec for tp in tps}, request_timeout=timeout)
    return {tp.partition: future.result().offset for tp, future in futures.items()}


def _committed(
    client: AdminClient, group: str, tps: list[TopicPartition], timeout: float
) -> dict[int, int]:
    request = [ConsumerGroupTopicPartitions(group, tps)]
    result = client.list_consumer_group_offsets(request, request_timeout=timeout)[group].result()
    # A negative offset is librdkafka's "nothing committed" (OFFSET_INVALID).
    return {tp.partition: tp.offset for tp in result.topic_partitions if tp.offset >= 0}


def topic_offsets(
    client: AdminClient, topic: str, group: str | None = None, *, timeout: float
) -> tuple[Offsets, ...] | None:
    """Watermarks (and the group's commits) of every partition, by partition; None if the
    topic is missing. Raises ``KafkaException`` when the broker does not answer."""
    meta = client.list_topics(topic=topic, timeout=timeout).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        return None
    ids = sorted(meta.partitions)
    tps = [TopicPartition(topic, p) for p in ids]
    low = _list_offsets(client, tps, OffsetSpec.earliest(), timeout)  # type: ignore[no-untyped-call]
    high = _list_offsets(client, tps, OffsetSpec.latest(), timeout)  # type: ignore[no-untyped-call]
    committed = _committed(client, group, tps, timeout) if group else {}
    return tuple(Offsets(p, low[p], high[p], committed.get(p)) for p in ids)


def group_state(client: AdminClient, group: str, *, timeout: float) -> tuple[str, int]:
    """The consumer group's state (``stable``, ``empty``, ...) and its number of members."""
    description = client.describe_consumer_groups([group], request_timeout=timeout)[group].result()
    return str(description.state.name).lower(), len(description.members)


def third_party_stats(url: str, *, timeout: float) -> dict[str, int]:
    """The third party's counters (``received``, ``unique``, ``duplicates``, ...).

    Only numeric members are kept. Raises ``httpx.HTTPError`` when it does not answer
    with a success, ``ValueError`` when the answer is not JSON.
    """
    response = httpx.get(f"{url.rstrip('/')}/stats", timeout=timeout)
    response.raise_for_status()
    body = response.json()
    return {
        str(k): int(v)
        for k, v in (body.items() if isinstance(body, dict) else ())
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
