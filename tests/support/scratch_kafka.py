"""A throw-away Kafka broker for tests that stop, kill or restart Kafka.

The broker on 9092 is shared by every test run on the machine, so a test that takes Kafka
away must take away its own. ``ScratchKafka`` runs a second real broker with
``pos.infra.kafka`` (same jars, same configuration) on free ports, with its state (data,
pid file, log) in a private directory. ``stop()``, ``kill()`` and ``start()`` keep that
directory, so the same broker, with its topics and records, comes back.

Each call to ``pos.infra.kafka`` is handed the scratch broker's settings (its state dir,
controller port and heap); nothing goes into the test's environment. The jar cache
(``KAFKA_LIBS_DIR``) stays shared.

Use it through the ``scratch_kafka`` fixture: one broker per test module (one JVM start),
handed to each test running, restarted first if an earlier test left it stopped or killed.
Re-export both fixtures in a ``conftest.py``::

    from tests.support.scratch_kafka import scratch_kafka, scratch_kafka_module  # noqa: F401

and point the code under test at ``broker.bootstrap`` (or ``broker.settings()`` /
``broker.env`` for subprocesses).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pos.config import InfraSettings, KafkaSettings
from pos.infra import kafka
from pos.infra.process import pid_alive
from pos.scratch.processes import free_port

#: Client JIT only and the serial collector: a broker JVM starts in about half the CPU time
#: (3.5 s against 6 s to ready, measured), which is what a 2-core machine shared by the whole
#: suite lacks; no test measures a broker's throughput.
TEST_BROKER_JVM = "-Xmx512m -Xms256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


class ScratchKafka:
    """One private single-node KRaft broker; see the module docstring."""

    def __init__(self, state_dir: Path, *, heap: str = TEST_BROKER_JVM) -> None:
        self.state_dir = state_dir
        self.port = free_port()
        self.controller_port = free_port()
        self.heap = heap
        self.infra = InfraSettings(
            pos_state_dir=state_dir,
            kafka_controller_port=self.controller_port,
            kafka_heap_opts=heap,
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a subprocess needs in its environment to use this broker."""
        return {"KAFKA_BROKER": self.bootstrap}

    def settings(self, **overrides: Any) -> KafkaSettings:
        return KafkaSettings(kafka_broker=self.bootstrap, **overrides)

    @property
    def pid(self) -> int | None:
        return kafka.managed_pid(self.infra)

    @property
    def running(self) -> bool:
        return self.pid is not None

    def start(self, timeout: float = 120) -> None:
        """Start (or restart, on the same data) and wait until it serves metadata."""
        kafka.start(self.settings(), self.infra, timeout=timeout)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM, then SIGKILL after 30 s)."""
        kafka.stop(self.infra)

    def kill(self) -> None:
        """SIGKILL: the abrupt loss of the broker; waits until the process is gone."""
        pid = self.pid
        kafka.kill(self.infra)
        deadline = time.monotonic() + 30
        while pid is not None and pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def create_topics(self, topics: dict[str, int]) -> None:
        """Create topics (name → partitions) and wait for their leaders."""
        kafka.ensure_topics(self.settings(), topics)

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / "kafka.log"


@contextmanager
def running_scratch_kafka(state_dir: Path) -> Iterator[ScratchKafka]:
    broker = ScratchKafka(state_dir)
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def scratch_kafka_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScratchKafka]:
    with running_scratch_kafka(tmp_path_factory.mktemp("scratch-kafka")) as broker:
        yield broker


@pytest.fixture
def scratch_kafka(scratch_kafka_module: ScratchKafka) -> ScratchKafka:
    """The module's private broker, running; see the module docstring."""
    if not scratch_kafka_module.running:
        scratch_kafka_module.start()
    return scratch_kafka_module
