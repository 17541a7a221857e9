"""Fixtures of the publisher tests: a fresh topic per test, a relay in-process or as `pos
publisher` subprocesses, and the scratch broker for the tests that take Kafka away.

Each test writes to its own topic (the outbox row names it), so what a test reads back is
exactly what its relay produced, and the session's order topic stays clean for the
consumer's tests.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pos.config import DatabaseSettings, KafkaSettings, PublisherSettings
from pos.infra import kafka
from pos.order_publisher.app import serve
from pos.scratch.processes import ServiceProcess
from pos.scratch.topics import drop_topics
from tests.support.scratch_kafka import scratch_kafka, scratch_kafka_module  # noqa: F401

TOPIC_PARTITIONS = 6


def new_topic(settings: KafkaSettings) -> str:
    name = f"test.publisher.{uuid.uuid4().hex[:10]}"
    kafka.ensure_topics(settings, {name: TOPIC_PARTITIONS})
    return name


@pytest.fixture
def topic(kafka_settings: KafkaSettings) -> Iterator[str]:
    name = new_topic(kafka_settings)
    yield name
    drop_topics(kafka_settings, [name])


# Fast enough for tests: short back-offs, a quick backlog gauge, no metrics server.
TEST_SETTINGS: dict[str, Any] = {
    "publisher_metrics_port": 0,
    "publisher_retry_base_seconds": 0.05,
    "publisher_broker_retry_max_seconds": 0.5,
    "publisher_sample_interval_seconds": 0.2,
}


class InProcessRelay:
    """`serve()` as a task on the test's event loop; stopped (gracefully) on exit."""

    def __init__(self, database_url: str, kafka_settings: KafkaSettings, **settings: Any):
        self.stop = asyncio.Event()
        self.settings = PublisherSettings(**{**TEST_SETTINGS, **settings})
        self.task = asyncio.create_task(
            serve(
                self.stop,
                db=DatabaseSettings(database_url=database_url),
                kafka=kafka_settings,
                settings=self.settings,
            )
        )

    async def wait_until(self, check: Callable[[], bool], *, within: float, what: str) -> None:
        """Wait for ``check`` without blocking the relay; fail early if the relay died."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not check():
            if self.task.done():
                self.task.result()
                raise AssertionError(f"relay stopped before {what}")
            if loop.time() > deadline:
                raise AssertionError(f"not {what} after {within} s")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


@pytest.fixture
async def relay(
    database_url: str, kafka_settings: KafkaSettings
) -> AsyncIterator[Callable[..., InProcessRelay]]:
    started: list[InProcessRelay] = []

    def start(**settings: Any) -> InProcessRelay:
        started.append(InProcessRelay(database_url, kafka_settings, **settings))
        return started[-1]

    yield start
    for r in started:
        await r.close()


def scrape(port: int) -> dict[str, float]:
    """A relay's metrics as ``{'name{labels}': value}``, without the *_created samples."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return samples


@pytest.fixture
def publisher_process(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """`pos publisher` subprocesses (the session's database), killed at the end if alive."""
    started: list[ServiceProcess] = []

    def start(name: str = "publisher", **settings: Any) -> ServiceProcess:
        env = {
            k.upper(): json.dumps(v) if isinstance(v, dict) else str(v)
            for k, v in {**TEST_SETTINGS, **settings}.items()
        }
        started.append(ServiceProcess("publisher", env=env, log_dir=tmp_path, name=name).start())
        return started[-1]

    yield start
    for p in started:
        p.kill()
