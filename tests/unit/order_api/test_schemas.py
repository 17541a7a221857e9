"""The strict request schema: what a till may send, and what it is refused."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pos.domain.currencies import ISO_4217_CODES
from pos.order_api.schemas import OrderIn, field_errors

safe_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", fullmatch=True)
texts = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=200)
items = st.fixed_dictionaries(
    {
        "sku": texts.filter(lambda s: len(s) <= 64),
        "name": texts,
        "quantity": st.integers(1, 10_000),
        "unitPrice": st.integers(0, 10**9),
    }
)
bodies = st.fixed_dictionaries(
    {
        "storeId": safe_ids,
        "deviceId": safe_ids,
        "currency": st.sampled_from(sorted(ISO_4217_CODES)),
        "items": st.lists(items, min_size=1, max_size=5),
    }
)


def valid() -> dict[str, Any]:
    return {
        "storeId": "store-1",
        "deviceId": "till-7",
        "currency": "EUR",
        "items": [{"sku": "LATTE-L", "name": "Latte", "quantity": 2, "unitPrice": 450}],
    }


@given(bodies)
def test_every_valid_body_is_accepted_as_sent(body: dict[str, Any]) -> None:
    order = OrderIn.model_validate_json(json.dumps(body)).to_domain()
    assert order.document() == body


@given(bodies, st.randoms(use_true_random=False))
def test_fingerprint_ignores_key_order_and_whitespace(
    body: dict[str, Any], rng: random.Random
) -> None:
    keys = list(body)
    rng.shuffle(keys)
    reordered = {k: body[k] for k in keys}
    compact = json.dumps(body, separators=(",", ":"))
    spaced = json.dumps(reordered, indent=rng.randint(0, 4), ensure_ascii=rng.random() < 0.5)
    first = OrderIn.model_validate_json(compact).to_domain()
    second = OrderIn.model_validate_json(spaced).to_domain()
    assert first.fingerprint() == second.fingerprint()


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target: Any = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return body


INVALID = [
    ("items.0.quantity", 2.5, "items[0].quantity"),
    ("items.0.quantity", True, "items[0].quantity"),
    ("items.0.quantity", "2", "items[0].quantity"),
    ("items.0.quantity", 0, "items[0].quantity"),
    ("items.0.quantity", 10_001, "items[0].quantity"),
    ("items.0.unitPrice", 4.5, "items[0].unitPrice"),
    ("items.0.unitPrice", False, "items[0].unitPrice"),
    ("items.0.unitPrice", -1, "items[0].unitPrice"),
    ("items.0.unitPrice", 10**9 + 1, "items[0].unitPrice"),
    ("items.0.sku", "", "items[0].sku"),
    ("items.0.sku", "x" * 65, "items[0].sku"),
    ("items.0.name", "x" * 201, "items[0].name"),
    ("items.0.name", "two\nlines", "items[0].name"),
    ("items.0.name", "nul\x00", "items[0].name"),
    ("items.0.extra", 1, "items[0].extra"),
    ("items", [], "items"),
    ("items", [valid()["items"][0]] * 501, "items"),
    ("currency", "eur", "currency"),
    ("currency", "EURO", "currency"),
    ("currency", "XXX", "currency"),
    ("currency", "ABC", "currency"),
    ("storeId", "", "storeId"),
    ("storeId", "s" * 65, "storeId"),
    ("storeId", "store 1", "storeId"),
    ("storeId", "-store", "storeId"),
    ("deviceId", 7, "deviceId"),
    ("totalAmount", 900, "totalAmount"),
]


@pytest.mark.parametrize(("path", "value", "field"), INVALID)
def test_invalid_values_are_refused_naming_the_field(path: str, value: Any, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        OrderIn.model_validate_json(json.dumps(_set(valid(), path, value)))
    errors = field_errors(raised.value.errors())
    assert field in [e["field"] for e in errors]


@pytest.mark.parametrize("missing", ["storeId", "deviceId", "currency", "items"])
def test_every_field_is_required(missing: str) -> None:
    body = valid()
    del body[missing]
    with pytest.raises(ValidationError):
        OrderIn.model_validate(body)


def test_snake_case_names_are_unknown_fields() -> None:
    body = valid()
    body["store_id"] = body.pop("storeId")
    with pytest.raises(ValidationError):
        OrderIn.model_validate(body)


def test_field_errors_name_nested_positions() -> None:
    errors = [
        {"loc": ("body", "items", 3, "unitPrice"), "msg": "bad", "type": "int_type"},
        {"loc": ("query", "limit"), "msg": "too big", "type": "less_than_equal"},
        {"loc": ("body",), "msg": "missing", "type": "missing"},
    ]
    assert [(e["field"], e["location"]) for e in field_errors(errors)] == [
        ("items[3].unitPrice", "body"),
        ("limit", "query"),
        ("body", "body"),
    ]


def test_an_integral_float_is_the_integer() -> None:
    """JSON Schema counts 2.0 as an integer; the server agrees, without coercing text."""
    body = _set(_set(valid(), "items.0.quantity", 2.0), "items.0.unitPrice", 450.0)
    order = OrderIn.model_validate_json(json.dumps(body)).to_domain()
    assert (order.items[0].quantity, order.items[0].unit_price) == (2, 450)
    assert type(order.items[0].quantity) is int
