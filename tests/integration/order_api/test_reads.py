"""`GET /orders/{id}` and keyset-paginated `GET /orders`."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from tests.integration.order_api.conftest import new_key, order_body
from tests.support.devices import bearer

DB = psycopg.Connection[tuple[object, ...]]
PROBLEMS = "https://pos.example.com/problems/"


async def _create(api: httpx.AsyncClient, n: int) -> list[dict[str, object]]:
    created = []
    for i in range(n):
        body = order_body(deviceId=f"till-{i}")
        response = await api.post(
            "/orders",
            json=body,
            headers={"Idempotency-Key": new_key(), **await bearer("store-1", f"till-{i}")},
        )
        assert response.status_code == 201
        created.append(response.json())
    return created


async def test_an_order_reads_back_as_it_was_answered_plus_delivery_state(
    api: httpx.AsyncClient, db: DB
) -> None:
    [order] = await _create(api, 1)
    db.execute(
        "UPDATE orders SET status = 'FAILED', attempts = 3, last_error = 'refused' WHERE id = %s",
        (order["id"],),
    )
    response = await api.get(f"/orders/{order['id']}")
    assert response.status_code == 200
    assert response.json() == {
        **order,
        "status": "FAILED",
        "attempts": 3,
        "lastError": "refused",
        "receiptRef": None,
    }


@pytest.mark.parametrize(
    "order_id",
    [str(uuid.uuid4()), "not-a-uuid", "1", "%20"],
    ids=["unknown", "not-a-uuid", "number", "blank"],  # stable: the same on every worker
)
async def test_unknown_or_malformed_ids_are_404_problems(
    api: httpx.AsyncClient, db: DB, order_id: str
) -> None:
    response = await api.get(f"/orders/{order_id}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEMS + "not-found"


async def test_pages_walk_every_order_once_newest_first(api: httpx.AsyncClient, db: DB) -> None:
    created = await _create(api, 7)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await api.get("/orders", params=params)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 3
        seen += [o["id"] for o in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [o["id"] for o in reversed(created)]


async def test_orders_with_the_same_timestamp_are_neither_lost_nor_repeated(
    api: httpx.AsyncClient, db: DB
) -> None:
    created = await _create(api, 5)
    db.execute("UPDATE orders SET created_at = '2026-11-25T12:00:00Z'")
    first = (await api.get("/orders", params={"limit": 2})).json()
    rest = (await api.get("/orders", params={"limit": 10, "cursor": first["nextCursor"]})).json()
    ids = [o["id"] for o in first["items"] + rest["items"]]
    assert sorted(ids) == sorted(str(o["id"]) for o in created)
    assert ids == sorted(ids, reverse=True)  # ties broken by id, descending
    assert rest["nextCursor"] is None


async def test_status_filter(api: httpx.AsyncClient, db: DB) -> None:
    created = await _create(api, 4)
    db.execute(
        "UPDATE orders SET status = 'SUCCESS' WHERE id IN (%s, %s)",
        (created[0]["id"], created[2]["id"]),
    )
    response = await api.get("/orders", params={"status": "SUCCESS", "limit": 1})
    page = response.json()
    assert [o["id"] for o in page["items"]] == [created[2]["id"]]
    following = await api.get(
        "/orders", params={"status": "SUCCESS", "limit": 1, "cursor": page["nextCursor"]}
    )
    assert [o["id"] for o in following.json()["items"]] == [created[0]["id"]]
    assert following.json()["nextCursor"] is None
    pending = (await api.get("/orders", params={"status": "PENDING"})).json()
    assert {o["id"] for o in pending["items"]} == {created[1]["id"], created[3]["id"]}


async def test_default_page_size_is_50(api: httpx.AsyncClient, db: DB) -> None:
    db.execute(
        "INSERT INTO orders (id, store_id, device_id, currency, total_amount, "
        "idempotency_scope, idempotency_key) SELECT gen_random_uuid(), 'store-1', 'd', 'EUR', 0, "
        "'public', 'k' || n FROM generate_series(1, 60) AS n"
    )
    page = (await api.get("/orders")).json()
    assert len(page["items"]) == 50
    assert page["nextCursor"] is not None


async def test_a_bad_cursor_is_a_400_problem(api: httpx.AsyncClient, db: DB) -> None:
    response = await api.get("/orders", params={"cursor": "garbage"})
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEMS + "invalid-cursor"


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 201}, {"limit": "ten"}, {"status": "LOST"}]
)
async def test_bad_query_parameters_are_422_problems(
    api: httpx.AsyncClient, db: DB, params: dict[str, object]
) -> None:
    response = await api.get("/orders", params=params)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == PROBLEMS + "validation-error"
    assert problem["errors"][0]["location"] == "query"
    assert problem["errors"][0]["field"] == next(iter(params))
