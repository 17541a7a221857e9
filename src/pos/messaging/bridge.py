"""The one bridge between a blocking confluent-kafka client and the asyncio event loop.

librdkafka's Python clients block: ``poll``, ``flush``, ``commit(asynchronous=False)``,
``close`` and admin metadata calls wait on the network, and the callbacks a client was
given (delivery reports, rebalances, commit results) run inside ``poll``/``flush`` on
whichever thread called them. Every service reaches its clients through
:class:`KafkaThread`, and nothing else in a service moves Kafka work off the event loop.

Invariants:

- **One thread per client.** Each client gets its own ``KafkaThread``; every blocking call
  on that client (:meth:`KafkaThread.call`) runs in it, in submission order, one at a
  time. So the client's callbacks also run only there, never on the event loop and never
  on two threads at once, and code that runs in it (a consumer's ownership epochs) needs
  no lock. Non-blocking calls (``produce``, which only enqueues) may stay on the loop.
- **The event loop never blocks on Kafka** and never sleeps to wait for it. Results come
  back to the loop through ``loop.call_soon_threadsafe`` (``asyncio.wrap_future`` does it
  for :meth:`KafkaThread.call`); callbacks that resolve a future of the loop use
  :func:`resolve_soon`, one cross-thread hop per future.
- **Reports are served while idle.** A producer's thread is given ``serve`` (its
  ``poll``): between calls it runs it with a short timeout, a wait inside librdkafka that
  returns as soon as a report arrives, so delivery reports reach the loop without any
  polling on the loop side. A consumer's thread has no ``serve``: its owner polls through
  :meth:`KafkaThread.call`, which is where the consumer's rebalance callbacks must fire.
- **A cancelled call that has not started never runs**; one that has started runs to its
  end (a blocking librdkafka call cannot be interrupted), and its result is dropped.
- **Stopping drains.** :meth:`KafkaThread.stop` runs what was submitted before it, then
  ends the thread; the thread is a daemon, so a process that exits without stopping it is
  not held up by it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

from pos.logging import get_logger

T = TypeVar("T")
log = get_logger(__name__)

#: How long ``serve`` may wait for reports before the thread looks at its calls again: the
#: most a call submitted to an idle producer's thread waits before it starts.
SERVE_TIMEOUT: Final = 0.05

_Work = tuple[Callable[[], Any], concurrent.futures.Future[Any]]


class KafkaThread:
    """The dedicated thread of one confluent-kafka client; see the module docstring."""

    def __init__(self, name: str, serve: Callable[[float], int] | None = None) -> None:
        self._name = name
        self._serve = serve
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()  # None: stop
        self._reports = 0  # reports served so far (written by the thread only)
        self._served: asyncio.Event | None = None  # a waiter of served(), at most one
        self._served_loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in this client's thread, after what was submitted before it."""
        work: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._work.put((fn, work))
        return await asyncio.wrap_future(work)

    @property
    def reports(self) -> int:
        """How many reports ``serve`` has served so far: a mark for :meth:`served`."""
        return self._reports

    async def served(self, since: int) -> None:
        """Return once ``serve`` has served a report after the mark ``since`` was taken.

        For a producer whose local queue was full when ``since`` was read: the next report
        frees room. Take the mark before the call that failed, so a report served in
        between is not missed. One waiter at a time; only for a thread given ``serve``.
        """
        if self._reports != since:
            return
        event = asyncio.Event()
        self._served_loop = asyncio.get_running_loop()
        self._served = event
        # The thread adds to the count, then looks for a waiter; this side registers,
        # then looks at the count: at least one of the two sees the other.
        if self._reports != since:
            self._served = None
            return
        await event.wait()

    async def stop(self) -> None:
        """Run what was submitted, then end the thread (idempotent)."""
        if not self._thread.is_alive():
            return
        ended: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._work.put((lambda: None, ended))
        self._work.put(None)
        await asyncio.wrap_future(ended)

    def _run(self) -> None:
        while True:
            try:
                item = self._work.get(block=self._serve is None)
            except queue.Empty:
                self._serve_reports()
                continue
            if item is None:
                return
            fn, work = item
            if not work.set_running_or_notify_cancel():
                continue  # cancelled before it started
            try:
                result = fn()
            except BaseException as exc:  # handed to the awaiting coroutine
                work.set_exception(exc)
            else:
                work.set_result(result)

    def _serve_reports(self) -> None:
        assert self._serve is not None
        try:
            served = self._serve(SERVE_TIMEOUT)
        except Exception:  # a dead thread would leave every awaited report unserved
            log.exception("kafka callback failed", thread=self._name)
            return
        if not served:
            return
        self._reports += served
        event, loop = self._served, self._served_loop
        if event is not None and loop is not None:
            self._served = None
            loop.call_soon_threadsafe(event.set)


def resolve_soon(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[T],
    result: T | None = None,
    error: BaseException | None = None,
) -> None:
    """From a client callback (its own thread): settle ``future`` on ``loop``, once."""
    loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
