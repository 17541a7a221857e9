"""``pos devices add|list|revoke``: issue, show and revoke the tills' API keys.

A key is printed once, by ``add``, as the last word of the output (scripts take it with
``| awk '{print $NF}'`` or ``tail -c``); afterwards only its hash exists.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import asyncpg

from pos.config import DatabaseSettings
from pos.domain.devices import InvalidDeviceError
from pos.exits import CommandError, ExitCode
from pos.security import keys, registry

T = TypeVar("T")


def _with_connection(db: DatabaseSettings, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async def main() -> T:
        conn = await asyncpg.connect(db.dsn, timeout=5)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(main())


async def issue_keys(
    dsn: str, devices: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], keys.ApiKey]:
    """Fresh keys for devices a tool runs itself (demo till, simulated fleet, benchmark).

    Each device's previous key is revoked: the secrets of an earlier run were never kept.
    """
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return {pair: await registry.rotate(conn, *pair) for pair in dict.fromkeys(devices)}
    finally:
        await conn.close()


def provision(
    db: DatabaseSettings, devices: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], keys.ApiKey]:
    """``issue_keys`` on ``db``, for callers outside an event loop."""
    return asyncio.run(issue_keys(db.dsn, devices))


def add(args: argparse.Namespace) -> int:
    store, device = args.store, args.device
    try:
        key = _with_connection(args.settings.db, lambda conn: registry.add(conn, store, device))
    except (InvalidDeviceError, registry.DeviceExistsError) as exc:
        raise CommandError(str(exc)) from None
    print(f"Device {store}/{device} registered, key id {key.key_id}.")
    print("Its API key is shown only this once; send it as `Authorization: Bearer <key>`:")
    print(key)
    return 0


def list_devices(args: argparse.Namespace) -> int:
    rows = _with_connection(args.settings.db, registry.list_all)
    if not rows:
        print("No devices registered: `pos devices add --store S --device D`.")
        return 0
    print(f"{'KEY ID':<16}  {'STORE':<20}  {'DEVICE':<20}  {'CREATED':<20}  REVOKED")
    for row in rows:
        revoked = row.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if row.revoked_at else "-"
        print(
            f"{row.key_id:<16}  {row.store_id:<20}  {row.device_id:<20}  "
            f"{row.created_at:%Y-%m-%d %H:%M:%S}    {revoked}"
        )
    return 0


def revoke(args: argparse.Namespace) -> int:
    target: list[str] = args.target
    if len(target) == 2:
        store, device = target
        revoked = _with_connection(
            args.settings.db, lambda conn: registry.revoke_device(conn, store, device)
        )
    elif len(target) == 1:
        revoked = _with_connection(
            args.settings.db, lambda conn: registry.revoke_key(conn, target[0])
        )
    else:
        raise CommandError("give STORE DEVICE or KEY_ID", ExitCode.USAGE)
    if not revoked:
        raise CommandError(f"no active key for {' '.join(target)}; `pos devices list` shows them")
    # Running APIs keep verified keys cached for API_KEY_CACHE_SECONDS.
    print(f"Revoked key {', '.join(revoked)}.")
    return 0
