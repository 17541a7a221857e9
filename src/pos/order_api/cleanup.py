"""Removal of expired idempotency records: a periodic task inside the API process.

Expired records only cost space (an expired key is refused by its order's unique key, not
by the record), so the sweep can be lazy: every few minutes, in bounded batches so one
sweep never holds many locks or writes a burst of WAL while orders are coming in.
"""

from __future__ import annotations

import asyncio

from pos.logging import get_logger
from pos.order_api.metrics import ApiMetrics
from pos.order_api.store import IntakeStore

log = get_logger(__name__)


async def purge_expired(store: IntakeStore, metrics: ApiMetrics, *, batch_size: int) -> int:
    """Delete every record expired now, ``batch_size`` rows per statement; returns the count."""
    total = 0
    while True:
        deleted = await store.delete_expired(batch_size)
        total += deleted
        metrics.expired_keys_deleted.inc(deleted)
        if deleted < batch_size:
            break
    if total:
        log.info("expired idempotency records deleted", count=total)
    return total


async def purge_periodically(
    store: IntakeStore, metrics: ApiMetrics, *, interval: float, batch_size: int
) -> None:
    """Run until cancelled; a failed sweep (database restarting) is logged and retried."""
    while True:
        # Sleep first: a process that restarts in a loop should not sweep on every start.
        await asyncio.sleep(interval)
        try:
            await purge_expired(store, metrics, batch_size=batch_size)
        except Exception:
            log.exception("idempotency cleanup failed; retrying at the next interval")
