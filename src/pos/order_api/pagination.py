"""Opaque keyset cursors for ``GET /orders``: newest first on ``(created_at, id)``.

A keyset (not an offset) keeps every page an index range scan however deep the client
pages, and new orders arriving meanwhile neither shift nor duplicate rows. The cursor is
base64url JSON so clients treat it as a token, not as something to build.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Cursor:
    """The position after which (older than which) the next page starts."""

    created_at: datetime
    order_id: uuid.UUID


def encode_cursor(cursor: Cursor) -> str:
    raw = orjson.dumps([cursor.created_at.isoformat(), str(cursor.order_id)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(token: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, order_id = orjson.loads(raw)
        cursor = Cursor(datetime.fromisoformat(created_at), uuid.UUID(order_id))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise InvalidCursorError("the cursor is not one this API returned") from exc
    if cursor.created_at.tzinfo is None:
        raise InvalidCursorError("the cursor is not one this API returned")
    return cursor
