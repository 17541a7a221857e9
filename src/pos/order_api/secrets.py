"""The key that signs pagination cursors, the same in every worker and after restarts.

``CURSOR_SECRET`` wins when set (at least 32 characters; rotate it and outstanding
cursors become 400s, clients restart paging). Unset, the first API process to start
generates 32 random bytes and stores them in the database (``api_secrets``); every
worker and every later start reads the same row, so several API processes agree without
any configuration, and the key never leaves the server side.
"""

from __future__ import annotations

import secrets

import asyncpg

CURSOR = "cursor"

_CLAIM = """
INSERT INTO api_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING
"""
_READ = "SELECT secret FROM api_secrets WHERE name = $1"


async def cursor_secret(pool: asyncpg.Pool, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    # Racing workers all insert; the first commit wins and everyone reads that one.
    await pool.execute(_CLAIM, CURSOR, secrets.token_bytes(32))
    stored: bytes = await pool.fetchval(_READ, CURSOR)
    return stored
