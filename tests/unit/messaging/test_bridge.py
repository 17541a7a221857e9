"""The Kafka-to-asyncio bridge: one thread per client, results back on the loop, no polling."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from pos.messaging.bridge import KafkaThread, resolve_soon


async def test_calls_run_in_one_thread_in_submission_order() -> None:
    thread = KafkaThread("test-calls")
    seen: list[tuple[int, str]] = []

    def record(i: int) -> int:
        seen.append((i, threading.current_thread().name))
        return i * 2

    results = await asyncio.gather(*(thread.call(lambda i=i: record(i)) for i in range(50)))
    await thread.stop()
    assert results == [i * 2 for i in range(50)]
    assert seen == [(i, "test-calls") for i in range(50)]


async def test_an_exception_reaches_the_awaiting_coroutine() -> None:
    thread = KafkaThread("test-error")

    def fail() -> None:
        raise ValueError("from the client")

    with pytest.raises(ValueError, match="from the client"):
        await thread.call(fail)
    assert await thread.call(lambda: "still serving") == "still serving"
    await thread.stop()


async def test_a_call_cancelled_before_it_starts_never_runs() -> None:
    thread = KafkaThread("test-cancel")
    release = threading.Event()
    ran: list[str] = []
    blocking = asyncio.ensure_future(thread.call(lambda: release.wait(10)))
    queued = asyncio.ensure_future(thread.call(lambda: ran.append("queued")))
    await asyncio.sleep(0)  # both submitted
    queued.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await queued  # cancelled on the loop, and so in the queue
    release.set()
    assert await blocking is True
    await thread.stop()
    assert ran == []


async def test_stop_runs_what_was_submitted_first_and_is_idempotent() -> None:
    thread = KafkaThread("test-stop")
    ran: list[int] = []
    pending = asyncio.ensure_future(thread.call(lambda: ran.append(1)))
    await asyncio.sleep(0)
    await thread.stop()
    await pending
    assert ran == [1]
    await thread.stop()


async def test_serve_runs_while_idle_and_wakes_a_waiter_once_a_report_is_served() -> None:
    arrived, idle = threading.Event(), threading.Event()

    def serve(timeout: float) -> int:
        # Stands in for Producer.poll: waits up to ``timeout`` for a report.
        if arrived.wait(timeout):
            arrived.clear()
            return 1
        idle.set()
        return 0

    thread = KafkaThread("test-serve", serve=serve)
    mark = thread.reports
    waiter = asyncio.ensure_future(thread.served(mark))
    await asyncio.sleep(0)  # the waiter registers
    idle.clear()
    assert await asyncio.to_thread(idle.wait, 5)  # a turn without a report ...
    assert not waiter.done()  # ... wakes nobody
    arrived.set()
    await asyncio.wait_for(waiter, 5)
    assert thread.reports == mark + 1
    await thread.served(mark)  # a report served since the mark: returns at once
    await thread.stop()


async def test_resolve_soon_settles_a_future_of_the_loop_once_from_another_thread() -> None:
    loop = asyncio.get_running_loop()
    ok: asyncio.Future[int] = loop.create_future()
    failed: asyncio.Future[int] = loop.create_future()

    def callbacks() -> None:
        resolve_soon(loop, ok, 7)
        resolve_soon(loop, ok, 8)  # a second report for the same future is ignored
        resolve_soon(loop, failed, None, RuntimeError("refused"))

    worker = threading.Thread(target=callbacks)
    worker.start()
    assert await asyncio.wait_for(ok, 5) == 7
    with pytest.raises(RuntimeError, match="refused"):
        await asyncio.wait_for(failed, 5)
    worker.join()
