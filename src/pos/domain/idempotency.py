"""Idempotency-Key rules, after the IETF draft "The Idempotency-Key HTTP Header Field".

Pure decisions only: is a key well formed, and what does a retry get when its key already
has a stored response. The database work that precedes them is in `pos.order_api`.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime

MAX_KEY_LENGTH = 255


class InvalidIdempotencyKeyError(ValueError):
    """Missing or malformed key: the request is refused with 400 before any work."""


def parse_idempotency_key(raw: str | None) -> str:
    """1 to 255 printable ASCII characters (0x20-0x7E), as the API documents."""
    if raw is None or raw == "":
        raise InvalidIdempotencyKeyError("the Idempotency-Key header is required")
    if len(raw) > MAX_KEY_LENGTH:
        raise InvalidIdempotencyKeyError(
            f"the Idempotency-Key header is longer than {MAX_KEY_LENGTH} characters"
        )
    if not all(" " <= ch <= "~" for ch in raw):
        raise InvalidIdempotencyKeyError(
            "the Idempotency-Key header may hold only printable ASCII characters"
        )
    return raw


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first answer given for a key, kept until ``expires_at`` to be replayed."""

    fingerprint: bytes
    status_code: int
    body: bytes
    order_id: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Replay:
    """Same key, same request: send the stored answer again."""

    response: StoredResponse


@dataclass(frozen=True, slots=True)
class FingerprintMismatch:
    """Same key, different request: a client bug, refused (422), nothing written."""


@dataclass(frozen=True, slots=True)
class KeyExpired:
    """The key created an order whose replayable answer is gone: refused (409).

    The order keeps the key for ever (a unique constraint), so a reuse after the
    retention never creates a second order; the client is told which order owns it.
    """

    order_id: uuid.UUID


RetryVerdict = Replay | FingerprintMismatch | KeyExpired


def judge_retry(stored: StoredResponse, fingerprint: bytes, now: datetime) -> RetryVerdict:
    # An expired record may still be in the table until the cleanup job runs; answering
    # by the clock rather than by the row's presence makes expiry exact and predictable.
    if stored.expires_at <= now:
        return KeyExpired(stored.order_id)
    if not hmac.compare_digest(stored.fingerprint, fingerprint):
        return FingerprintMismatch()
    return Replay(stored)
