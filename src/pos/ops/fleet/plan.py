"""What every till of the fleet will do, decided up front from a seed. Pure, no I/O.

Planning apart from sending keeps a run reproducible (same seed, same orders, same double
taps, same offline spells) and lets the unit tests check the mix without any network.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

MENU = (
    ("LATTE-L", "Latte large", 450),
    ("LATTE-M", "Latte medium", 390),
    ("ESPR-S", "Espresso", 220),
    ("CAPP-M", "Cappuccino", 410),
    ("TEA-GRN", "Green tea", 300),
    ("CROIS", "Croissant", 280),
    ("MUFF-BB", "Blueberry muffin", 340),
    ("BAGEL-CC", "Bagel, cream cheese", 520),
    ("SAND-HAM", "Ham sandwich", 690),
    ("WATER-50", "Water 50 cl", 180),
)
CURRENCIES = ("EUR", "EUR", "EUR", "GBP", "CHF")


class Malformation(StrEnum):
    """Ways a buggy till or a corrupted request goes wrong; each must be answered 4xx."""

    MISSING_KEY = "missing-key"
    OVERLONG_KEY = "overlong-key"
    FLOAT_PRICE = "float-price"
    ZERO_QUANTITY = "zero-quantity"
    UNKNOWN_FIELD = "unknown-field"
    NO_ITEMS = "no-items"
    BAD_CURRENCY = "bad-currency"
    BROKEN_JSON = "broken-json"


@dataclass(frozen=True)
class FleetShape:
    stores: int
    devices_per_store: int
    orders: int
    seed: int = 0
    double_tap_rate: float = 0.02
    offline_rate: float = 0.01  # chance that a till goes offline before a given sale
    offline_queue: tuple[int, int] = (3, 20)  # sales rung up while offline
    malformed_rate: float = 0.005
    #: Keys from a per-till counter (``<run>-1``, ``<run>-2``, ...), so every till uses the
    #: same key strings: the API scopes keys per device, and the audit must too.
    shared_keys: bool = False

    def __post_init__(self) -> None:
        if self.stores < 1 or self.devices_per_store < 1 or self.orders < 0:
            raise ValueError("stores and devices must be at least 1, orders not negative")
        for name in ("double_tap_rate", "offline_rate", "malformed_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        low, high = self.offline_queue
        if not 1 <= low <= high:
            raise ValueError("offline_queue must be (low, high) with 1 <= low <= high")

    @property
    def devices(self) -> int:
        return self.stores * self.devices_per_store


@dataclass(frozen=True)
class Sale:
    """One order a till means to create; ``key`` is fixed when the sale is rung up.

    ``sale_id`` names the sale across the whole fleet (the ledger records it), whatever
    key the till sends it under.
    """

    key: str
    body: dict[str, Any]
    double_tap: bool = False
    sale_id: str = ""

    @property
    def payload(self) -> bytes:
        return orjson.dumps(self.body)


@dataclass(frozen=True)
class Malformed:
    kind: Malformation
    key: str | None
    payload: bytes


@dataclass(frozen=True)
class OfflineSpell:
    """Sales rung up while the network was down, flushed in one burst when it returns."""

    sales: tuple[Sale, ...]
    offline_for: float  # seconds without network, at least the time to ring the sales up


Step = Sale | Malformed | OfflineSpell


@dataclass(frozen=True)
class TillScript:
    store_id: str
    device_id: str
    steps: tuple[Step, ...] = field(default=())

    @property
    def sales(self) -> Iterator[Sale]:
        for step in self.steps:
            if isinstance(step, Sale):
                yield step
            elif isinstance(step, OfflineSpell):
                yield from step.sales


def _body(rng: random.Random, store_id: str, device_id: str) -> dict[str, Any]:
    lines = rng.sample(MENU, rng.randint(1, 4))
    return {
        "storeId": store_id,
        "deviceId": device_id,
        "currency": rng.choice(CURRENCIES),
        "items": [
            {"sku": sku, "name": name, "quantity": rng.randint(1, 3), "unitPrice": price}
            for sku, name, price in lines
        ],
    }


def _malformed(rng: random.Random, key: str, body: dict[str, Any]) -> Malformed:
    kind = rng.choice(list(Malformation))
    items = [dict(i) for i in body["items"]]
    broken: dict[str, Any] = {**body, "items": items}
    if kind is Malformation.MISSING_KEY:
        return Malformed(kind, None, orjson.dumps(body))
    if kind is Malformation.OVERLONG_KEY:
        return Malformed(kind, key + "x" * 256, orjson.dumps(body))
    if kind is Malformation.BROKEN_JSON:
        return Malformed(kind, key, orjson.dumps(body)[:-7])
    if kind is Malformation.FLOAT_PRICE:
        items[0]["unitPrice"] = items[0]["unitPrice"] + 0.5
    elif kind is Malformation.ZERO_QUANTITY:
        items[0]["quantity"] = 0
    elif kind is Malformation.UNKNOWN_FIELD:
        broken["discountPercent"] = 10
    elif kind is Malformation.NO_ITEMS:
        broken["items"] = []
    elif kind is Malformation.BAD_CURRENCY:
        broken["currency"] = "euro"
    return Malformed(kind, key, orjson.dumps(broken))


def _share(total: int, parts: int, index: int) -> int:
    """``total`` split over ``parts`` as evenly as integers allow."""
    return total // parts + (1 if index < total % parts else 0)


def plan_fleet(shape: FleetShape, run_id: str) -> list[TillScript]:
    """Every till's script. Keys embed ``run_id`` so two runs never share a key; unless
    ``shared_keys``, they also embed the till, so no two tills share one either."""
    scripts = []
    for index in range(shape.devices):
        store_id = f"store-{index // shape.devices_per_store + 1}"
        device_id = f"till-{index % shape.devices_per_store + 1}"
        rng = random.Random(f"{shape.seed}/{store_id}/{device_id}")
        prefix = f"{run_id}-{store_id}-{device_id}"
        key_prefix = run_id if shape.shared_keys else prefix
        steps: list[Step] = []
        seq = 0
        remaining = _share(shape.orders, shape.devices, index)
        while remaining:
            if rng.random() < shape.malformed_rate:
                seq += 1
                steps.append(
                    _malformed(rng, f"{prefix}-bad-{seq}", _body(rng, store_id, device_id))
                )
            if rng.random() < shape.offline_rate:
                size = min(remaining, rng.randint(*shape.offline_queue))
                spell = []
                for _ in range(size):
                    seq += 1
                    body = _body(rng, store_id, device_id)
                    spell.append(Sale(f"{key_prefix}-{seq}", body, sale_id=f"{prefix}-{seq}"))
                steps.append(OfflineSpell(tuple(spell), round(rng.uniform(0.5, 3.0), 2)))
                remaining -= size
                continue
            seq += 1
            tap = rng.random() < shape.double_tap_rate
            body = _body(rng, store_id, device_id)
            steps.append(Sale(f"{key_prefix}-{seq}", body, tap, f"{prefix}-{seq}"))
            remaining -= 1
        scripts.append(TillScript(store_id, device_id, tuple(steps)))
    return scripts
