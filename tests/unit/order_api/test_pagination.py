"""Keyset cursors: opaque tokens that come back as the position they encode."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.order_api.pagination import Cursor, InvalidCursorError, decode_cursor, encode_cursor

cursors = st.builds(
    Cursor,
    created_at=st.datetimes(timezones=st.just(UTC)),
    order_id=st.uuids(),
)


@given(cursors)
def test_a_cursor_round_trips_exactly(cursor: Cursor) -> None:
    token = encode_cursor(cursor)
    assert decode_cursor(token) == cursor
    assert "=" not in token  # URL-safe without escaping


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64!",
        "bm90IGpzb24",  # "not json"
        "WzFd",  # [1]
        "eyJhIjoxfQ",  # {"a":1}
        "WyIyMDI2LTExLTI1VDEyOjAwOjAwIiwgIm5vdC1hLXV1aWQiXQ",  # [naive time, "not-a-uuid"]
        "WyIyMDI2LTExLTI1VDEyOjAwOjAwIiwgIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMSJd",
        "é",
    ],
)
def test_anything_else_is_refused(token: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(token)


def test_offsets_are_kept() -> None:
    cursor = Cursor(datetime(2026, 11, 25, 12, 0, 0, 1, tzinfo=UTC), uuid.UUID(int=5))
    assert decode_cursor(encode_cursor(cursor)).created_at == cursor.created_at
