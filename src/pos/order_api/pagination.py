"""Opaque, signed keyset cursors for ``GET /orders``: newest first on ``(created_at, id)``.

A keyset (not an offset) keeps every page an index range scan however deep the client
pages, and new orders arriving meanwhile neither shift nor duplicate rows.

The cursor is ``base64url(JSON position) "." base64url(HMAC-SHA256)``: the API accepts
only positions it issued itself. Unsigned, a client could hand in any timestamp, and
one PostgreSQL cannot represent (year 9999 in a timezone west of UTC is year 10000 in
UTC) failed inside the query as a 500. The key is shared by every worker of the API (see
:mod:`pos.order_api.secrets`), so a cursor from one worker is good on every other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

#: Truncated tag: 128 bits stop forgery as well as 256 and keep the token short.
_TAG_BYTES = 16
_MESSAGE = "the cursor is not one this API returned"


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Cursor:
    """The position after which (older than which) the next page starts."""

    created_at: datetime
    order_id: uuid.UUID


class CursorCodec:
    """Signs positions into tokens and tokens back into positions."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the cursor secret must be at least 16 bytes")
        self._secret = secret

    def encode(self, cursor: Cursor) -> str:
        raw = orjson.dumps([cursor.created_at.isoformat(), str(cursor.order_id)])
        return f"{_b64(raw)}.{_b64(self._tag(raw))}"

    def decode(self, token: str) -> Cursor:
        payload, dot, signature = token.partition(".")
        try:
            raw = _unb64(payload)
            tag = _unb64(signature)
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursorError(_MESSAGE) from exc
        if not dot or not hmac.compare_digest(tag, self._tag(raw)):
            raise InvalidCursorError(_MESSAGE)
        return _position(raw)

    def _tag(self, raw: bytes) -> bytes:
        return hmac.new(self._secret, raw, hashlib.sha256).digest()[:_TAG_BYTES]


def _position(raw: bytes) -> Cursor:
    """The position in a signed payload, still checked: a secret shared with an older
    version of the API must not turn a shape it wrote into a 500."""
    try:
        created_at, order_id = orjson.loads(raw)
        cursor = Cursor(datetime.fromisoformat(created_at), uuid.UUID(order_id))
        if cursor.created_at.tzinfo is None:
            raise ValueError("naive time")
        cursor.created_at.astimezone(UTC)  # representable in UTC
    except (orjson.JSONDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise InvalidCursorError(_MESSAGE) from exc
    return cursor


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
