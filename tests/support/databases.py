"""Databases of their own for tests: created, migrated, dropped, with the time in the name.

One session database holds what most tests share (its device keys among them). A test whose
subject changes shared state in ways other tests rely on (``pos dev`` rotates the demo
till's key, which is the till the API tests send as) runs against a database of its own.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import psycopg

TEST_DB_PREFIX = "pos_test_"
STALE_AFTER_SECONDS = 6 * 3600


def admin_dsn(dsn: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/postgres"


def drop_stale(dsn: str) -> None:
    """Databases of runs that were killed before their teardown; the name carries the time."""
    cutoff = time.time() - STALE_AFTER_SECONDS
    with psycopg.connect(admin_dsn(dsn), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (TEST_DB_PREFIX + "%",)
        ).fetchall()
        for (name,) in rows:
            try:
                created = int(str(name).removeprefix(TEST_DB_PREFIX).split("_")[0])
            except ValueError:
                continue
            if created < cutoff:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def migrated_database(dsn: str, label: str = "") -> Iterator[str]:
    """A new database on ``dsn``'s server, migrated to head; its URL, dropped afterwards."""
    from pos.db import migrate

    suffix = f"{label}_" if label else ""
    name = f"{TEST_DB_PREFIX}{int(time.time())}_{suffix}{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_dsn(dsn), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = dsn.rsplit("/", 1)[0] + "/" + name
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin_dsn(dsn), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
