"""The outbox table as the relay uses it: claim, settle, measure, clean up (asyncpg).

The claim holds row locks, not a lease. ``SELECT ... FOR UPDATE SKIP LOCKED`` runs in a
transaction that stays open while the batch is in flight and commits only with the
"published" marks. Relays that claim with a lease column (``locked_until``) and commit at
once lose the guard as soon as the lease expires, even though their send is still hanging
inside the Kafka client; a second relay then sends the same rows and both copies land when
the broker returns. Here the lock lives exactly as long as the claiming session, so no
other relay can take a row while its send is undecided: the Kafka client always decides
within ``delivery.timeout.ms``, and only a dead session (crash, SIGKILL, dropped
connection) releases its rows early, which costs a re-send (a duplicate), never a loss.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import orjson

from pos.order_publisher.model import BatchOutcome, OutboxRow

# Errors a relay survives by waiting and reconnecting (PostgreSQL restart, network blip).
DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

# Oldest first through the partial index ix_outbox_unpublished. Identifiers are cast to text
# in SQL because Kafka wants strings and PostgreSQL's output function is faster than
# building UUID objects in Python only to format them again.
CLAIM_SQL = """
SELECT id, event_id::text, aggregate_id::text, event_type, topic, payload, headers,
       extract(epoch FROM created_at)::float8, attempts
FROM outbox
WHERE NOT published AND parked_at IS NULL
  AND (next_attempt_at IS NULL OR next_attempt_at <= now())
  AND id > $2
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED
"""

# clock_timestamp(), not now(): now() is the start of the claiming transaction, which
# began before the send.
MARK_PUBLISHED_SQL = """
UPDATE outbox SET published = true, published_at = clock_timestamp()
WHERE id = ANY($1::bigint[])
"""

RECORD_FAILURES_SQL = """
UPDATE outbox AS o
SET attempts = f.attempts,
    last_error = f.error,
    next_attempt_at = clock_timestamp() + make_interval(secs => f.delay),
    parked_at = CASE WHEN f.park THEN clock_timestamp() END
FROM unnest($1::bigint[], $2::int[], $3::text[], $4::float8[], $5::bool[])
     AS f(id, attempts, error, delay, park)
WHERE o.id = f.id
"""

# Shared with pos.order_publisher.admin (psycopg): no parameters, so one text serves both.
BACKLOG_SQL = """
SELECT count(*), extract(epoch FROM now() - min(created_at))::float8
FROM outbox WHERE NOT published AND parked_at IS NULL
"""

# SKIP LOCKED so relays that clean up at the same moment divide the rows instead of
# queueing behind each other's locks.
DELETE_PUBLISHED_SQL = """
DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox
    WHERE published AND published_at < now() - make_interval(secs => $1)
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""


@dataclass(frozen=True, slots=True)
class Backlog:
    rows: int
    oldest_age_seconds: float | None


class Claim:
    """One connection's open claim: the rows stay locked until ``settle`` or ``release``."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._tx: asyncpg.transaction.Transaction | None = None

    async def claim(self, limit: int, after_id: int = 0) -> list[OutboxRow]:
        """Lock up to ``limit`` rows with ids above ``after_id``; with none to claim, no
        transaction is left open."""
        self._tx = self._conn.transaction()
        await self._tx.start()
        records = await self._conn.fetch(CLAIM_SQL, limit, after_id)
        if not records:
            await self.release()
            return []
        return [
            OutboxRow(id_, event_id, key, type_, topic, payload, orjson.loads(headers), at, n)
            for id_, event_id, key, type_, topic, payload, headers, at, n in records
        ]

    async def settle(self, outcome: BatchOutcome) -> None:
        """Write what the broker said and commit, which also releases the locks."""
        if outcome.published:
            await self._conn.execute(MARK_PUBLISHED_SQL, outcome.published)
        if outcome.retries:
            rs = outcome.retries
            await self._conn.execute(
                RECORD_FAILURES_SQL,
                [r.row_id for r in rs],
                [r.attempts for r in rs],
                [r.error for r in rs],
                [r.delay_seconds for r in rs],
                [r.park for r in rs],
            )
        tx, self._tx = self._tx, None
        if tx is not None:
            await tx.commit()

    async def release(self) -> None:
        tx, self._tx = self._tx, None
        if tx is not None and not self._conn.is_closed():
            await tx.rollback()


class OutboxStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Claim]:
        """A pooled connection a relay worker keeps for many batches (no per-batch reset
        round trip); an unfinished claim is rolled back when the worker leaves it."""
        async with self._pool.acquire() as conn:
            claim = Claim(conn)
            try:
                yield claim
            finally:
                # A broken connection cannot roll back, and needs not: its locks died with
                # it. The error that broke it is the one worth reporting.
                with contextlib.suppress(*DB_ERRORS):
                    await claim.release()

    async def backlog(self) -> Backlog:
        count, age = await self._pool.fetchrow(BACKLOG_SQL)
        return Backlog(count, age)

    async def delete_published(self, older_than_seconds: float, limit: int) -> int:
        status: str = await self._pool.execute(DELETE_PUBLISHED_SQL, older_than_seconds, limit)
        return int(status.rsplit(" ", 1)[1])
