"""A throw-away PostgreSQL cluster and Kafka broker for one chaos run, on ports of its own.

Chaos restarts the database and the broker: doing that to the shared ones would break a
`make run` or a test session next door. So the run provisions its own, through the same
`pos.infra` code as `pos infra up`, in a scratch state dir and on ports of its own. A
stack's values (state dir, URLs, ports) are put over the settings the run was started
with, once (``StackLayout.settings``): what this process hands to `pos.infra`, the fault
injector and the auditor. The processes it starts (the services, the fleet) get the same
values as the variables that set them (``StackLayout.environment``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

from pos.config import InfraSettings, Settings
from pos.db import migrate
from pos.infra import kafka, postgres
from pos.scratch.processes import free_port

#: A stack's values over the settings: part of ``Settings`` (``db``, ``kafka``, ...) →
#: field → value.
Overrides = dict[str, dict[str, object]]


def overridden(settings: Settings, overrides: Overrides) -> Settings:
    """``settings`` with ``overrides`` put over them; the environment is not read again."""
    parts = {}
    for part, fields in overrides.items():
        current = getattr(settings, part)
        # A copy takes any name: a misspelt one would be ignored here and by the services.
        unknown = fields.keys() - type(current).model_fields.keys()
        if unknown:
            raise ValueError(f"no such setting in {part}: {', '.join(sorted(unknown))}")
        parts[part] = current.model_copy(update=fields)
    return settings.model_copy(update=parts)


def environment(overrides: Overrides) -> dict[str, str]:
    """``overrides`` as the variables that set them, for the processes a run starts."""
    return {
        name.upper(): str(value) for fields in overrides.values() for name, value in fields.items()
    }


@dataclass(frozen=True)
class StackLayout:
    """Where a chaos stack's services answer and its run writes, whatever its topology,
    and the settings of everything it runs."""

    state_dir: Path
    #: The settings the run was started with; the stack's values go over them.
    base: Settings = field(repr=False)
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

    @cached_property
    def overrides(self) -> Overrides:
        raise NotImplementedError

    @cached_property
    def settings(self) -> Settings:
        """The stack's settings, for this process."""
        return overridden(self.base, self.overrides)

    def environment(self) -> dict[str, str]:
        """The stack's values as variables, for the processes the run starts."""
        return environment(self.overrides)


@dataclass(frozen=True)
class ScratchStack(StackLayout):
    postgres_port: int
    kafka_port: int
    controller_port: int

    @classmethod
    def allocate(cls, state_dir: Path, base: Settings) -> ScratchStack:
        return cls(
            state_dir.resolve(),
            base,
            api_port=free_port(),
            third_party_port=free_port(),
            postgres_port=free_port(),
            kafka_port=free_port(),
            controller_port=free_port(),
        )

    @cached_property
    def overrides(self) -> Overrides:
        values = services_overrides(self.state_dir, self.api_port, self.third_party_port)
        url = f"postgresql://postgres:postgres@localhost:{self.postgres_port}/posdb"
        values["db"] = {"database_url": url}
        values["kafka"] |= {"kafka_broker": f"localhost:{self.kafka_port}"}
        # KAFKA_HEAP_OPTS is the run's own: the test suite starts the broker lighter.
        values["infra"] |= {"kafka_controller_port": self.controller_port}
        return values

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
    @property
    def settings(self) -> Settings: ...
    def environment(self) -> dict[str, str]: ...
    def describe(self) -> str: ...
    def provision(self) -> None: ...
    def teardown(self, *, keep_data: bool) -> None: ...


def services_overrides(state_dir: Path, api_port: int, third_party_port: int) -> Overrides:
    """What every topology sets alike: the state dir, topics, service ports, log format."""
    return {
        "infra": {"pos_state_dir": state_dir},
        "kafka": {"order_topic": "order.created", "dlq_topic": "order.created.dlq"},
        "api": {"api_host": "127.0.0.1", "api_port": api_port},
        "third_party": {
            "third_party_url": f"http://127.0.0.1:{third_party_port}",
            "tp_store_path": state_dir / "third_party" / "receipts.jsonl",
        },
        "publisher": {"publisher_metrics_port": 0},
        "consumer": {"consumer_metrics_port": 0},
        "log": {"log_format": "json"},
    }


def _stop_leftovers(infra: InfraSettings) -> None:
    """A previous run killed before its teardown may have left its broker or cluster up."""
    kafka.stop(infra, timeout=15)
    postgres.down(infra)


def provision(stack: ScratchStack) -> None:
    """Fresh data every run: the audit must see this run's orders and receipts only."""
    settings = stack.settings
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
    infra = stack.settings.infra
    _stop_leftovers(infra)
    if not keep_data:
        shutil.rmtree(postgres.data_dir(infra).parent, ignore_errors=True)
        shutil.rmtree(stack.state_dir / "kafka", ignore_errors=True)
