"""Idempotency-Key rules: well-formed keys, and what a retry with a known key gets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.domain.idempotency import (
    FingerprintMismatch,
    InvalidIdempotencyKeyError,
    KeyExpired,
    Replay,
    StoredResponse,
    judge_retry,
    parse_idempotency_key,
)

printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=255)


@given(printable)
def test_printable_ascii_keys_up_to_255_are_accepted(key: str) -> None:
    assert parse_idempotency_key(key) == key


@pytest.mark.parametrize(
    "key",
    [None, "", "x" * 256, "tab\there", "new\nline", "caf\u00e9", "del\x7f", "\u00a0nbsp"],
)
def test_missing_or_malformed_keys_are_refused(key: str | None) -> None:
    with pytest.raises(InvalidIdempotencyKeyError):
        parse_idempotency_key(key)


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def stored(
    fingerprint: bytes = b"f" * 32, expires_in: timedelta = timedelta(hours=1)
) -> StoredResponse:
    return StoredResponse(
        fingerprint=fingerprint,
        status_code=201,
        body=b"{}",
        order_id=uuid.UUID(int=7),
        expires_at=NOW + expires_in,
    )


def test_same_fingerprint_replays() -> None:
    record = stored()
    assert judge_retry(record, b"f" * 32, NOW) == Replay(record)


def test_other_fingerprint_is_a_mismatch() -> None:
    assert judge_retry(stored(), b"g" * 32, NOW) == FingerprintMismatch()


@pytest.mark.parametrize("fingerprint", [b"f" * 32, b"g" * 32])
def test_expired_record_is_expired_whatever_the_body(fingerprint: bytes) -> None:
    verdict = judge_retry(stored(expires_in=timedelta(0)), fingerprint, NOW)
    assert verdict == KeyExpired(uuid.UUID(int=7))
