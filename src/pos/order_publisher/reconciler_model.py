"""What the reconciler decides, free of I/O: when it runs and what a re-issued event holds.

An order's event is today the only thing that drives its delivery. If that event leaves
Kafka before a consumer read it (topic retention, a recreated topic, a consumer group reset
to latest), the order would stay PENDING for ever; the outbox row that sent it was already
marked published. The reconciler gives such an order a NEW outbox row, so the ordinary
relay publishes it again. Delivery stays at least once: the consumer acknowledges an event
of an order that is already final without calling the third party, and the third party
dedupes on the order id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pos.domain.events import reissue_order_created
from pos.domain.orders import Order
from pos.messaging.kafka import HEADER_REQUEST_ID, HEADER_TRACEPARENT

#: The longest pause between two rounds, whatever the setting: a lost event is noticed
#: within a minute of being due.
MAX_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class StalePending:
    """An order PENDING past the limit with no event waiting or recently published."""

    order: Order
    request_id: str | None
    traceparent: str | None


@dataclass(frozen=True, slots=True)
class Redelivery:
    """A new outbox row for an order: a new event id, the same event otherwise."""

    order_id: uuid.UUID
    event_id: uuid.UUID
    payload: bytes
    headers: dict[str, str]


def interval_seconds(after_seconds: float) -> float:
    """A round every quarter of the limit, at most a minute apart.

    An order becomes due at most one interval before a round sees it, so it is re-enqueued
    between ``after`` and ``after`` plus an interval after its event was published.
    """
    return min(MAX_INTERVAL_SECONDS, after_seconds / 4)


def plan_redeliveries(
    stale: Sequence[StalePending], new_id: Callable[[], uuid.UUID] = uuid.uuid4
) -> list[Redelivery]:
    """One new event per stale order, with the headers the API gives an order's event."""
    return [_redelivery(s, new_id()) for s in stale]


def _redelivery(stale: StalePending, event_id: uuid.UUID) -> Redelivery:
    headers = {}
    if stale.request_id:
        headers[HEADER_REQUEST_ID] = stale.request_id
    if stale.traceparent:
        headers[HEADER_TRACEPARENT] = stale.traceparent
    return Redelivery(
        order_id=stale.order.id,
        event_id=event_id,
        payload=reissue_order_created(stale.order, event_id),
        headers=headers,
    )
