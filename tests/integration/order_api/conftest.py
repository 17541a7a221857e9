"""The Order API in-process (httpx over ASGI, lifespan run) against the session database.

Clients send the key of the device ``order_body()`` names (store-1/till-7).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import psycopg
import pytest

from pos.config import ApiSettings, AuthSettings, KafkaSettings
from tests.support.api_client import in_process_api
from tests.support.devices import bearer

ApiClientFactory = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "storeId": "store-1",
        "deviceId": "till-7",
        "currency": "EUR",
        "items": [
            {"sku": "LATTE-L", "name": "Latte", "quantity": 2, "unitPrice": 450},
            {"sku": "CROISSANT", "name": "Croissant", "quantity": 1, "unitPrice": 250},
        ],
    }
    body.update(overrides)
    return body


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


def counts(db: psycopg.Connection[tuple[object, ...]]) -> dict[str, int]:
    tables = ("orders", "order_items", "outbox", "idempotency_keys")
    return {t: int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}  # type: ignore[index]


@contextlib.asynccontextmanager
async def _client(**api_overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    # The tests here send far more than a till would: the rate limit has its own tests.
    unlimited = AuthSettings(api_rate_limit_per_second=1e9, api_rate_limit_burst=10**9)
    api = ApiSettings(**api_overrides)
    async with in_process_api(api=api, auth=unlimited, headers=await bearer()) as client:
        yield client


@pytest.fixture(scope="session")
def api_factory(database_url: str, kafka_settings: KafkaSettings) -> ApiClientFactory:
    """An in-process API with some settings changed (a short lock timeout, say)."""
    return _client


@pytest.fixture(scope="session")
async def api(api_factory: ApiClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The API with default settings, started once for the session."""
    async with api_factory() as client:
        yield client
