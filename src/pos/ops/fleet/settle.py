"""How long until every acknowledged order is final: polled in the database, bounded.

The database rather than ``GET /orders/{id}``: one query answers for thousands of orders,
where the API would need one request per order and compete with the fleet for its CPU.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

POLL_INTERVAL = 0.25
CHUNK = 20_000  # ids per query: keeps each array parameter small


@dataclass(frozen=True)
class FinalStates:
    seconds: float | None  # until none was PENDING; None when the bound ran out first
    success: int
    failed: int
    pending: int
    missing: int  # acknowledged ids the database does not know (the auditor names them)


async def _statuses(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    found: dict[uuid.UUID, str] = {}
    for start in range(0, len(ids), CHUNK):
        rows = await conn.fetch(
            "SELECT id, status FROM orders WHERE id = ANY($1::uuid[])", ids[start : start + CHUNK]
        )
        found.update((row["id"], row["status"]) for row in rows)
    return found


async def wait_until_final(dsn: str, order_ids: Iterable[str], bound: float) -> FinalStates:
    """Poll until no acknowledged order is PENDING, or ``bound`` seconds have passed.

    A polling bound rather than ``asyncio.timeout``: when it runs out, the counts so far
    are the answer, not an exception.
    """
    started = time.monotonic()
    waiting = [uuid.UUID(i) for i in order_ids]
    final: dict[uuid.UUID, str] = {}
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        while True:
            statuses = await _statuses(conn, waiting)
            final.update((i, s) for i, s in statuses.items() if s != "PENDING")
            waiting = [i for i in waiting if i not in final]
            if not waiting or time.monotonic() - started >= bound:
                break
            await asyncio.sleep(POLL_INTERVAL)
    finally:
        await conn.close()
    missing = sum(1 for i in waiting if i not in statuses)
    values = list(final.values())
    return FinalStates(
        seconds=round(time.monotonic() - started, 2) if not waiting else None,
        success=values.count("SUCCESS"),
        failed=values.count("FAILED"),
        pending=len(waiting) - missing,
        missing=missing,
    )
