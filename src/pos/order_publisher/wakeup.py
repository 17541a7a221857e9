"""Waking the relay when rows are committed: LISTEN/NOTIFY first, polling as the safety net.

The outbox's AFTER INSERT trigger NOTIFYs ``outbox_new`` on commit, so an idle relay claims a
new order within a millisecond or two instead of at its next poll. Notifications are not
durable (a dropped listener connection misses them), which is why every wait also ends
after the poll interval: a lost notification costs latency, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from pos.domain.backoff import Backoff
from pos.logging import get_logger
from pos.order_publisher.outbox_store import DB_ERRORS
from pos.tasks import wait_any

log = get_logger(__name__)

CHANNEL = "outbox_new"


class Wakeup:
    """A latch: ``notify`` may come before or during ``wait``; either way the waiter wakes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, at_most: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), at_most)
        self._event.clear()


class NotifyListener:
    """Keeps one dedicated LISTEN connection open, reconnecting with back-off when it drops."""

    def __init__(self, dsn: str, wakeup: Wakeup, *, retry_max_seconds: float = 5.0) -> None:
        self._dsn = dsn
        self._wakeup = wakeup
        self._retry_max = retry_max_seconds

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(0.1, self._retry_max)
        failures = 0
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
            except DB_ERRORS as exc:
                if failures == 0:  # once per outage, not once per attempt
                    log.warning("outbox listener cannot connect; polling", error=str(exc))
                failures += 1
                await sleep_unless(stop, backoff.jittered(failures))
                continue
            if failures:
                log.info("outbox listener connected again")
            failures = 0
            try:
                await self._listen(conn, stop)
            except DB_ERRORS as exc:
                log.warning("outbox listener failed; polling until it is back", error=str(exc))
            finally:
                with contextlib.suppress(*DB_ERRORS):
                    await conn.close(timeout=2)

    async def _listen(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(CHANNEL, lambda *_args: self._wakeup.notify())
        # Rows committed while no one was listening announced themselves to nobody.
        self._wakeup.notify()
        await wait_any(stop, lost)
        if lost.is_set() and not stop.is_set():
            log.warning("outbox listener connection lost; polling until it is back")


async def sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, but return at once (True) when ``stop`` is set."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
