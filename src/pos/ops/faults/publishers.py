"""Whether two publishers hold outbox batches at once, read from PostgreSQL.

"Kill a publisher while another holds the lock on the next batch" needs that moment to
be real: both relays inside a claiming transaction (rows locked ``FOR UPDATE SKIP
LOCKED``, kept until Kafka acknowledged them). Row locks do not show in ``pg_locks``, but
a session inside a transaction whose last statement claimed outbox rows does.
"""

from __future__ import annotations

import time

import psycopg

HOLDING_SQL = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND xact_start IS NOT NULL
  AND query ILIKE '%outbox%' AND query ILIKE '%for update%'
"""
POLL = 0.02


def wait_for_two_batches(dsn: str, bound: float = 5.0) -> bool:
    """True once two sessions hold claimed outbox rows; False if not seen within ``bound``
    (one publisher, or a backlog too small for two batches at once)."""
    deadline = time.monotonic() + bound
    try:
        with psycopg.connect(dsn, connect_timeout=3, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(HOLDING_SQL).fetchone()
                if row is not None and int(row[0]) >= 2:
                    return True
                time.sleep(POLL)
    except psycopg.Error:
        return False  # the database restarting: kill anyway, the kill is the fault
    return False
