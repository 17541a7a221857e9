"""Wiring: one relay with its producer, pool, wake-up listener, housekeeping and metrics.

``serve`` runs until ``stop`` is set, then shuts down in the order that loses nothing:
the relay finishes the batches in flight (acks awaited, rows marked, committed), the side
tasks end, the producer flushes, the pool closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pos.config import DatabaseSettings, KafkaSettings, PublisherSettings
from pos.db.pool import check_migrated, create_pool
from pos.logging import get_logger
from pos.messaging.kafka import producer_config
from pos.order_publisher.housekeeping import retention_loop, sample_backlog
from pos.order_publisher.kafka_sender import KafkaSender, delivery_bound_ms
from pos.order_publisher.metrics import PublisherMetrics
from pos.order_publisher.model import RowRetryPolicy
from pos.order_publisher.outbox_store import OutboxStore
from pos.order_publisher.reconciler import reconcile_loop
from pos.order_publisher.reconciler_store import ReconcilerStore
from pos.order_publisher.relay import Relay, RelayOptions
from pos.order_publisher.wakeup import NotifyListener, Wakeup

log = get_logger(__name__)


def relay_producer_config(kafka: KafkaSettings, settings: PublisherSettings) -> dict[str, Any]:
    timeout = settings.publisher_delivery_timeout_ms
    relay_defaults: dict[str, Any] = {
        # A missing topic is reported as UNKNOWN_TOPIC_OR_PART (never the row's fault: the
        # relay backs off and alerts) after this wait instead of the whole delivery
        # timeout, so the alert names the cause. The default wait is 30 s.
        "topic.metadata.propagation.max.ms": min(5_000, timeout // 2),
        # Measured (bench/publisher.py): 0.5 ms drains a backlog as fast as the shared
        # 2 ms (batches of thousands fill requests anyway) and cuts commit → ack p50 at
        # 500 orders/s from about 5 ms to 2; 0 ms is faster still when idle but costs a
        # fifth of the drain rate in tiny requests.
        "linger.ms": 0.5,
        # librdkafka's own log prints every failed reconnect (once a second during an
        # outage); errors reach the relay through error_cb and delivery reports instead,
        # and the relay logs broker state changes once each.
        "log_level": 0,
    }
    return producer_config(
        kafka,
        delivery_timeout_ms=timeout,
        **{**relay_defaults, **settings.publisher_kafka_overrides},
    )


def relay_options(settings: PublisherSettings) -> RelayOptions:
    return RelayOptions(
        batch_size=settings.publisher_batch_size,
        pipeline_depth=settings.publisher_pipeline_depth,
        poll_interval=settings.publisher_poll_interval,
        retry=RowRetryPolicy(
            max_attempts=settings.publisher_max_attempts,
            base_seconds=settings.publisher_retry_base_seconds,
            max_seconds=settings.publisher_retry_max_seconds,
        ),
        broker_retry_base=settings.publisher_retry_base_seconds,
        broker_retry_max=settings.publisher_broker_retry_max_seconds,
    )


def claim_idle_limit_ms(producer: Mapping[str, Any]) -> int:
    """How long a claim's transaction may sit idle: far beyond any send of this producer.

    Derived from the producer's EFFECTIVE time-outs (``PUBLISHER_KAFKA_OVERRIDES``
    included), never from the setting alone: a limit below the real send time would end the
    session mid-send, release its rows to another relay and publish them twice. A claimed
    batch waits at most for the batch ahead of it in the producer's queue and then for its
    own reports, each within ``delivery_bound_ms``; three of those plus 30 s is the margin.
    """
    return 3 * delivery_bound_ms(producer) + 30_000


def guarded(db: DatabaseSettings, producer: Mapping[str, Any]) -> DatabaseSettings:
    """The database URL with a last-resort bound on how long a claim may sit idle.

    A healthy relay always settles a claim within its producer's delivery bound, so this
    never fires for it; it frees the rows of a relay that is alive but frozen (stopped,
    deadlocked), which would otherwise hold its locks, and stall those events, for ever.
    asyncpg passes unknown URL parameters to the server as session settings.
    """
    limit_ms = claim_idle_limit_ms(producer)
    sep = "&" if "?" in db.database_url else "?"
    url = f"{db.database_url}{sep}idle_in_transaction_session_timeout={limit_ms}"
    return db.model_copy(update={"database_url": url})


async def serve(
    stop: asyncio.Event,
    *,
    db: DatabaseSettings,
    kafka: KafkaSettings,
    settings: PublisherSettings,
) -> None:
    depth = settings.publisher_pipeline_depth
    producer = relay_producer_config(kafka, settings)
    pool = await create_pool(
        guarded(db, producer),
        # DB_POOL_MIN/MAX, raised to what the pipeline needs: a connection per batch in
        # flight plus two for the side tasks.
        min_size=max(db.db_pool_min, depth),
        max_size=max(db.db_pool_max, depth + 2),
        application_name="pos-publisher",
    )
    metrics = PublisherMetrics()
    try:
        await check_migrated(pool)
        if settings.publisher_metrics_port:
            metrics.serve(settings.publisher_metrics_port, settings.publisher_metrics_host)
        store = OutboxStore(pool)
        sender = KafkaSender(producer)
        wakeup = Wakeup()
        relay = Relay(store, sender, wakeup, metrics, relay_options(settings))
        side_stop = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            relay_task = tg.create_task(relay.run())
            if settings.publisher_listen:
                tg.create_task(NotifyListener(db.dsn, wakeup).run(side_stop))
            tg.create_task(
                sample_backlog(
                    store, metrics, side_stop, interval=settings.publisher_sample_interval_seconds
                )
            )
            tg.create_task(
                retention_loop(
                    store,
                    metrics,
                    side_stop,
                    retention_seconds=settings.publisher_retention_seconds,
                    interval=settings.publisher_retention_interval_seconds,
                )
            )
            tg.create_task(
                reconcile_loop(
                    ReconcilerStore(pool, kafka.order_topic),
                    metrics,
                    side_stop,
                    after_seconds=settings.redeliver_pending_after_seconds,
                )
            )
            log.info(
                "publisher started",
                broker=kafka.kafka_broker,
                batch_size=settings.publisher_batch_size,
                pipeline_depth=depth,
                listen=settings.publisher_listen,
                metrics_port=settings.publisher_metrics_port or None,
                redeliver_pending_after_seconds=settings.redeliver_pending_after_seconds,
            )
            await stop.wait()
            log.info("publisher stopping: finishing batches in flight")
            relay.stop()
            await relay_task
            side_stop.set()
        left = await sender.close(flush_seconds=delivery_bound_ms(producer) / 1000)
        log.info("publisher stopped", unflushed=left)
    finally:
        metrics.close()
        await pool.close()
