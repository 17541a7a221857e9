"""The API's connection pool: asyncpg, with per-connection settings and no release reset.

Built here rather than with ``pos.db.pool.create_pool`` for two options that function
does not take:

- ``reset``: by default asyncpg sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL;
  UNLISTEN *; RESET ALL`` each time a connection goes back to the pool, a second round
  trip for every order. The API never leaves session state behind (one statement per
  checkout, no LISTEN, no SET, no cursors, no advisory locks), so there is nothing to reset;
  an open transaction is still rolled back by asyncpg whatever ``reset`` says.
- ``server_settings``: sent once in the startup packet, so no statement pays for them.
"""

from __future__ import annotations

import asyncpg

from pos.config import ApiSettings, DatabaseSettings
from pos.db.pool import DatabaseNotReadyError

#: How often a backend working for the API checks that the API is still connected. When
#: the API dies mid-request (a statement waiting on a lock), the database then abandons
#: and rolls back that statement within a second instead of finishing it for nobody.
CLIENT_CHECK_INTERVAL_MS = 1000


def session_settings(api: ApiSettings) -> dict[str, str]:
    return {
        "application_name": "pos-api",
        # Bounds how long an intake waits for a concurrent request holding the same key
        # (then 409 with Retry-After) instead of queueing without limit.
        "lock_timeout": str(api.idempotency_lock_timeout_ms),
        "client_connection_check_interval": str(CLIENT_CHECK_INTERVAL_MS),
    }


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's ``reset``: nothing to undo (see the module docstring)."""


async def create_api_pool(db: DatabaseSettings, api: ApiSettings) -> asyncpg.Pool:
    try:
        pool = await asyncpg.create_pool(
            db.dsn,
            min_size=db.db_pool_min,
            max_size=db.db_pool_max,
            server_settings=session_settings(api),
            reset=_keep_session,
            timeout=5,
            # statement_timeout cannot bound a commit waiting for a synchronous standby
            # (it is off by then); the client-side timeout cancels that wait instead.
            command_timeout=api.api_db_timeout_seconds,
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseNotReadyError(
            f"cannot connect to PostgreSQL ({type(exc).__name__}: {exc}); "
            "is it running? (`pos infra up`)"
        ) from None
    assert pool is not None
    return pool
