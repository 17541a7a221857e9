"""`pos dlq list` and `pos dlq redrive [ids]`: thin CLI over
:mod:`pos.order_consumer.failed_orders`."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from pos.config import KafkaSettings
from pos.db.pool import create_pool
from pos.order_consumer import failed_orders

T = TypeVar("T")


def list_failed(args: argparse.Namespace) -> int:
    rows = _with_pool(lambda pool: failed_orders.list_failed(pool, args.limit))
    if not rows:
        print("no FAILED orders")
        return 0
    print(f"{'order id':36}  {'attempts':>8}  {'failed at (UTC)':19}  reason")
    for row in rows:
        when = row.failed_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{row.id!s:36}  {row.attempts:>8}  {when:19}  {row.last_error or ''}")
    return 0


def redrive(args: argparse.Namespace) -> int:
    try:
        wanted = [uuid.UUID(value) for value in args.order_ids] or None
    except ValueError as exc:
        print(f"not an order id: {exc}")
        return 2
    topic = KafkaSettings().order_topic
    reopened = _with_pool(lambda pool: failed_orders.redrive(pool, topic, wanted))
    for order_id in reopened:
        print(f"redriven {order_id}")
    skipped = sorted(set(wanted or ()) - set(reopened), key=str)
    for order_id in skipped:
        print(f"skipped {order_id}: not FAILED (or unknown)")
    print(f"{len(reopened)} order(s) back to PENDING, re-published through the outbox")
    return 0


def _with_pool(work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    async def main() -> T:
        pool = await create_pool(min_size=1, max_size=1, application_name="pos-dlq")
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(main())
