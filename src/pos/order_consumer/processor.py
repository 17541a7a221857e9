"""What happens to one message, from the moment it is polled to its final status.

    decode ──malformed──────────────────────────────────────▶ dead letter
      │
    status in the DB (one query per polled batch) ──SUCCESS──▶ acknowledged, no call
      │ PENDING                 ──FAILED: receipt held?──yes─▶ corrected to SUCCESS
      │                         ──not in the DB─────────────▶ dead letter
    wait while the breaker is open (no budget spent)
    call the third party ──2xx──────────────────────────────▶ SUCCESS + receipt
      │ ▲ transient / unknown: wait (an asyncio timer)
      └─┘ refused (400/422), or a budget spent
            └─▶ receipt held? ──yes──▶ SUCCESS     ──no──▶ dead letter, FAILED

The final status follows the evidence: an order the third party accepted never ends
FAILED, whichever copy of its event got there first (see ``repository``).

Each message is its own task, so a message waiting out a back-off holds only its own
in-flight slot: the messages behind it on its partition go on being delivered, and only
the partition's commit position waits for it (see :mod:`offsets`).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from typing import NamedTuple

import asyncpg
import orjson
from confluent_kafka import Message

from pos import tracing
from pos.domain.events import MalformedEventError, OrderEvent, decode_event
from pos.domain.status import OrderStatus
from pos.logging import get_logger
from pos.messaging.kafka import HEADER_REQUEST_ID, HEADER_TRACEPARENT
from pos.order_consumer import spans
from pos.order_consumer.dead_letters import DeadLetters
from pos.order_consumer.metrics import ConsumerMetrics
from pos.order_consumer.outcomes import Delivered, Unknown
from pos.order_consumer.repository import FinalStatus, StatusWriter, final_statuses
from pos.order_consumer.retry import Attempts, DeliveryRetryPolicy, GiveUp, RetryIn
from pos.order_consumer.third_party_client import Held, NoAnswer, ThirdPartyClient

log = get_logger(__name__)

StatusLookup = asyncio.Future[dict[uuid.UUID, OrderStatus]]


class _Decoded(NamedTuple):
    event: OrderEvent
    order_id: uuid.UUID  # parsed once: building a UUID costs microseconds each time


class OrderProcessor:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        client: ThirdPartyClient,
        writer: StatusWriter,
        dead_letters: DeadLetters,
        policy: DeliveryRetryPolicy,
        metrics: ConsumerMetrics,
        rng: random.Random | None = None,
    ) -> None:
        self._pool = pool
        self._client = client
        self._writer = writer
        self._dead_letters = dead_letters
        self._policy = policy
        self._metrics = metrics
        self._rng = rng or random.Random()

    def start(self, messages: Sequence[Message]) -> list[asyncio.Task[None]]:
        """One task per message, in order; they share one status query for the batch."""
        events: list[_Decoded | MalformedEventError] = []
        for message in messages:
            try:
                event = decode_event(message.value())
                events.append(_Decoded(event, event.order_id))
            except MalformedEventError as exc:
                events.append(exc)
        ids = [e.order_id for e in events if isinstance(e, _Decoded)]
        lookup: StatusLookup = asyncio.ensure_future(final_statuses(self._pool, ids))
        return [
            asyncio.create_task(self._process(message, decoded, lookup))
            for message, decoded in zip(messages, events, strict=True)
        ]

    async def _process(
        self,
        message: Message,
        decoded: _Decoded | MalformedEventError,
        lookup: StatusLookup,
    ) -> None:
        if not tracing.enabled():
            await self._handle(message, decoded, lookup)
            return
        order_id = str(decoded.order_id) if isinstance(decoded, _Decoded) else None
        with spans.processing(message, order_id):
            await self._handle(message, decoded, lookup)

    async def _handle(
        self,
        message: Message,
        decoded: _Decoded | MalformedEventError,
        lookup: StatusLookup,
    ) -> None:
        if isinstance(decoded, MalformedEventError):
            await self._dead_letter(message, str(decoded), attempts=0, kind="malformed")
            return
        order_id = decoded.order_id
        # Shielded: the lookup is shared by the batch's tasks, of every partition; one of
        # them cancelled (its partition revoked) must not cancel it for the others.
        status = (await asyncio.shield(lookup)).get(order_id)
        if status is None:
            # The outbox commits the order before its event exists, so this is an event
            # from elsewhere (or a restored database): nothing to deliver or to mark.
            await self._dead_letter(message, "order not in the database", 0, kind="unknown")
        elif status is OrderStatus.FAILED and self._client.looks_up_receipts:
            await self._settle_failed(order_id)
        elif status.is_final:
            self._metrics.skipped.inc()
        else:
            await self._deliver(message, order_id, orjson.dumps(decoded.event.order))

    async def _settle_failed(self, order_id: uuid.UUID) -> None:
        """A FAILED order's event came again (a redelivery, a second copy): if the third
        party holds a receipt after all, the order was delivered and says so."""
        found = await self._client.receipt(order_id)
        if isinstance(found, Held):
            await self._record_success(order_id, found.receipt_ref, attempts=0)
        else:
            self._metrics.skipped.inc()

    async def _record_success(
        self, order_id: uuid.UUID, receipt_ref: str | None, *, attempts: int
    ) -> None:
        replaced = await self._writer.write(
            FinalStatus(order_id, OrderStatus.SUCCESS, attempts, receipt_ref=receipt_ref)
        )
        if replaced is OrderStatus.FAILED:
            self._metrics.corrected.inc()
            log.warning(
                "FAILED order corrected to SUCCESS: the third party holds its receipt",
                order_id=str(order_id),
                receipt_ref=receipt_ref,
            )
        self._metrics.succeeded.inc()

    async def _deliver(self, message: Message, order_id: uuid.UUID, body: bytes) -> None:
        trace = trace_headers(message)
        attempts = Attempts()
        while True:
            attempts.calls += 1
            call = await self._client.deliver(order_id, body, trace)
            outcome = call.outcome
            if isinstance(outcome, Delivered):
                await self._record_success(order_id, outcome.receipt_ref, attempts=attempts.calls)
                # DEBUG: one line per order is as costly as the rest of its handling; with
                # LOG_LEVEL=DEBUG an order can be followed by its id from API to here.
                log.debug(
                    "order delivered",
                    order_id=str(order_id),
                    request_id=trace.get(HEADER_REQUEST_ID),
                    traceparent=trace.get(HEADER_TRACEPARENT),
                    partition=message.partition(),
                    offset=message.offset(),
                    attempts=attempts.calls,
                    receipt_ref=outcome.receipt_ref,
                )
                return
            if isinstance(outcome, Unknown):
                kind = "answered" if outcome.answered else "no_answer"
                self._metrics.unknown_outcomes.labels(kind).inc()
            step = self._policy.after_failure(attempts, outcome, call.counts, self._rng)
            if isinstance(step, GiveUp):
                # Before giving up: did an earlier call get through after all?
                found = await self._client.receipt(order_id)
                if isinstance(found, Held):
                    await self._record_success(order_id, found.receipt_ref, attempts=attempts.calls)
                    return
                if isinstance(found, NoAnswer) and self._client.looks_up_receipts:
                    # The lookup itself failed: nothing is known, so nothing is given up.
                    step = RetryIn(self._policy.backoff(attempts.calls, self._rng))
            if isinstance(step, RetryIn):
                self._metrics.retries.inc()
                await asyncio.sleep(step.seconds)
                continue
            # Dead letter first, acknowledged; only then FAILED (and then the offset).
            await self._dead_letter(message, step.reason, attempts.calls, kind=step.kind)
            await self._writer.write(
                FinalStatus(order_id, OrderStatus.FAILED, attempts.calls, last_error=step.reason)
            )
            log.warning(
                "order failed",
                order_id=str(order_id),
                request_id=trace.get(HEADER_REQUEST_ID),
                attempts=attempts.calls,
                reason=step.reason,
            )
            return

    async def _dead_letter(self, message: Message, reason: str, attempts: int, kind: str) -> None:
        await self._dead_letters.send(message, reason=reason, attempts=attempts)
        self._metrics.failed.labels(kind).inc()
        if kind in ("malformed", "unknown"):
            log.warning(
                "event dead-lettered",
                reason=reason,
                partition=message.partition(),
                offset=message.offset(),
            )


def trace_headers(message: Message) -> dict[str, str]:
    """The correlation headers the API put in the outbox row, as the relay sent them."""
    wanted = (HEADER_REQUEST_ID, HEADER_TRACEPARENT)
    found: dict[str, str] = {}
    pairs: list[tuple[str, bytes | str | None]] = list(message.headers() or [])  # type: ignore[arg-type]
    for key, value in pairs:
        if key in wanted and value is not None:
            found[key] = value.decode(errors="replace") if isinstance(value, bytes) else value
    return found
