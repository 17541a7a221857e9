"""asyncpg connection pools for the services' hot paths.

asyncpg speaks the binary protocol and pipelines prepared statements, which is what lets
one Python process keep up with PostgreSQL here; SQLAlchemy stays for schema and migrations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import asyncpg

from pos.config import DatabaseSettings
from pos.db import schema_head


class DatabaseNotReadyError(RuntimeError):
    """The database is unreachable or not migrated: a service must not start against it."""


async def create_pool(
    settings: DatabaseSettings,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    application_name: str = "pos",
    server_settings: Mapping[str, str] | None = None,
    reset: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    command_timeout: float | None = None,
) -> asyncpg.Pool:
    """A pool on ``settings``' database, or ``DatabaseNotReadyError`` naming why not.

    ``server_settings`` go in each connection's startup packet (no statement pays for
    them); ``reset`` replaces what asyncpg runs when a connection goes back to the pool;
    ``command_timeout`` bounds every call on the client side.
    """
    try:
        pool = await asyncpg.create_pool(
            settings.dsn,
            min_size=min_size if min_size is not None else settings.db_pool_min,
            max_size=max_size if max_size is not None else settings.db_pool_max,
            server_settings={"application_name": application_name, **(server_settings or {})},
            timeout=5,
            reset=reset,  # None: asyncpg's own
            command_timeout=command_timeout,
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseNotReadyError(
            f"cannot connect to PostgreSQL at {settings.parsed.redacted()}: {exc}; "
            "is it running? (`pos infra up`)"
        ) from None
    assert pool is not None
    return pool


async def check_migrated(pool: asyncpg.Pool) -> None:
    """Fail fast with a clear message when the schema is missing or behind the code."""
    try:
        current = await pool.fetchval("SELECT version_num FROM alembic_version")
    except asyncpg.UndefinedTableError:
        current = None
    head = schema_head.head_revision()
    if current != head:
        raise DatabaseNotReadyError(
            f"database schema is at {current or 'nothing'}, code expects {head}: run `pos migrate`"
        )
