"""What one call to the third party meant, decided from its HTTP answer. Pure, no I/O.

The contract: 2xx accepted (with a receipt), 4xx a permanent refusal, 5xx or no answer
transient. Two 4xx are not refusals: 408 (the server timed the request out) and 429
(slow down, with ``Retry-After``) say nothing about the order itself.
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
    reason: str
    retry_after: float | None = None


Outcome = Delivered | Refused | Transient


def classify(status: int, body: bytes, retry_after: str | None = None) -> Outcome:
    if 200 <= status < 300:
        document = _json_object(body)
        ref = document.get("receiptRef")
        return Delivered(
            receipt_ref=str(ref)[:MAX_RECEIPT_CHARS] if ref is not None else None,
            duplicate=bool(document.get("duplicate", False)),
        )
    reason = f"HTTP {status}: {_describe(body)}"
    if status in (408, 429) or status >= 500:
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
