"""The simulator's ledger: written as acknowledged, read back exactly, hashed by content."""

from __future__ import annotations

from pathlib import Path

import pytest

from pos.domain.devices import Device
from pos.ops.ledger import (
    AckRecord,
    LedgerWriter,
    body_hash,
    content_hash,
    read_ledger,
    scope_of,
)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.jsonl"
    writer = LedgerWriter(path)
    records = [AckRecord(f"k{n}", f"id{n}", f"h{n}", f"s/t{n}", f"sale{n}") for n in range(3)]
    for record in records:
        writer.record(record)
    writer.close()
    assert list(read_ledger(path)) == records


def test_a_corrupt_line_is_reported_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    good = '{"scope": "s/t", "key": "k", "sale": "x", "orderId": "i", "hash": "h"}'
    path.write_text(good + '\n\n{"key": 1\n')
    with pytest.raises(ValueError, match=r"ledger.jsonl:3"):
        list(read_ledger(path))


def test_the_body_and_the_stored_rows_hash_alike() -> None:
    body = {
        "storeId": "s",
        "deviceId": "d",
        "currency": "EUR",
        "items": [{"sku": "A", "name": "a", "quantity": 2, "unitPrice": 450}],
    }
    rows = [{"unitPrice": 450, "quantity": 2, "name": "a", "sku": "A"}]  # any key order
    assert body_hash(body) == content_hash("s", "d", "EUR", rows)
    assert body_hash(body) != content_hash("s", "d", "EUR", [{**rows[0], "quantity": 3}])


def test_a_line_without_its_scope_is_refused_rather_than_matched_by_key_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"key": "k", "orderId": "i", "hash": "h", "sale": "x"}\n')
    with pytest.raises(ValueError, match="scope"):
        list(read_ledger(path))


def test_the_ledger_scopes_keys_as_the_api_does() -> None:
    assert scope_of("store-3", "till-2") == Device("kid", "store-3", "till-2").idempotency_scope
