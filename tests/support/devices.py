"""Device keys for tests: issued once per device per session (the database is per session).

Issued once rather than rotated per test: a rotated key would stay cached as valid in an
API that already saw it, but the previous one would be refused by a fresh API process.
"""

from __future__ import annotations

import asyncio

import asyncpg

from pos.config import DatabaseSettings
from pos.security import registry

_ISSUED: dict[tuple[str, str, str], str] = {}


async def bearer(store_id: str = "store-1", device_id: str = "till-7") -> dict[str, str]:
    """The ``Authorization`` header of this device (``order_body()`` names store-1/till-7)."""
    dsn = DatabaseSettings().dsn
    if (dsn, store_id, device_id) not in _ISSUED:
        conn = await asyncpg.connect(dsn)
        try:
            key = await registry.rotate(conn, store_id, device_id)
        finally:
            await conn.close()
        _ISSUED[dsn, store_id, device_id] = f"Bearer {key}"
    return {"Authorization": _ISSUED[dsn, store_id, device_id]}


def bearer_sync(store_id: str = "store-1", device_id: str = "till-7") -> dict[str, str]:
    """``bearer`` for tests that run outside an event loop."""
    return asyncio.run(bearer(store_id, device_id))
