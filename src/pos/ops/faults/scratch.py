"""A throw-away PostgreSQL cluster and Kafka broker for one chaos run, on ports of its own.

Chaos restarts the database and the broker: doing that to the shared ones would break a
`make run` or a test session next door. So the run provisions its own, through the same
`pos.infra` code as `pos infra up`, by pointing the environment (state dir, URLs, ports) at
a scratch state dir. The environment is set in this process, so the settings classes, the
infra helpers and every child process see the same scratch stack.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pos.config import InfraSettings, Settings, get_settings
from pos.db import migrate
from pos.infra import kafka, postgres
from pos.scratch.processes import free_port


class StackLayout:
    """Where a chaos stack's services answer and its run writes, whatever its topology."""

    state_dir: Path
    api_port: int
    third_party_port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def third_party_url(self) -> str:
        return f"http://127.0.0.1:{self.third_party_port}"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def fleet(self) -> Path:
        """The simulator's ledger and summary."""
        return self.state_dir / "fleet"


@dataclass(frozen=True)
class ScratchStack(StackLayout):
    state_dir: Path
    postgres_port: int
    kafka_port: int
    controller_port: int
    api_port: int
    third_party_port: int

    @classmethod
    def allocate(cls, state_dir: Path) -> ScratchStack:
        return cls(state_dir.resolve(), *(free_port() for _ in range(5)))

    def environment(self) -> dict[str, str]:
        return {
            **services_environment(self.state_dir, self.api_port, self.third_party_port),
            "DATABASE_URL": f"postgresql://postgres:postgres@localhost:{self.postgres_port}/posdb",
            "KAFKA_BROKER": f"localhost:{self.kafka_port}",
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_HEAP_OPTS": "-Xmx512m -Xms256m",
        }

    def describe(self) -> str:
        return f"scratch PostgreSQL :{self.postgres_port}, Kafka :{self.kafka_port}"

    def provision(self) -> None:
        provision(self)

    def teardown(self, *, keep_data: bool) -> None:
        teardown(self, keep_data=keep_data)


class ChaosStack(Protocol):
    """What a chaos run needs of its scratch stack, whichever the topology."""

    @property
    def api_url(self) -> str: ...
    @property
    def third_party_url(self) -> str: ...
    @property
    def logs(self) -> Path: ...
    @property
    def fleet(self) -> Path: ...
    def describe(self) -> str: ...
    def provision(self) -> None: ...
    def teardown(self, *, keep_data: bool) -> None: ...


def services_environment(state_dir: Path, api_port: int, third_party_port: int) -> dict[str, str]:
    """What every topology sets alike: the state dir, topics, service ports, log format."""
    return {
        "POS_STATE_DIR": str(state_dir),
        "ORDER_TOPIC": "order.created",
        "DLQ_TOPIC": "order.created.dlq",
        "API_HOST": "127.0.0.1",
        "API_PORT": str(api_port),
        "THIRD_PARTY_URL": f"http://127.0.0.1:{third_party_port}",
        "TP_STORE_PATH": str(state_dir / "third_party" / "receipts.jsonl"),
        "PUBLISHER_METRICS_PORT": "0",
        "CONSUMER_METRICS_PORT": "0",
        "LOG_FORMAT": "json",
    }


def enter(environment: dict[str, str]) -> Settings:
    """Point this process (and so its children) at a scratch stack; its settings."""
    os.environ.update(environment)
    get_settings.cache_clear()
    return Settings()


def _stop_leftovers(infra: InfraSettings) -> None:
    """A previous run killed before its teardown may have left its broker or cluster up."""
    kafka.stop(infra, timeout=15)
    postgres.down(infra)


def provision(stack: ScratchStack) -> None:
    """Fresh data every run: the audit must see this run's orders and receipts only."""
    settings = enter(stack.environment())
    _stop_leftovers(settings.infra)
    shutil.rmtree(postgres.data_dir(settings.infra).parent, ignore_errors=True)
    for leftover in ("kafka", "third_party", "logs", "fleet"):
        shutil.rmtree(stack.state_dir / leftover, ignore_errors=True)
    stack.logs.mkdir(parents=True)
    stack.fleet.mkdir()
    postgres.up(settings.db, settings.infra)
    kafka.up(settings.kafka, settings.infra)
    migrate.upgrade(settings.db.database_url)


def teardown(stack: ScratchStack, *, keep_data: bool) -> None:
    """Stop the scratch broker and cluster; ``keep_data`` leaves them for a post-mortem."""
    settings = enter(stack.environment())
    _stop_leftovers(settings.infra)
    if not keep_data:
        shutil.rmtree(postgres.data_dir(settings.infra).parent, ignore_errors=True)
        shutil.rmtree(stack.state_dir / "kafka", ignore_errors=True)
