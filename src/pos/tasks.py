"""Who owns a background task: the one pattern every service uses.

A task lives inside the scope that started it, in an ``asyncio.TaskGroup``: the scope
does not end before its tasks have, and a task that fails takes the scope down with its
exception instead of dying unnoticed. There are two shapes:

- work that ends by itself when asked (a relay worker, a loop that watches a stop
  event): ``tg.create_task`` in an ``async with asyncio.TaskGroup()`` block, directly;
- work that runs until cancelled (a sweep every few minutes, a group-commit writer):
  :func:`background`, which cancels it when the block ends.

The one exception is the consumer's per-message tasks (``order_consumer.processor``):
they are the offset map's in-flight work, tracked per partition by
``order_consumer.kafka_loop``, which awaits, drains or cancels them per rebalance rather
than per scope.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def background(*work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run ``work`` as tasks for the length of the block, cancel them when it ends.

    Leaves only once every task has ended; a task that fails meanwhile cancels the block
    and its exception is raised from it.
    """
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(coro) for coro in work]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()


async def wait_any(*events: asyncio.Event) -> None:
    """Return once any of ``events`` is set; nothing is left waiting afterwards."""
    async with asyncio.TaskGroup() as tg:
        waits = [tg.create_task(event.wait()) for event in events]

        def cancel_the_others(_done: asyncio.Task[Any]) -> None:
            for wait in waits:
                wait.cancel()

        for wait in waits:
            wait.add_done_callback(cancel_the_others)
