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
    """One acknowledgement: which sale, sent by which till under which key, got which id.

    ``scope`` is the till's idempotency namespace as the API scopes keys (``store/device``),
    so two tills that number their keys alike (a per-till counter) stay two sales. ``sale``
    names the sale itself, whatever key carried it: one sale acknowledged with two order
    ids is an order created twice even when each id came under a key of its own.
    """

    key: str
    order_id: str
    content_hash: str
    scope: str
    sale: str


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


def scope_of(store_id: str, device_id: str) -> str:
    """The API's idempotency scope of a till: keys are namespaced per device."""
    return f"{store_id}/{device_id}"


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
            orjson.dumps(
                {
                    "scope": ack.scope,
                    "key": ack.key,
                    "sale": ack.sale,
                    "orderId": ack.order_id,
                    "hash": ack.content_hash,
                }
            )
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
                yield AckRecord(
                    key=str(row["key"]),
                    order_id=str(row["orderId"]),
                    content_hash=str(row["hash"]),
                    scope=str(row["scope"]),
                    sale=str(row["sale"]),
                )
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a ledger line (missing {exc})") from None
