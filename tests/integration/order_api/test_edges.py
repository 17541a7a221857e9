"""The edges of the API found by fuzzing and probes: each answers a clear 4xx problem
and writes nothing."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest

from pos.config import KafkaSettings
from tests.integration.order_api.conftest import (
    ApiClientFactory,
    counts,
    new_key,
    order_body,
)
from tests.integration.order_api.test_process import running_api
from tests.support.devices import bearer_sync

DB = psycopg.Connection[tuple[object, ...]]
PROBLEMS = "https://pos.example.com/problems/"
PROBLEM_JSON = "application/problem+json"


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = response.json()
    assert body["type"] == PROBLEMS + slug
    return body


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_a_forged_cursor_is_400_not_500(api: httpx.AsyncClient) -> None:
    position = b'["9999-12-31T23:59:59-00:01", "00000000-0000-0000-0000-000000000001"]'
    for cursor in (_b64(position), _b64(position) + "." + _b64(b"\0" * 16)):
        response = await api.get("/orders", params={"cursor": cursor})
        _problem(response, 400, "invalid-cursor")


async def test_cursors_verify_across_api_instances(
    api: httpx.AsyncClient, api_factory: ApiClientFactory, db: DB
) -> None:
    """Two API processes on one database share the generated key: a cursor from one
    pages on the other (as with several uvicorn workers)."""
    for _ in range(3):
        body = orjson.dumps(order_body())
        headers = {"Idempotency-Key": new_key(), "Content-Type": "application/json"}
        assert (await api.post("/orders", content=body, headers=headers)).status_code == 201
    first = (await api.get("/orders", params={"limit": 1})).json()
    assert first["nextCursor"]
    async with api_factory() as other:
        page = await other.get("/orders", params={"limit": 1, "cursor": first["nextCursor"]})
    assert page.status_code == 200, page.text
    assert page.json()["items"][0]["id"] != first["items"][0]["id"]


async def test_a_configured_secret_wins(
    api_factory: ApiClientFactory, api: httpx.AsyncClient, db: DB
) -> None:
    for _ in range(2):  # its own orders: a page with a next one
        created = await api.post(
            "/orders", json=order_body(), headers={"Idempotency-Key": new_key()}
        )
        assert created.status_code == 201, created.text
    listed = (await api.get("/orders", params={"limit": 1})).json()
    assert listed["nextCursor"]
    async with api_factory(cursor_secret="c" * 32) as configured:
        response = await configured.get("/orders", params={"cursor": listed["nextCursor"]})
    _problem(response, 400, "invalid-cursor")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", orjson.dumps(order_body())),
        ("application/x-www-form-urlencoded", orjson.dumps(order_body())),
        ("application/xml", orjson.dumps(order_body())),
        (None, orjson.dumps(order_body())),
        ("application/json; charset=latin-1", orjson.dumps(order_body())),
    ],
)
async def test_a_body_not_declared_json_is_415(
    api: httpx.AsyncClient, db: DB, content_type: str | None, body: bytes
) -> None:
    before = counts(db)
    headers = {"Idempotency-Key": new_key()}
    if content_type is not None:
        headers["Content-Type"] = content_type
    request = api.build_request("POST", "/orders", content=body, headers=headers)
    if content_type is None:
        request.headers.pop("Content-Type", None)
    response = await api.send(request)
    _problem(response, 415, "unsupported-media-type")
    assert counts(db) == before


async def test_json_with_a_charset_is_accepted(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": new_key(), "Content-Type": "application/json; charset=UTF-8"}
    response = await api.post("/orders", content=orjson.dumps(order_body()), headers=headers)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"storeId": "store-1", "storeId": "store-1", "deviceId": "till-7", "currency": "EUR",'
        b' "items": [{"sku": "A", "name": "A", "quantity": 1, "unitPrice": 1}]}',
        b'{"storeId": "store-1", "deviceId": "till-7", "currency": "EUR",'
        b' "items": [{"sku": "A", "name": "A", "quantity": 1, "quantity": 2, "unitPrice": 1}]}',
    ],
)
async def test_duplicate_members_are_400(api: httpx.AsyncClient, db: DB, body: bytes) -> None:
    before = counts(db)
    headers = {"Idempotency-Key": new_key(), "Content-Type": "application/json"}
    response = await api.post("/orders", content=body, headers=headers)
    problem = _problem(response, 400, "malformed-json")
    assert "more than once" in str(problem["detail"])
    assert counts(db) == before


async def test_two_idempotency_keys_are_400(api: httpx.AsyncClient, db: DB) -> None:
    before = counts(db)
    request = api.build_request("POST", "/orders", json=order_body())
    request.headers = httpx.Headers(
        [
            *request.headers.raw,
            (b"Idempotency-Key", new_key().encode()),
            (b"Idempotency-Key", new_key().encode()),
        ]
    )
    response = await api.send(request)
    problem = _problem(response, 400, "invalid-idempotency-key")
    assert "one Idempotency-Key" in str(problem["detail"])
    assert counts(db) == before


def _raw_request(port: int, request: bytes) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body


def test_http_parser_errors_are_problems(
    db: DB, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    with running_api(tmp_path, "api-parser") as (_, base):
        port = int(base.rsplit(":", 1)[1])
        auth = bearer_sync()["Authorization"].encode()
        head, body = _raw_request(
            port,
            b"GET /orders HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + b"\r\n"
            b"X-Bad: a\x7fb\r\n\r\n",
        )
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"content-type: application/problem+json" in head.lower()
    problem = orjson.loads(body)
    assert problem["type"] == PROBLEMS + "bad-request"
    assert problem["status"] == 400
