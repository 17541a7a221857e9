"""A Python client generated from the running API's /openapi.json works as documented.

``openapi-python-client`` turns the document into typed functions and models; the test
uses them, and nothing else, to create an order, replay the request and read the order
back. A document a generator cannot fully use (a schema it drops, a response it cannot
parse) fails here before a client's developer finds it.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from pos.config import KafkaSettings
from tests.integration.order_api.test_process import running_api
from tests.support.devices import bearer_sync

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "pos_order_api_client"


@pytest.fixture
def generated(
    db: psycopg.Connection[tuple[object, ...]], kafka_settings: KafkaSettings, tmp_path: Path
) -> Iterator[tuple[str, Any]]:
    with running_api(tmp_path, "api-generated-client") as (_, base):
        result = subprocess.run(
            [
                str(GENERATOR),
                "generate",
                "--url",
                base + "/openapi.json",
                "--meta",
                "none",
                "--output-path",
                str(tmp_path / PACKAGE),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        # Missing ruff for formatting is the only warning a complete document may cause.
        problems = [
            line
            for line in result.stdout.splitlines()
            if "Unable to" in line or "Cannot parse" in line or "removal of" in line
        ]
        assert problems == [], result.stdout
        sys.path.insert(0, str(tmp_path))
        try:
            yield base, importlib.import_module(PACKAGE)
        finally:
            sys.path.remove(str(tmp_path))
            for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
                del sys.modules[name]


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_create_replay_and_read_with_the_generated_client(generated: tuple[str, Any]) -> None:
    base, package = generated
    token = bearer_sync()["Authorization"].removeprefix("Bearer ")
    client = package.AuthenticatedClient(base_url=base, token=token)
    create = _module("api.orders.create_order")
    get = _module("api.orders.get_order")
    listing = _module("api.orders.list_orders")
    models = _module("models")

    body = models.OrderIn(
        store_id="store-1",
        device_id="till-7",
        currency=models.OrderInCurrency.EUR,
        items=[models.ItemIn(sku="LATTE-L", name="Latte", quantity=2, unit_price=450)],
    )
    key = f"client-{uuid.uuid4()}"
    first = create.sync_detailed(client=client, body=body, idempotency_key=key)
    assert first.status_code == 201, first.content
    order = first.parsed
    assert isinstance(order, models.OrderOut)
    assert order.total_amount == 900
    assert order.status == models.OrderStatus.PENDING

    again = create.sync_detailed(client=client, body=body, idempotency_key=key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.parsed.id == order.id

    other = models.OrderIn(
        store_id="store-1",
        device_id="till-7",
        currency=models.OrderInCurrency.EUR,
        items=[models.ItemIn(sku="TEA", name="Tea", quantity=1, unit_price=300)],
    )
    reused = create.sync_detailed(client=client, body=other, idempotency_key=key)
    assert reused.status_code == 422
    assert isinstance(reused.parsed, models.IdempotencyKeyReusedProblem)

    read = get.sync_detailed(client=client, order_id=str(order.id))
    assert read.status_code == 200
    assert isinstance(read.parsed, models.OrderDetails)
    assert (read.parsed.id, read.parsed.created_at) == (order.id, order.created_at)

    page = listing.sync_detailed(client=client, limit=1)
    assert page.status_code == 200
    assert isinstance(page.parsed, models.OrderPage)
    assert page.parsed.next_cursor is None or isinstance(page.parsed.next_cursor, str)
