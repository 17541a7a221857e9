"""The relay's span for each event it sends: from enqueue to the broker's acknowledgement.

Its parent is the span named by the ``traceparent`` the API stored in the outbox row (the
request that created the order), however long the row waited; the record then carries
this span's ``traceparent``, so the consumer's processing is its child.

Written by hand with the messaging semantic conventions rather than with the
confluent-kafka instrumentation: that one wraps ``Producer.produce`` and parents each
record on the span current at the call, and its span ends when ``produce`` returns. The
relay sends a batch of rows of many requests from a loop that belongs to none of them, and
a send is only done when its delivery report arrives on the report thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, Message

from pos import tracing
from pos.messaging.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_TRACEPARENT
from pos.order_publisher.model import OutboxRow

if TYPE_CHECKING:
    from opentelemetry.trace import Span

Headers = list[tuple[str, str | bytes | None]]


def start(row: OutboxRow) -> Span:
    """A PRODUCER span ``send <topic>``, child of the row's stored trace context."""
    from opentelemetry.trace import SpanKind

    return tracing.tracer().start_span(
        f"send {row.topic}",
        context=tracing.context_of(row.headers.get(HEADER_TRACEPARENT)),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.name": "send",
            "messaging.operation.type": "send",
            "messaging.destination.name": row.topic,
            "messaging.message.id": row.event_id,
            "messaging.kafka.message.key": row.aggregate_id,
            "order.id": row.aggregate_id,
            "event.id": row.event_id,
            "outbox.id": row.id,
        },
    )


def headers(row: OutboxRow, span: Span) -> Headers:
    """The record's headers, as ``kafka_sender.kafka_headers`` makes them, but naming
    ``span`` as the parent in ``traceparent``."""
    traceparent = tracing.traceparent_of(span)
    return [
        (HEADER_EVENT_ID, row.event_id),
        (HEADER_EVENT_TYPE, row.event_type),
        *((k, traceparent if k == HEADER_TRACEPARENT else v) for k, v in row.headers.items()),
        *(() if HEADER_TRACEPARENT in row.headers else ((HEADER_TRACEPARENT, traceparent),)),
    ]


DeliveryReport = Callable[[KafkaError | None, Message], None]


def ended_on_delivery(span: Span, report: DeliveryReport) -> DeliveryReport:
    """``report`` (a delivery-report callback), ending ``span`` with the outcome first."""

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            fail(span, err)
        else:
            span.set_attribute("messaging.destination.partition.id", str(msg.partition()))
            span.set_attribute("messaging.kafka.offset", msg.offset())
            span.end()
        report(err, msg)

    return on_delivery


def fail(span: Span, err: KafkaError) -> None:
    from opentelemetry.trace import StatusCode

    span.set_attribute("error.type", err.name())
    span.set_status(StatusCode.ERROR, err.str())
    span.end()
