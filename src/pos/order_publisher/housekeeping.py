"""Work beside the relay loop: measuring the backlog for the metrics, deleting old rows.

Both are periodic and tolerate a database that is briefly away: a missed round only makes a
gauge a little stale or leaves a few rows for the next clean-up.
"""

from __future__ import annotations

import asyncio

from pos.logging import get_logger
from pos.order_publisher.metrics import PublisherMetrics
from pos.order_publisher.outbox_store import DB_ERRORS, OutboxStore
from pos.order_publisher.wakeup import sleep_unless

log = get_logger(__name__)

# Bounded deletes: short transactions that never hold many locks, so the relay and the API
# never wait behind the clean-up, and WAL grows in small steps.
RETENTION_BATCH = 5_000


async def delete_expired(
    store: OutboxStore, retention_seconds: float, batch: int = RETENTION_BATCH
) -> int:
    """Delete published rows older than the retention, batch by batch; returns how many."""
    total = 0
    while True:
        deleted = await store.delete_published(retention_seconds, batch)
        total += deleted
        if deleted < batch:
            return total


async def retention_loop(
    store: OutboxStore,
    metrics: PublisherMetrics,
    stop: asyncio.Event,
    *,
    retention_seconds: float,
    interval: float,
) -> None:
    while not stop.is_set():
        try:
            deleted = await delete_expired(store, retention_seconds)
        except DB_ERRORS as exc:
            log.warning("outbox retention failed; will retry", error=str(exc))
        else:
            metrics.retention_deleted.inc(deleted)
            if deleted:
                log.info("outbox retention", deleted=deleted)
        await sleep_unless(stop, interval)


async def sample_backlog(
    store: OutboxStore, metrics: PublisherMetrics, stop: asyncio.Event, *, interval: float
) -> None:
    while not stop.is_set():
        try:
            backlog = await store.backlog()
        except DB_ERRORS as exc:
            log.debug("backlog sample failed", error=str(exc))
        else:
            metrics.backlog.set(backlog.rows)
            metrics.oldest_age.set(backlog.oldest_age_seconds or 0.0)
        await sleep_unless(stop, interval)
