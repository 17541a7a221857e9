"""Migrations run forward on an empty database and back down cleanly, twice over."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from pos.config import DatabaseSettings
from pos.db import migrate, schema_head
from pos.scratch import databases


@pytest.fixture
def empty_database(infra: None) -> Iterator[str]:
    with databases.ScratchDatabase(DatabaseSettings().dsn, "migrations", migrated=False) as url:
        yield url


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def test_up_down_up(empty_database: str) -> None:
    assert migrate.current_revision(empty_database) is None
    migrate.upgrade(empty_database)
    assert migrate.current_revision(empty_database) == schema_head.head_revision()
    assert {"orders", "order_items", "idempotency_keys", "outbox"} <= _tables(empty_database)

    migrate.downgrade(empty_database, "base")
    assert _tables(empty_database) <= {"alembic_version"}
    with psycopg.connect(empty_database) as conn:
        funcs = conn.execute("SELECT 1 FROM pg_proc WHERE proname = 'outbox_notify'").fetchall()
    assert funcs == []

    migrate.upgrade(empty_database)
    assert migrate.current_revision(empty_database) == schema_head.head_revision()


def test_outbox_insert_notifies_on_commit_only(database_url: str) -> None:
    """The relay's wake-up: a committed outbox insert notifies, a rolled-back one does not."""
    insert = (
        "INSERT INTO outbox (event_id, aggregate_id, event_type, topic, payload) "
        "VALUES (%s, %s, 'order.created', 't', '\\x7b7d')"
    )
    empty_insert = (
        "INSERT INTO outbox (event_id, aggregate_id, event_type, topic, payload) "
        "SELECT %s, %s, 'order.created', 't', '\\x7b7d' WHERE false"
    )
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("LISTEN outbox_new")
        with psycopg.connect(database_url) as writer:
            writer.execute(insert, (uuid.uuid4(), uuid.uuid4()))
            writer.rollback()
            # A statement that inserts no row (a replayed POST) must not wake the relay.
            writer.execute(empty_insert, (uuid.uuid4(), uuid.uuid4()))
            writer.commit()
            assert list(listener.notifies(timeout=0.5, stop_after=1)) == []
            writer.execute(insert, (uuid.uuid4(), uuid.uuid4()))
            writer.commit()
        got = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.channel for n in got] == ["outbox_new"]
        listener.execute("DELETE FROM outbox")


def test_partial_index_covers_only_the_backlog(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        (definition,) = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_outbox_unpublished'"
        ).fetchone() or ("",)
    assert "WHERE ((NOT published) AND (parked_at IS NULL))" in str(definition)
