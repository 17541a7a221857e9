"""Device ids: the shapes an order body may carry, and a scope that fits its column."""

from __future__ import annotations

import pytest

from pos.domain.devices import MAX_SCOPE_LENGTH, Device, InvalidDeviceError, check_ids


def test_scope_is_store_and_device() -> None:
    assert Device("k", "store-1", "till-7").idempotency_scope == "store-1/till-7"


@pytest.mark.parametrize(
    ("store", "device"),
    [
        ("", "t"),
        ("s", ""),
        ("a/b", "t"),
        ("s", "-t"),
        ("s", "t\n"),
        ("s" * 65, "t"),
        ("s" * 64, "t" * 64),
    ],
)
def test_bad_ids_are_refused(store: str, device: str) -> None:
    with pytest.raises(InvalidDeviceError):
        check_ids(store, device)


def test_longest_accepted_ids_fit_the_scope_column() -> None:
    check_ids("s" * 64, "t" * 63)
    assert len(Device("k", "s" * 64, "t" * 63).idempotency_scope) == MAX_SCOPE_LENGTH
