"""The fleet's plan: every order exactly once, the till behaviours mixed in, reproducible."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.ops.fleet.plan import FleetShape, Malformation, Malformed, OfflineSpell, Sale, plan_fleet
from pos.ops.ledger import body_hash


@settings(max_examples=40, deadline=None)
@given(
    stores=st.integers(1, 4),
    devices=st.integers(1, 4),
    orders=st.integers(0, 300),
    seed=st.integers(0, 2**32),
)
def test_every_planned_order_is_one_sale_with_a_unique_key(
    stores: int, devices: int, orders: int, seed: int
) -> None:
    shape = FleetShape(stores, devices, orders, seed=seed, offline_rate=0.1, malformed_rate=0.05)
    scripts = plan_fleet(shape, "run1")
    assert len(scripts) == stores * devices
    sales = [sale for script in scripts for sale in script.sales]
    assert len(sales) == orders
    assert len({s.key for s in sales}) == orders
    assert len({s.sale_id for s in sales}) == orders
    # Each till's share differs by at most one order from any other's.
    shares = [len(list(script.sales)) for script in scripts]
    assert max(shares) - min(shares) <= 1
    for script in scripts:
        for sale in script.sales:
            assert sale.key.startswith(f"run1-{script.store_id}-{script.device_id}-")
            assert sale.body["storeId"] == script.store_id
            assert sale.body["deviceId"] == script.device_id


def test_shared_keys_repeat_across_tills_while_sales_stay_distinct() -> None:
    scripts = plan_fleet(FleetShape(2, 2, 40, seed=1, shared_keys=True), "run1")
    keys = [[s.key for s in script.sales] for script in scripts]
    assert all(k.startswith("run1-") and k[5:].isdigit() for ks in keys for k in ks)
    assert set(keys[0]) & set(keys[1]) & set(keys[2]) & set(keys[3])  # counters overlap
    assert all(len(set(k)) == len(k) for k in keys)  # but a till never repeats one
    sales = [s.sale_id for script in scripts for s in script.sales]
    assert len(set(sales)) == 40


def test_the_plan_is_reproducible_from_its_seed_and_keys_carry_the_run() -> None:
    shape = FleetShape(3, 2, 200, seed=7)
    assert plan_fleet(shape, "a") == plan_fleet(shape, "a")
    assert plan_fleet(shape, "a") != plan_fleet(FleetShape(3, 2, 200, seed=8), "a")
    keys_a = {s.key for t in plan_fleet(shape, "a") for s in t.sales}
    keys_b = {s.key for t in plan_fleet(shape, "b") for s in t.sales}
    assert not keys_a & keys_b


def test_the_mix_holds_double_taps_offline_spells_and_malformed_requests() -> None:
    shape = FleetShape(
        5, 4, 4000, seed=3, double_tap_rate=0.05, offline_rate=0.02, malformed_rate=0.02
    )
    steps = [step for script in plan_fleet(shape, "r") for step in script.steps]
    taps = sum(1 for s in steps if isinstance(s, Sale) and s.double_tap)
    spells = [s for s in steps if isinstance(s, OfflineSpell)]
    malformed = [s for s in steps if isinstance(s, Malformed)]
    assert 100 <= taps <= 300
    assert spells
    assert all(3 <= len(s.sales) <= 20 and s.offline_for > 0 for s in spells)
    assert {m.kind for m in malformed} == set(Malformation)


def test_malformed_requests_are_really_malformed() -> None:
    shape = FleetShape(4, 4, 3000, seed=11, malformed_rate=0.05)
    steps = [step for script in plan_fleet(shape, "r") for step in script.steps]
    for bad in (s for s in steps if isinstance(s, Malformed)):
        if bad.kind is Malformation.MISSING_KEY:
            assert bad.key is None
            continue
        assert bad.key
        if bad.kind is Malformation.OVERLONG_KEY:
            assert len(bad.key) > 255
            continue
        if bad.kind is Malformation.BROKEN_JSON:
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(bad.payload)
            continue
        body = orjson.loads(bad.payload)
        prices = [i["unitPrice"] for i in body["items"]]
        quantities = [i["quantity"] for i in body["items"]]
        assert (
            "discountPercent" in body
            or not body["items"]
            or body["currency"] == "euro"
            or any(isinstance(p, float) for p in prices)
            or 0 in quantities
        ), bad.kind


def test_valid_bodies_follow_the_contract_and_hash_by_content() -> None:
    sale = next(plan_fleet(FleetShape(1, 1, 1, seed=1), "r")[0].sales)
    body = orjson.loads(sale.payload)
    assert set(body) == {"storeId", "deviceId", "currency", "items"}
    assert all(isinstance(i["unitPrice"], int) and i["quantity"] >= 1 for i in body["items"])
    assert body_hash(body) == body_hash(sale.body)
    changed = {**body, "currency": "USD" if body["currency"] != "USD" else "EUR"}
    assert body_hash(changed) != body_hash(body)


@pytest.mark.parametrize(
    "bad",
    [
        {"stores": 0},
        {"devices_per_store": 0},
        {"orders": -1},
        {"double_tap_rate": 1.5},
        {"offline_queue": (0, 3)},
    ],
)
def test_shape_rejects_nonsense(bad: dict[str, object]) -> None:
    args: dict[str, object] = {"stores": 1, "devices_per_store": 1, "orders": 1, **bad}
    with pytest.raises(ValueError):  # noqa: PT011 - the messages are for people
        FleetShape(**args)  # type: ignore[arg-type]
