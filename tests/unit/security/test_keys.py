"""API keys: the format round-trips, only the right secret verifies, nothing leaks via repr."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.security import keys


def test_generated_key_round_trips_and_verifies() -> None:
    key = keys.generate()
    text = str(key)
    assert text.startswith("pos_")
    assert keys.parse(text) == key
    assert keys.verify(keys.parse(text), keys.hash_secret(key.secret))


def test_generated_keys_are_distinct() -> None:
    generated = {str(keys.generate()) for _ in range(200)}
    assert len(generated) == 200


def test_repr_hides_the_secret() -> None:
    key = keys.generate()
    assert key.secret not in repr(key)
    assert key.key_id in repr(key)


def test_wrong_secret_does_not_verify() -> None:
    key, other = keys.generate(), keys.generate()
    forged = keys.ApiKey(key.key_id, other.secret)
    assert not keys.verify(forged, keys.hash_secret(key.secret))


@settings(max_examples=300)
@given(st.text(max_size=120))
def test_parse_accepts_only_the_exact_shape(text: str) -> None:
    try:
        parsed = keys.parse(text)
    except keys.MalformedKeyError:
        return
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pos_",
        "Bearer pos_0123456789abcdef_" + "a" * 43,
        "pos_0123456789ABCDEF_" + "a" * 43,
        "pos_0123456789abcdef_" + "a" * 42,
        "pos_0123456789abcdef_" + "a" * 44,
        "pos_0123456789abcdef_" + "a" * 42 + "=",
        "xyz_0123456789abcdef_" + "a" * 43,
    ],
)
def test_malformed_keys_are_refused(text: str) -> None:
    with pytest.raises(keys.MalformedKeyError):
        keys.parse(text)
