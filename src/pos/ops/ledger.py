"""The simulator's ledger: one JSON line per order acknowledged to a till.

It is the auditor's ground truth for "no acknowledged order is ever lost": what the tills
were told, written as they were told it, independent of the system under test. The content
hash lets the auditor also prove the stored order is the one the till sent, not just that
an order with its key exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson


@dataclass(frozen=True, slots=True)
class AckRecord:
    key: str
    order_id: str
    content_hash: str


def content_hash(
    store_id: str, device_id: str, currency: str, items: Sequence[Mapping[str, Any]]
) -> str:
    """A hash of what a till asked for, computable both from a request body and from rows.

    Only the fields the till sends, in a canonical order, so the request body and the
    order read back from the database hash identically when (and only when) they agree.
    """
    canonical = orjson.dumps(
        [
            store_id,
            device_id,
            currency,
            [[i["sku"], i["name"], i["quantity"], i["unitPrice"]] for i in items],
        ]
    )
    return hashlib.sha256(canonical).hexdigest()[:32]


def body_hash(body: Mapping[str, Any]) -> str:
    return content_hash(body["storeId"], body["deviceId"], body["currency"], body["items"])


class LedgerWriter:
    """Appends acknowledgements; line-buffered so a killed simulator keeps what it wrote."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._out: IO[bytes] = path.open("ab", buffering=0)

    def record(self, ack: AckRecord) -> None:
        self._out.write(
            orjson.dumps({"key": ack.key, "orderId": ack.order_id, "hash": ack.content_hash})
            + b"\n"
        )

    def close(self) -> None:
        self._out.close()


def read_ledger(path: Path) -> Iterator[AckRecord]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
                yield AckRecord(str(row["key"]), str(row["orderId"]), str(row["hash"]))
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a ledger line ({exc})") from None
