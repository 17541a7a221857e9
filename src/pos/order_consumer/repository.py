"""The consumer's two queries: "which of these orders are already final?" and "record
these outcomes", both batched, both through asyncpg.

The outcomes go through one group-committing writer: every delivery awaits its own row,
but rows that finish while a flush is running are written together by the next one
(one ``UPDATE ... FROM unnest(...)`` and one commit for all). Under load that turns
thousands of commits a second into a few hundred; when idle a row is written at once.

Connection-level failures (PostgreSQL restarting) are retried until they succeed: the
awaiting deliveries simply stay unfinished, so their offsets are not committed and the
in-flight limit stops the consumer from taking more work meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
import stamina

from pos.domain.status import OrderStatus

T = TypeVar("T")

#: Worth retrying: the database or the connection went away (restart, failover, an
#: administrator's pg_terminate_backend), not a bug in a statement.
RETRY_ON = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # shutting down, starting up, terminated
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a connection broken in the middle of a statement
)

_STATUSES = "SELECT id, status FROM orders WHERE id = ANY($1::uuid[])"

# Only PENDING moves: a duplicate event, or a second consumer after a rebalance, writes
# nothing over an outcome that is already recorded. The guard is written IS NOT DISTINCT
# FROM (equal here: status is NOT NULL) because the status index cannot serve that form:
# with stale statistics (a backlog of PENDING orders built up since the last ANALYZE,
# exactly when the consumer is catching up) the planner otherwise scans every PENDING
# row through that index for each batch instead of probing the primary key per row:
# measured 7 ms instead of 1 ms per 50-row batch with 30,000 orders pending.
_RECORD = """
UPDATE orders AS o
   SET status = u.status,
       attempts = u.attempts,
       receipt_ref = u.receipt_ref,
       last_error = u.last_error,
       processed_at = CASE WHEN u.status = 'SUCCESS' THEN now() END,
       updated_at = now()
  FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[])
       AS u(id, status, attempts, receipt_ref, last_error)
 WHERE o.id = u.id AND o.status IS NOT DISTINCT FROM 'PENDING'
"""


@dataclass(frozen=True, slots=True)
class FinalStatus:
    order_id: uuid.UUID
    status: OrderStatus
    attempts: int
    receipt_ref: str | None = None
    last_error: str | None = None


async def persistently(operation: Callable[[], Awaitable[T]]) -> T:
    async for attempt in stamina.retry_context(
        on=RETRY_ON, attempts=None, timeout=None, wait_max=5.0
    ):
        with attempt:
            return await operation()
    raise AssertionError("unreachable: retries are unbounded")


async def final_statuses(
    pool: asyncpg.Pool, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OrderStatus]:
    """Status of each known order among ``order_ids``; unknown ids are absent."""
    rows = await persistently(lambda: pool.fetch(_STATUSES, list(order_ids)))
    return {row["id"]: OrderStatus(row["status"]) for row in rows}


class StatusWriter:
    """Group commit of final statuses; run :meth:`run` as a task for its lifetime."""

    def __init__(self, pool: asyncpg.Pool, *, max_batch: int = 1000) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._queue: list[tuple[FinalStatus, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()

    async def write(self, status: FinalStatus) -> None:
        """Return once ``status`` is committed: only then may its offset be committed."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append((status, done))
        self._wake.set()
        await done

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                rows = [status for status, _ in batch]
                try:
                    await persistently(functools.partial(self._flush, rows))
                except Exception as exc:  # not a lost connection: a bug, surfaced loudly
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for _, done in batch:
                    if not done.done():  # its delivery may have been cancelled meanwhile
                        done.set_result(None)

    async def _flush(self, rows: list[FinalStatus]) -> None:
        await self._pool.execute(
            _RECORD,
            [r.order_id for r in rows],
            [str(r.status) for r in rows],
            [r.attempts for r in rows],
            [r.receipt_ref for r in rows],
            [r.last_error for r in rows],
        )
