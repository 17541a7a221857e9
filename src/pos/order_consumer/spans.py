"""The consumer's spans: the processing of one event, and each HTTP call it makes.

Processing is a CONSUMER span ``process <topic>`` whose parent is the ``traceparent`` the
record carries (the relay's send), current for the whole of the message's task, so the
status write and every call to the third party are its children. A call is a CLIENT span
``<METHOD> <route>``, and the request carries that span's ``traceparent``: whatever the
third party records of the call joins the order's trace below it.

Written by hand with the messaging semantic conventions rather than with the
confluent-kafka instrumentation: that one makes a span around each ``poll``, ended at the
next one, while here each message is processed in a task of its own, concurrently with
the others and long after the poll that fetched it. The HTTP client is the project's own
(``http_pool``), so its span is written here too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from confluent_kafka import Message

from pos import tracing
from pos.messaging.kafka import HEADER_EVENT_ID, HEADER_TRACEPARENT

if TYPE_CHECKING:
    from opentelemetry.trace import Span


def _header(message: Message, name: str) -> str | None:
    pairs: list[tuple[str, bytes | str | None]] = list(message.headers() or [])  # type: ignore[arg-type]
    for key, value in pairs:
        if key == name and value is not None:
            return value.decode(errors="replace") if isinstance(value, bytes) else value
    return None


@contextlib.contextmanager
def processing(message: Message, order_id: str | None) -> Iterator[Span]:
    """The current span while ``message`` is handled; an exception marks it failed."""
    from opentelemetry.trace import SpanKind

    topic = message.topic() or ""
    event_id = _header(message, HEADER_EVENT_ID)
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(message.partition()),
        "messaging.kafka.offset": message.offset() or 0,
    }
    if event_id is not None:
        attributes["messaging.message.id"] = event_id
        attributes["event.id"] = event_id
    if order_id is not None:
        attributes["messaging.kafka.message.key"] = order_id
        attributes["order.id"] = order_id
    with tracing.tracer().start_as_current_span(
        f"process {topic}",
        context=tracing.context_of(_header(message, HEADER_TRACEPARENT)),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ) as span:
        yield span


@contextlib.contextmanager
def client_call(method: str, route: str, url: str, host: str, port: int) -> Iterator[Span]:
    """A CLIENT span for one HTTP request, child of the current span."""
    from opentelemetry.trace import SpanKind

    with tracing.tracer().start_as_current_span(
        f"{method} {route}",
        kind=SpanKind.CLIENT,
        attributes={
            "http.request.method": method,
            "url.full": url,
            "url.template": route,
            "server.address": host,
            "server.port": port,
        },
    ) as span:
        yield span


def answered(span: Span, status: int) -> None:
    """Record the answer's status; 5xx is the server's failure, hence the call's."""
    from opentelemetry.trace import StatusCode

    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_attribute("error.type", str(status))
        span.set_status(StatusCode.ERROR)


def with_traceparent(headers: dict[str, str] | None, span: Span) -> dict[str, str]:
    """``headers`` with the call's own span as the callee's parent."""
    return {**(headers or {}), HEADER_TRACEPARENT: tracing.traceparent_of(span)}
