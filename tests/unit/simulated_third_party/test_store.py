"""The receipt store: first receipt wins, and it is read back after a restart."""

from __future__ import annotations

from pathlib import Path

from pos.simulated_third_party.store import ReceiptStore


def test_a_repeated_key_gets_the_first_receipt_back(tmp_path: Path) -> None:
    store = ReceiptStore(tmp_path / "r.jsonl")
    first, duplicate = store.accept("order-1")
    assert not duplicate
    again, duplicate = store.accept("order-1")
    assert duplicate
    assert again == first
    assert len(store) == 1


def test_receipts_survive_a_restart_and_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "r.jsonl"
    store = ReceiptStore(path)
    receipts = [store.accept(f"order-{i}")[0] for i in range(3)]
    store.close()  # no flush needed: every receipt is written before accept returns
    with path.open("ab") as f:
        f.write(b'{"key": "order-9", "re')  # a write cut short
    reopened = ReceiptStore(path)
    assert reopened.skipped_lines == 1
    assert [reopened.get(f"order-{i}") for i in range(3)] == receipts
    assert reopened.accept("order-1") == (receipts[1], True)
    new, _ = reopened.accept("order-4")  # appended after the cut, not glued to it
    reopened.close()
    assert ReceiptStore(path).get("order-4") == new
    reopened = ReceiptStore(path)
    reopened.clear()
    assert len(reopened) == 0
    assert len(ReceiptStore(path)) == 0
