"""`pos infra up|down|status`: PostgreSQL and Kafka together, then migrations and topics."""

from __future__ import annotations

import time

from pos.config import DatabaseSettings, KafkaSettings
from pos.infra import kafka, postgres
from pos.infra.process import ServiceStatus


def up(*, migrate: bool = True) -> list[ServiceStatus]:
    """Idempotent: each piece that already answers is only checked, so a second `up` is fast."""
    db = DatabaseSettings()
    statuses = [postgres.up(db), kafka.up(KafkaSettings())]
    if migrate:
        from pos.db import migrate as migrations

        if migrations.current_revision() != migrations.head_revision():
            migrations.upgrade()
    return statuses


def down() -> list[str]:
    stopped = []
    if kafka.stop():
        stopped.append("kafka")
    if postgres.down():
        stopped.append("postgres")
    return stopped


def status() -> list[ServiceStatus]:
    return [postgres.status(), kafka.status()]


def timed_up() -> tuple[list[ServiceStatus], float]:
    started = time.monotonic()
    result = up()
    return result, time.monotonic() - started
