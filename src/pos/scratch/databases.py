"""Databases of their own: created, migrated (or not), dropped, with the time in the name.

Every test session, benchmark stage and test that needs a database apart gets one on the
configured server, named ``pos_scratch_<unix time>_<label>_<id>`` so that runs never see
each other's rows, ``make run`` data is never touched, and the leftovers of a run killed
before its clean-up can be recognised and dropped (``drop_stale``).

A test whose subject changes shared state in ways other tests rely on (``pos dev`` rotates
the demo till's key, the till the API tests send as) runs against a database of its own.
"""

from __future__ import annotations

import time
import uuid

import psycopg

PREFIX = "pos_scratch_"
STALE_AFTER_SECONDS = 6 * 3600


def admin_dsn(dsn: str) -> str:
    """The server's maintenance database, from which databases are created and dropped."""
    return dsn.rsplit("/", 1)[0] + "/postgres"


def drop_stale(dsn: str) -> None:
    """Drop scratch databases older than ``STALE_AFTER_SECONDS`` (the name carries the time)."""
    cutoff = time.time() - STALE_AFTER_SECONDS
    with psycopg.connect(admin_dsn(dsn), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)
        ).fetchall()
        for (name,) in rows:
            try:
                created = int(str(name).removeprefix(PREFIX).split("_")[0])
            except ValueError:
                continue
            if created < cutoff:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ScratchDatabase:
    """A database of its own on ``dsn``'s server: created (and migrated to head unless
    ``migrated`` is False) on entry, dropped on exit, connections and all. Its URL is known
    from construction, so callers can hand it to services they configure beforehand.

    ``template`` names a database on the same server to copy instead (``CREATE DATABASE
    ... TEMPLATE``): its schema and rows as they are, not migrated again. Copying a
    migrated, empty database is much faster than migrating, for tests that each want a
    database of their own; nothing may be connected to the template while it is copied.
    """

    def __init__(
        self, dsn: str, label: str, *, migrated: bool = True, template: str | None = None
    ) -> None:
        self.name = f"{PREFIX}{int(time.time())}_{label}_{uuid.uuid4().hex[:6]}"
        self.url = dsn.rsplit("/", 1)[0] + "/" + self.name
        self._admin = admin_dsn(dsn)
        self._migrated = migrated and template is None
        self._template = template

    def __enter__(self) -> str:
        copied = f' TEMPLATE "{self._template}"' if self._template else ""
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"{copied}')
        if self._migrated:
            from pos.db import migrate  # Alembic is slow to import: only callers that migrate

            try:
                migrate.upgrade(self.url)
            except BaseException:
                self.drop()
                raise
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.drop()

    def drop(self) -> None:
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
