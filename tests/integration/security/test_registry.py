"""The device registry on the real database: hash-only storage, one active key, revocation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from pos.domain.devices import InvalidDeviceError
from pos.security import keys, registry


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


def _store() -> str:
    return f"store-{uuid.uuid4().hex[:8]}"


async def test_added_key_is_found_by_its_id_and_only_its_hash_is_stored(
    conn: asyncpg.Connection,
) -> None:
    store = _store()
    key = await registry.add(conn, store, "till-1")
    found = await registry.find_active(conn, key.key_id)
    assert found is not None
    assert (found.device.store_id, found.device.device_id) == (store, "till-1")
    assert keys.verify(key, found.key_hash)
    stored = await conn.fetchrow("SELECT * FROM devices WHERE key_id = $1", key.key_id)
    assert stored is not None
    assert key.secret.encode() not in b"".join(str(v).encode() for v in stored.values())


async def test_one_active_key_per_device_until_revoked(conn: asyncpg.Connection) -> None:
    store = _store()
    first = await registry.add(conn, store, "till-1")
    with pytest.raises(registry.DeviceExistsError):
        await registry.add(conn, store, "till-1")
    assert await registry.revoke_device(conn, store, "till-1") == [first.key_id]
    assert await registry.find_active(conn, first.key_id) is None
    second = await registry.add(conn, store, "till-1")
    assert await registry.revoke_key(conn, second.key_id) == [second.key_id]
    assert await registry.revoke_key(conn, second.key_id) == []
    listed = [d for d in await registry.list_all(conn) if d.store_id == store]
    assert {d.key_id for d in listed} == {first.key_id, second.key_id}
    assert all(d.revoked_at is not None for d in listed)


async def test_ids_an_order_could_not_carry_are_refused(conn: asyncpg.Connection) -> None:
    with pytest.raises(InvalidDeviceError):
        await registry.add(conn, "a/b", "till-1")


async def test_rotate_replaces_the_active_key(conn: asyncpg.Connection) -> None:
    store = _store()
    first = await registry.rotate(conn, store, "till-1")  # nothing to revoke yet
    second = await registry.rotate(conn, store, "till-1")
    assert await registry.find_active(conn, first.key_id) is None
    found = await registry.find_active(conn, second.key_id)
    assert found is not None
    assert keys.verify(second, found.key_hash)
