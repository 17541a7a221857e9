"""The API's connection pool: ``pos.db.pool.create_pool`` with per-connection settings and
no release reset, for two reasons the other services do not have:

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
from pos.db.pool import create_pool

#: How often a backend working for the API checks that the API is still connected. When
#: the API dies mid-request (a statement waiting on a lock), the database then abandons
#: and rolls back that statement within a second instead of finishing it for nobody.
CLIENT_CHECK_INTERVAL_MS = 1000


def session_settings(api: ApiSettings) -> dict[str, str]:
    return {
        # Bounds how long an intake waits for a concurrent request holding the same key
        # (then 409 with Retry-After) instead of queueing without limit.
        "lock_timeout": str(api.idempotency_lock_timeout_ms),
        "client_connection_check_interval": str(CLIENT_CHECK_INTERVAL_MS),
    }


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's ``reset``: nothing to undo (see the module docstring)."""


async def create_api_pool(db: DatabaseSettings, api: ApiSettings) -> asyncpg.Pool:
    return await create_pool(
        db,
        application_name="pos-api",
        server_settings=session_settings(api),
        reset=_keep_session,
        # statement_timeout cannot bound a commit waiting for a synchronous standby (it is
        # off by then); the client-side timeout cancels that wait instead.
        command_timeout=api.api_db_timeout_seconds,
    )
