"""What one call to the third party meant, decided from its HTTP answer. Pure, no I/O.

Four meanings, because they call for four different reactions:

============================  ==========================  ===============================
answer                        meaning                     reaction
============================  ==========================  ===============================
2xx                           :class:`Delivered`          SUCCESS with the receipt
400, 410, 413, 415, 422,      :class:`Refused`            the order itself is refused:
any other 4xx not below                                   FAILED + dead letter at once
5xx, connection refused       :class:`Transient`          retry; spends the order's budget
timeout, 408, 409, 425, 429   :class:`Unknown`            retry; the call may have been
                                                          processed (a timeout), or is
                                                          being processed (409 "key in
                                                          progress"): it spends no budget,
                                                          and before giving up the receipt
                                                          is looked up
401, 403, 404, 405, 407       :class:`Misconfigured`      the destination rejects every
                                                          call (credentials, URL): the
                                                          breaker opens, nothing fails
============================  ==========================  ===============================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import orjson

MAX_REASON_CHARS = 300
MAX_RECEIPT_CHARS = 128  # the orders.receipt_ref column


@dataclass(frozen=True, slots=True)
class Delivered:
    receipt_ref: str | None
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


@dataclass(frozen=True, slots=True)
class Transient:
    """The destination failed this call and (as far as an answer can say) did not keep it."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Unknown:
    """No definite answer: the call may have been processed (a timeout) or is being
    processed (409). Never a reason to give an order up on its own."""

    reason: str
    retry_after: float | None = None
    #: The destination answered (409, 429...): it is up, only this key must wait. A
    #: timeout is not an answer, and counts against the destination's health.
    answered: bool = False


@dataclass(frozen=True, slots=True)
class Misconfigured:
    """An answer that every call would get (401/403/404/405/407): the destination, not the
    order, is wrong. Failing orders one by one would turn a configuration error into
    thousands of FAILED orders; the breaker opens instead and an alert is logged."""

    reason: str
    status: int


Failure = Refused | Transient | Unknown | Misconfigured
Outcome = Delivered | Failure

#: Statuses that say "this destination rejects every call", not "this order".
MISCONFIGURED = frozenset({401, 403, 404, 405, 407})
#: Statuses that say nothing definite about the order: try again, no budget spent.
UNKNOWN = frozenset({408, 409, 425, 429})


def classify(status: int, body: bytes, retry_after: str | None = None) -> Outcome:
    if 200 <= status < 300:
        document = _json_object(body)
        ref = document.get("receiptRef")
        return Delivered(
            receipt_ref=str(ref)[:MAX_RECEIPT_CHARS] if ref is not None else None,
            duplicate=bool(document.get("duplicate", False)),
        )
    reason = f"HTTP {status}: {_describe(body)}"
    if status in UNKNOWN:
        return Unknown(reason, parse_retry_after(retry_after, datetime.now(UTC)), answered=True)
    if status in MISCONFIGURED:
        return Misconfigured(reason, status)
    if status >= 500:
        return Transient(reason, parse_retry_after(retry_after, datetime.now(UTC)))
    if 400 <= status < 500:
        return Refused(reason)
    return Transient(reason)  # 1xx/3xx: not an answer this client understands


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _describe(body: bytes) -> str:
    """The problem+json title and detail when there are some, else the start of the body."""
    document = _json_object(body)
    parts = [str(document[k]) for k in ("title", "detail") if document.get(k)]
    text = ": ".join(parts) if parts else body.decode("utf-8", "replace").strip()
    return (text or "no body")[:MAX_REASON_CHARS]


def _json_object(body: bytes) -> dict[str, object]:
    try:
        document = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return {}
    return document if isinstance(document, dict) else {}
