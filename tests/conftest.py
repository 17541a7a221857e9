"""Fixtures shared by every test: real PostgreSQL and a real Kafka broker, isolated per run.

Each pytest session gets its own freshly migrated database and its own topics, so runs can
overlap (two terminals, CI beside `make run`) without seeing each other's rows or messages,
and `make run` data is never touched. The names go into the environment, so services that
tests start as subprocesses use them too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from pos.config import DatabaseSettings, KafkaSettings, Settings
from pos.infra import kafka, postgres
from pos.scratch import databases
from pos.scratch.topics import drop_topics


@pytest.fixture(scope="session")
def infra() -> None:
    """PostgreSQL and Kafka answer (started when missing; `make test` already did it)."""
    settings = Settings()
    postgres.up(settings.db, settings.infra)
    kafka.up(settings.kafka, settings.infra)


@pytest.fixture(scope="session")
def database_url(infra: None) -> Iterator[str]:
    base = DatabaseSettings().dsn
    databases.drop_stale(base)
    with databases.ScratchDatabase(base, "test") as url:
        previous = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = url
        try:
            yield url
        finally:
            if previous is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = previous


@pytest.fixture(scope="session")
def kafka_settings(infra: None) -> Iterator[KafkaSettings]:
    """This session's own order and DLQ topics, named in the environment for subprocesses."""
    suffix = uuid.uuid4().hex[:8]
    order_topic = f"order.created.test-{suffix}"
    dlq_topic = f"{order_topic}.dlq"
    saved = {k: os.environ.get(k) for k in ("ORDER_TOPIC", "DLQ_TOPIC")}
    os.environ["ORDER_TOPIC"] = order_topic
    os.environ["DLQ_TOPIC"] = dlq_topic
    settings = KafkaSettings()
    kafka.ensure_topics(settings)
    yield settings
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    drop_topics(settings, [order_topic, dlq_topic])


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection to this session's database, emptied before the test."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE orders, order_items, idempotency_keys, outbox CASCADE")
        yield conn


#: Scopes that start whole stacks of their own (a chaos stack, a three-broker cluster and a
#: PostgreSQL pair): the longest in the suite, so they are handed out first, in this order,
#: and never two at once, since together they overload two cores.
EXCLUSIVE_SCOPES = ("replicated", "tests/integration/ops/test_chaos.py")


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """How `make test` shares the suite between its xdist workers: a file stays on one
    worker (its module fixtures start once and its tests run in order), and the replicated
    tests, in several files, share one worker, so one cluster and PostgreSQL pair starts.
    The exclusive scopes go first, one at a time; then files by their number of tests.

    A scheduler rather than ``xdist_group`` marks: those work by rewriting node ids, which
    pytest 9 no longer lets a plugin do, and the groups are silently ignored."""
    from xdist.scheduler import LoadScopeScheduling
    from xdist.workermanage import WorkerController

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "replicated" if path.startswith("tests/integration/replicated/") else path

        def _running_elsewhere(self, scope: str, node: WorkerController) -> bool:
            return any(
                not all(work[scope].values())
                for other, work in self.assigned_work.items()
                if other is not node and scope in work
            )

        def _blocked(self, scope: str, node: WorkerController) -> bool:
            """An exclusive scope may queue behind its rival on the same worker (a worker
            runs its tests one at a time), never beside it on another. xdist holds a
            worker's last test until it gets more work, so waiting for the rival to
            finish instead would wait for ever."""
            return scope in EXCLUSIVE_SCOPES and any(
                self._running_elsewhere(other, node) for other in EXCLUSIVE_SCOPES if other != scope
            )

        def _assign_work_unit(self, node: WorkerController) -> None:
            ready = [scope for scope in self.workqueue if not self._blocked(scope, node)]
            if not ready:  # only a blocked scope is left: the worker running its rival
                return  # takes it when it asks for more
            first = next((s for s in EXCLUSIVE_SCOPES if s in ready), ready[0])
            self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

        def _reschedule(self, node: WorkerController) -> None:
            super()._reschedule(node)
            # A worker left idle while a scope was blocked reports nothing more, so nothing
            # would wake it: offer it work (or its shutdown) whenever another worker reports.
            for other in self.nodes:
                if other is not node and self._pending_of(self.assigned_work[other]) == 0:
                    super()._reschedule(other)

    return ByFile(config, log)  # type: ignore[arg-type]
