"""The device registry: the ``devices`` table behind ``pos devices`` and the API's auth.

Works on an asyncpg pool or a single connection (both answer ``fetch``/``fetchrow``), so
the API uses its pool and the CLI and tests a short-lived connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from pos.domain.devices import Device, check_ids
from pos.security import keys


class Executor(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]: ...
    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None: ...


class DeviceExistsError(Exception):
    """The device already has an active key: revoke it first, then add a new one."""


@dataclass(frozen=True, slots=True)
class RegisteredKey:
    """A key as stored: what the API needs to authenticate a request bearing it."""

    device: Device
    key_hash: bytes


@dataclass(frozen=True, slots=True)
class DeviceListing:
    key_id: str
    store_id: str
    device_id: str
    created_at: datetime
    revoked_at: datetime | None


_INSERT = """
INSERT INTO devices (key_id, store_id, device_id, key_hash) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
RETURNING key_id
"""
_ACTIVE_BY_KEY_ID = """
SELECT key_id, store_id, device_id, key_hash FROM devices
WHERE key_id = $1 AND revoked_at IS NULL
"""
_LIST = """
SELECT key_id, store_id, device_id, created_at, revoked_at FROM devices
ORDER BY store_id, device_id, created_at
"""
_REVOKE_DEVICE = """
UPDATE devices SET revoked_at = now()
WHERE store_id = $1 AND device_id = $2 AND revoked_at IS NULL
RETURNING key_id
"""
_REVOKE_KEY = """
UPDATE devices SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL
RETURNING key_id
"""


async def add(db: Executor, store_id: str, device_id: str) -> keys.ApiKey:
    """Issue a key for a device; the caller shows it once, only its hash is kept.

    ``ON CONFLICT DO NOTHING`` covers both the active-device index and a (vanishingly
    unlikely) key id collision; the latter is told apart and retried with a fresh key.
    """
    check_ids(store_id, device_id)
    for _ in range(3):
        key = keys.generate()
        inserted = await db.fetchrow(
            _INSERT, key.key_id, store_id, device_id, keys.hash_secret(key.secret)
        )
        if inserted is not None:
            return key
        if await _has_active_key(db, store_id, device_id):
            raise DeviceExistsError(f"{store_id}/{device_id} already has an active key")
    raise RuntimeError("could not allocate a unique key id")


async def rotate(conn: asyncpg.Connection, store_id: str, device_id: str) -> keys.ApiKey:
    """Revoke the device's active key (if any) and issue a new one, atomically.

    For tools that provision their own devices on every run (``pos dev``'s demo till, the
    fleet simulator): the previous run's key stops working, the device keeps its orders
    and idempotency scope.
    """
    async with conn.transaction():
        await revoke_device(conn, store_id, device_id)
        return await add(conn, store_id, device_id)


async def _has_active_key(db: Executor, store_id: str, device_id: str) -> bool:
    row = await db.fetchrow(
        "SELECT 1 FROM devices WHERE store_id = $1 AND device_id = $2 AND revoked_at IS NULL",
        store_id,
        device_id,
    )
    return row is not None


async def find_active(db: Executor, key_id: str) -> RegisteredKey | None:
    row = await db.fetchrow(_ACTIVE_BY_KEY_ID, key_id)
    if row is None:
        return None
    device = Device(row["key_id"], row["store_id"], row["device_id"])
    return RegisteredKey(device, bytes(row["key_hash"]))


async def list_all(db: Executor) -> list[DeviceListing]:
    return [
        DeviceListing(r["key_id"], r["store_id"], r["device_id"], r["created_at"], r["revoked_at"])
        for r in await db.fetch(_LIST)
    ]


async def revoke_device(db: Executor, store_id: str, device_id: str) -> list[str]:
    """Revoke the device's active key; the revoked key ids (empty: nothing was active)."""
    return [r["key_id"] for r in await db.fetch(_REVOKE_DEVICE, store_id, device_id)]


async def revoke_key(db: Executor, key_id: str) -> list[str]:
    return [r["key_id"] for r in await db.fetch(_REVOKE_KEY, key_id)]
