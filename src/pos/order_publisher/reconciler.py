"""The publisher's reconciler: nothing lives only in Kafka.

Every ``interval_seconds(after)`` it re-enqueues, batch by batch, the orders still PENDING
``REDELIVER_PENDING_AFTER_SECONDS`` after their event was published (see
``reconciler_model`` for why and ``reconciler_store`` for how two publishers never both
do it). The first round comes one interval after start, not at start: a publisher that
restarts in a loop does not scan the orders at every start.
"""

from __future__ import annotations

import asyncio

from pos.logging import get_logger
from pos.order_publisher.metrics import PublisherMetrics
from pos.order_publisher.outbox_store import DB_ERRORS
from pos.order_publisher.reconciler_model import interval_seconds, plan_redeliveries
from pos.order_publisher.reconciler_store import ReconcilerStore
from pos.order_publisher.wakeup import sleep_unless

log = get_logger(__name__)

# Orders per transaction: short locks and statements even after a large loss of events.
RECONCILE_BATCH = 500
# Order ids logged per batch; the count is always logged.
LOGGED_IDS = 20


async def reconcile_once(
    store: ReconcilerStore,
    metrics: PublisherMetrics,
    *,
    after_seconds: float,
    batch: int = RECONCILE_BATCH,
) -> int:
    """One round: batches until one comes back short; returns how many were re-enqueued."""
    total = 0
    while True:
        enqueued = await store.redeliver(after_seconds, batch, plan_redeliveries)
        if enqueued is None:
            log.debug("reconcile skipped: another publisher is reconciling")
            return total
        if enqueued:
            metrics.redelivered.inc(len(enqueued))
            log.warning(
                "pending orders re-enqueued: their events were published long ago",
                orders=len(enqueued),
                after_seconds=after_seconds,
                order_ids=[str(i) for i in enqueued[:LOGGED_IDS]],
            )
        total += len(enqueued)
        if len(enqueued) < batch:
            return total


async def reconcile_loop(
    store: ReconcilerStore,
    metrics: PublisherMetrics,
    stop: asyncio.Event,
    *,
    after_seconds: float,
) -> None:
    interval = interval_seconds(after_seconds)
    while not await sleep_unless(stop, interval):
        try:
            await reconcile_once(store, metrics, after_seconds=after_seconds)
        except DB_ERRORS as exc:
            log.warning("reconcile failed; will retry", error=str(exc))
