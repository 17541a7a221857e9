"""``/readyz``: can this process do its job right now? The database and Kafka answer.

Each check has a short bound so a hung dependency makes the probe fail fast instead of
piling up probe requests. The Kafka client is synchronous (librdkafka), so its metadata
call runs in the client's :class:`~pos.messaging.bridge.KafkaThread` and the event loop
keeps serving orders meanwhile; probes that time out queue behind the call in progress
instead of piling up threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from functools import partial

import asyncpg
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from pos.config import KafkaSettings
from pos.messaging.bridge import KafkaThread

OK = "ok"


class ReadinessProbe:
    def __init__(self, pool: asyncpg.Pool, kafka: KafkaSettings, *, timeout: float) -> None:
        self._pool = pool
        # One client for the process: each AdminClient starts librdkafka threads and
        # connections, far too much to pay per probe. log_level 0: a broker that is down
        # is reported by the probe, not by librdkafka lines on stderr.
        self._admin = AdminClient({"bootstrap.servers": kafka.kafka_broker, "log_level": 0})
        self._admin_thread = KafkaThread("kafka-readiness")
        self._timeout = timeout

    async def close(self) -> None:
        await self._admin_thread.stop()

    async def check(self) -> dict[str, str]:
        """``{"database": "ok", "kafka": "..."}``; anything but "ok" says what failed."""
        database, kafka = await asyncio.gather(
            self._bounded(self._database()), self._bounded(self._kafka())
        )
        return {"database": database, "kafka": kafka}

    async def _bounded(self, check: Awaitable[str]) -> str:
        try:
            return await asyncio.wait_for(check, self._timeout)
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaException) as exc:
            return f"unreachable: {type(exc).__name__}"

    async def _database(self) -> str:
        await self._pool.fetchval("SELECT 1", timeout=self._timeout)
        return OK

    async def _kafka(self) -> str:
        list_topics = partial(self._admin.list_topics, timeout=self._timeout)
        metadata = await self._admin_thread.call(list_topics)
        return OK if metadata.brokers else "no broker in the cluster metadata"
