"""Wiring: builds the consumer's adapters from settings and runs it until told to stop.

The entry point (`pos consumer`) adds signals and logging; tests call :func:`consume`
in-process with their own settings and stop event.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools

from confluent_kafka import Consumer, KafkaError

from pos.config import ConsumerSettings, DatabaseSettings, KafkaSettings, ThirdPartySettings
from pos.db.pool import check_migrated, create_pool
from pos.logging import get_logger
from pos.messaging.kafka import make_consumer, make_producer
from pos.order_consumer.breaker import Breaker
from pos.order_consumer.call_gate import CallGate
from pos.order_consumer.commit_log import CommitLog
from pos.order_consumer.dead_letters import DeadLetters
from pos.order_consumer.kafka_loop import ConsumeLoop, OnCommit
from pos.order_consumer.metrics import ConsumerMetrics
from pos.order_consumer.processor import OrderProcessor
from pos.order_consumer.repository import StatusWriter
from pos.order_consumer.retry import DeliveryRetryPolicy
from pos.order_consumer.third_party_client import ThirdPartyClient

log = get_logger(__name__)


async def consume(
    stop: asyncio.Event,
    settings: ConsumerSettings | None = None,
    third_party: ThirdPartySettings | None = None,
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
) -> None:
    settings = settings or ConsumerSettings()
    third_party = third_party or ThirdPartySettings()
    kafka = kafka or KafkaSettings()
    metrics = ConsumerMetrics()
    async with contextlib.AsyncExitStack() as cleanup:  # unwound in reverse, also on errors
        # One connection for the status writer, the others for the per-batch lookups;
        # sized by DB_POOL_MIN/MAX (DB_POOL_MAX is at least 2).
        pool = await create_pool(database, application_name="pos-consumer")
        cleanup.push_async_callback(pool.close)
        await check_migrated(pool)
        cleanup.callback(
            metrics.serve(settings.consumer_metrics_port, settings.consumer_metrics_host)
        )
        writer = StatusWriter(pool)
        cleanup.push_async_callback(_cancel, asyncio.create_task(writer.run()))
        dead_letters = DeadLetters(make_producer(kafka), kafka.dlq_topic)
        cleanup.callback(dead_letters.close)
        gate = CallGate(
            Breaker(
                threshold=settings.consumer_breaker_threshold,
                open_base_seconds=settings.consumer_breaker_open_seconds,
                open_max_seconds=settings.consumer_breaker_max_open_seconds,
                ramp_seconds=settings.consumer_breaker_ramp_seconds,
            ),
            settings.consumer_max_in_flight,
            metrics,
        )
        client = ThirdPartyClient(
            third_party.third_party_url,
            timeout=third_party.third_party_timeout_seconds,
            gate=gate,
            metrics=metrics,
            receipt_path=third_party.third_party_receipt_path,
        )
        cleanup.callback(client.close)
        processor = OrderProcessor(
            pool=pool,
            client=client,
            writer=writer,
            dead_letters=dead_letters,
            policy=DeliveryRetryPolicy.from_settings(settings),
            metrics=metrics,
        )

        def consumer(on_commit: OnCommit) -> Consumer:
            return make_consumer(
                settings.consumer_group, kafka, error_cb=_log_kafka_error, on_commit=on_commit
            )

        commit_log = settings.consumer_commit_log
        loop = ConsumeLoop(
            consumer,
            kafka.order_topic,
            processor,
            metrics,
            # Room for a second message per call slot: its lookup, back-off or status
            # write overlaps the calls instead of leaving a slot idle meanwhile.
            max_pending=2 * settings.consumer_max_in_flight,
            commit_interval=settings.consumer_commit_interval_seconds,
            grace=settings.consumer_shutdown_grace_seconds,
            hold=lambda: gate.holding,
            commit_log=None if commit_log is None else functools.partial(CommitLog, commit_log),
        )
        log.info(
            "consumer started",
            topic=kafka.order_topic,
            group=settings.consumer_group,
            max_in_flight=settings.consumer_max_in_flight,
        )
        await loop.run(stop)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _log_kafka_error(err: KafkaError) -> None:
    log.warning("kafka error", error=str(err))
