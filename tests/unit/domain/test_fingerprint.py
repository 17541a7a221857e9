"""The request fingerprint: the same request however serialised, a different one otherwise."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pos.domain.fingerprint import canonical_form, fingerprint

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
documents = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's keys in another insertion order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@given(documents, st.randoms(use_true_random=False))
def test_key_order_does_not_matter(document: dict[str, Any], rng: random.Random) -> None:
    assert fingerprint(shuffled(document, rng)) == fingerprint(document)


@given(documents, st.text(max_size=8), json_values)
def test_any_changed_value_changes_the_fingerprint(
    document: dict[str, Any], key: str, value: Any
) -> None:
    changed = {**document, key: value}
    if changed != document:
        assert fingerprint(changed) != fingerprint(document)


def test_array_order_matters() -> None:
    items = [{"sku": "A"}, {"sku": "B"}]
    assert fingerprint({"items": items}) != fingerprint({"items": items[::-1]})


def test_canonical_form_is_compact_sorted_json() -> None:
    assert canonical_form({"b": 1, "a": {"d": [1, 2], "c": None}}) == (
        b'{"a":{"c":null,"d":[1,2]},"b":1}'
    )
    assert len(fingerprint({})) == 32
