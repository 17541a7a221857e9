"""The property behind it all: one order per key, made by the key's first valid request.

Hypothesis plays random sequences of requests (keys, some invalid; bodies, some invalid
or different) against the API on an emptied database, and checks each answer against a
model of the contract and, at the end, the rows against the model's orders.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.order_api.conftest import counts, order_body

# None: no header; the others are malformed (empty, too long, UTF-8 bytes).
KEYS: list[str | bytes | None] = ["key-a", "key-b", "key-c", None, "", "k" * 256, "é".encode()]
BODIES: list[Any] = [
    order_body(),
    order_body(currency="USD"),
    order_body(items=[{"sku": "TEA", "name": "Tea", "quantity": 1, "unitPrice": 300}]),
    order_body(items=[{"sku": "TEA", "name": "Tea", "quantity": 0, "unitPrice": 300}]),
    order_body(currency="EU"),
    b'{"storeId": "store-1", ',  # broken JSON
]
VALID_BODIES = {0, 1, 2}
VALID_KEYS = {"key-a", "key-b", "key-c"}

requests = st.lists(
    st.tuples(st.sampled_from(KEYS), st.integers(0, len(BODIES) - 1)), min_size=1, max_size=12
)


async def _post(api: httpx.AsyncClient, key: str | bytes | None, body: Any) -> httpx.Response:
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
    return await api.post("/orders", content=content, headers=headers)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sequence=requests)
async def test_orders_are_the_distinct_keys_with_a_valid_request(
    api: httpx.AsyncClient, database_url: str, sequence: list[tuple[str | bytes | None, int]]
) -> None:
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("TRUNCATE orders, order_items, idempotency_keys, outbox")
        first_answer: dict[str | bytes, tuple[int, bytes]] = {}  # key -> (body index, answer bytes)
        for key, index in sequence:
            response = await _post(api, key, BODIES[index])
            assert response.headers["content-type"] in {
                "application/json",
                "application/problem+json",
            }
            if key not in VALID_KEYS:
                assert response.status_code == 400, response.text
            elif index not in VALID_BODIES:
                assert response.status_code in {400, 422}, response.text
            elif key not in first_answer:
                assert response.status_code == 201, response.text
                assert "idempotent-replayed" not in response.headers
                first_answer[key] = (index, response.content)
            elif first_answer[key][0] == index:
                assert response.status_code == 201, response.text
                assert response.headers["idempotent-replayed"] == "true"
                assert response.content == first_answer[key][1]
            else:
                assert response.status_code == 422, response.text
        rows = counts(db)
        assert rows["orders"] == rows["outbox"] == rows["idempotency_keys"] == len(first_answer)
        stored = {str(k) for (k,) in db.execute("SELECT idempotency_key FROM orders").fetchall()}
        assert stored == set(first_answer)
