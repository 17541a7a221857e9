"""Keyset cursors: signed tokens that come back as the position they encode, and nothing else."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.order_api.pagination import Cursor, CursorCodec, InvalidCursorError

codec = CursorCodec(b"k" * 32)
cursors = st.builds(
    Cursor,
    created_at=st.datetimes(timezones=st.just(UTC)),
    order_id=st.uuids(),
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@given(cursors)
def test_a_cursor_round_trips_exactly(cursor: Cursor) -> None:
    token = codec.encode(cursor)
    assert codec.decode(token) == cursor
    assert "=" not in token  # URL-safe without escaping


def test_an_unsigned_position_is_refused() -> None:
    """The position that once reached the database as a 500: year 10000 in UTC."""
    raw = b'["9999-12-31T23:59:59-00:01", "00000000-0000-0000-0000-000000000001"]'
    with pytest.raises(InvalidCursorError):
        codec.decode(_b64(raw))
    with pytest.raises(InvalidCursorError):
        codec.decode(_b64(raw) + "." + _b64(b"x" * 16))


def test_a_signed_but_unrepresentable_position_is_still_refused() -> None:
    raw = b'["9999-12-31T23:59:59-00:01", "00000000-0000-0000-0000-000000000001"]'
    token = _b64(raw) + "." + _b64(codec._tag(raw))
    with pytest.raises(InvalidCursorError):
        codec.decode(token)


def test_another_key_does_not_verify() -> None:
    token = CursorCodec(b"o" * 32).encode(Cursor(datetime.now(UTC), uuid.uuid4()))
    with pytest.raises(InvalidCursorError):
        codec.decode(token)


@pytest.mark.parametrize(
    "token",
    ["", ".", "not base64!", "bm90IGpzb24", "WzFd.", "é", "a.é", "WzFd.WzFd"],
)
def test_anything_else_is_refused(token: str) -> None:
    with pytest.raises(InvalidCursorError):
        codec.decode(token)


def test_offsets_are_kept() -> None:
    cursor = Cursor(datetime(2026, 11, 25, 12, 0, 0, 1, tzinfo=UTC), uuid.UUID(int=5))
    assert codec.decode(codec.encode(cursor)).created_at == cursor.created_at


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        CursorCodec(b"short")
