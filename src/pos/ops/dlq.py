"""`pos dlq list` and `pos dlq redrive [ids]`: thin CLI over
:mod:`pos.order_consumer.failed_orders`."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from pos.config import DatabaseSettings
from pos.db.pool import create_pool
from pos.exits import CommandError, ExitCode
from pos.ops.confirm import bulk_allowed
from pos.order_consumer import failed_orders

T = TypeVar("T")


def list_failed(args: argparse.Namespace) -> int:
    rows = _with_pool(args.settings.db, lambda pool: failed_orders.list_failed(pool, args.limit))
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
        given = list(dict.fromkeys(uuid.UUID(value) for value in args.order_ids))
    except ValueError:
        bad = next(v for v in args.order_ids if not _is_uuid(v))
        raise CommandError(f"not an order id: {bad!r} (a UUID)", ExitCode.USAGE) from None
    everything = bulk_allowed(
        given=bool(given),
        everything=args.all,
        question="Redrive EVERY FAILED order?",
        usage="pos dlq redrive ORDER_ID ... | --all",
    )
    wanted = None if everything else given
    topic = args.settings.kafka.order_topic
    reopened = _with_pool(args.settings.db, lambda pool: failed_orders.redrive(pool, topic, wanted))
    for order_id in reopened:
        print(f"redriven {order_id}")
    skipped = sorted(set(wanted or ()) - set(reopened), key=str)
    print(f"{len(reopened)} order(s) back to PENDING, re-published through the outbox")
    if skipped:
        raise CommandError(
            f"not FAILED (or unknown): {', '.join(map(str, skipped))}; `pos dlq list` lists them"
        )
    return 0


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _with_pool(db: DatabaseSettings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    async def main() -> T:
        pool = await create_pool(db, min_size=1, max_size=1, application_name="pos-dlq")
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(main())
