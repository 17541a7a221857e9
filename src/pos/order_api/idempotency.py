"""The idempotency service: one order per Idempotency-Key, whatever the retries and races.

The ``scope`` parameter is the namespace of keys: the authenticated device
(``Device.idempotency_scope``), so two devices using the same key get two orders and
never each other's stored answer.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pos import tracing
from pos.domain.idempotency import KeyExpired, Replay, RetryVerdict, judge_retry
from pos.domain.intake import AcceptedOrder, OrderRequest, accept
from pos.logging import get_logger
from pos.messaging.kafka import HEADER_REQUEST_ID, HEADER_TRACEPARENT
from pos.order_api.context import RequestContext
from pos.order_api.store import Inserted, IntakeStore, KeyLockedError, KeySpentError

log = get_logger(__name__)

#: The span of the intake's one statement (order, items, outbox row, key: one transaction).
INTAKE_SPAN = "order intake"


@dataclass(frozen=True, slots=True)
class Created:
    accepted: AcceptedOrder


@dataclass(frozen=True, slots=True)
class KeyInFlight:
    """The first request with this key is still running: the client should retry soon."""


IntakeOutcome = Created | KeyInFlight | RetryVerdict


class IdempotentIntake:
    def __init__(self, store: IntakeStore, *, topic: str, retention: timedelta) -> None:
        self._store = store
        self._topic = topic
        self._retention = retention

    async def place(
        self, request: OrderRequest, *, scope: str, key: str, context: RequestContext
    ) -> IntakeOutcome:
        created_at = datetime.now(UTC)
        accepted = accept(
            request, order_id=uuid.uuid4(), event_id=uuid.uuid4(), created_at=created_at
        )
        if not tracing.enabled():
            return await self._place(accepted, scope, key, context.request_id, context.traceparent)
        # The intake's span is the one the outbox row names as the parent of what follows:
        # the relay's send of the event is its child, and the consumer's work the send's.
        with tracing.tracer().start_as_current_span(INTAKE_SPAN) as span:
            traceparent = tracing.traceparent_of(span)
            outcome = await self._place(accepted, scope, key, context.request_id, traceparent)
            span.set_attribute("idempotency.outcome", type(outcome).__name__)
            # Only a new order has these ids: a replay's order is the stored one.
            if isinstance(outcome, Created):
                span.set_attribute("order.id", str(accepted.order.id))
                span.set_attribute("event.id", str(accepted.event_id))
            elif isinstance(outcome, Replay):
                span.set_attribute("order.id", str(outcome.response.order_id))
            return outcome

    async def _place(
        self, accepted: AcceptedOrder, scope: str, key: str, request_id: str, traceparent: str
    ) -> IntakeOutcome:
        created_at = accepted.order.created_at
        try:
            taken = await self._store.insert(
                accepted,
                scope=scope,
                key=key,
                expires_at=created_at + self._retention,
                topic=self._topic,
                request_id=request_id,
                event_headers={HEADER_REQUEST_ID: request_id, HEADER_TRACEPARENT: traceparent},
            )
        except KeyLockedError:
            log.info("idempotency key in flight", key=key)
            return KeyInFlight()
        except KeySpentError:
            return await self._spent(scope, key)
        if isinstance(taken, Inserted):
            # DEBUG: a line per order would cost as much CPU as the rest of the request;
            # the order row keeps the request id, and metrics count what was accepted.
            log.debug("order accepted", order_id=str(accepted.order.id), key=key)
            return Created(accepted)
        stored = taken or await self._store.stored_response(scope, key)
        if stored is None:
            # The record expired and was swept between our insert and this read.
            return await self._spent(scope, key)
        verdict = judge_retry(stored, accepted.fingerprint, datetime.now(UTC))
        # A replay is a till doing its job (retrying) and is counted in metrics; a body
        # mismatch or an expired key is a client bug worth a line at INFO.
        log.log(
            logging.DEBUG if isinstance(verdict, Replay) else logging.INFO,
            "idempotency key seen before",
            key=key,
            order_id=str(stored.order_id),
            verdict=type(verdict).__name__,
        )
        return verdict

    async def _spent(self, scope: str, key: str) -> KeyExpired:
        order_id = await self._store.order_of_key(scope, key)
        if order_id is None:  # orders are never deleted: a broken invariant, a 500
            raise RuntimeError(f"idempotency key {key!r} is spent but owns no order")
        log.info("idempotency key expired", key=key, order_id=str(order_id))
        return KeyExpired(order_id)
