"""Receipts that survive a restart: an append-only JSON-lines file replayed into a dict.

A receipt is appended with one unbuffered ``write(2)`` BEFORE the answer is sent, so an
acknowledged receipt is in the kernel's page cache when the client sees it: a SIGKILL of
this process cannot lose it (only a power cut could, and then the client retries with the
same key and the order is simply accepted again). No fsync per call: this is a simulator
that has to answer thousands of calls a second, and the guarantee above is the one the
tests exercise.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from pos.domain.orders import iso_utc


@dataclass(frozen=True, slots=True)
class Receipt:
    key: str
    ref: str
    accepted_at: str

    def to_json(self) -> dict[str, str]:
        return {"orderId": self.key, "receiptRef": self.ref, "acceptedAt": self.accepted_at}


class ReceiptStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._receipts: dict[str, Receipt] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self.skipped_lines = self._load()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _load(self) -> int:
        """Replay the file; returns how many lines were unreadable.

        A torn last line (a write cut short) is also cut from the file, or the next
        receipt appended to it would be glued to it and lost at the next start.
        """
        if not self._path.exists():
            return 0
        raw = self._path.read_bytes()
        complete = raw.rfind(b"\n") + 1
        if complete < len(raw):
            os.truncate(self._path, complete)
        skipped = int(complete < len(raw))
        for line in raw[:complete].splitlines():
            try:
                row = orjson.loads(line)
                receipt = Receipt(row["key"], row["ref"], row["at"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                skipped += 1
                continue
            self._receipts.setdefault(receipt.key, receipt)
        return skipped

    def __len__(self) -> int:
        return len(self._receipts)

    def get(self, key: str) -> Receipt | None:
        return self._receipts.get(key)

    def accept(self, key: str) -> tuple[Receipt, bool]:
        """The receipt for ``key`` and whether it already existed (a duplicate delivery).

        Synchronous on purpose: check, append and insert happen without an ``await`` in
        between, so two concurrent calls with one key cannot both create a receipt.
        """
        existing = self._receipts.get(key)
        if existing is not None:
            return existing, True
        receipt = Receipt(key, f"rcpt-{uuid.uuid4().hex}", iso_utc(datetime.now(UTC)))
        line = orjson.dumps({"key": key, "ref": receipt.ref, "at": receipt.accepted_at})
        os.write(self._fd, line + b"\n")
        self._receipts[key] = receipt
        return receipt, False

    def clear(self) -> None:
        os.ftruncate(self._fd, 0)
        self._receipts.clear()

    def close(self) -> None:
        os.close(self._fd)
