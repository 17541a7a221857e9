"""Task ownership: background work ends with its scope, failures are not lost."""

from __future__ import annotations

import asyncio

import pytest

from pos.tasks import background, wait_any


async def test_background_work_is_cancelled_when_the_block_ends() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with background(forever()):
        await started.wait()
    assert cancelled.is_set()


async def test_a_failing_background_task_ends_the_block_with_its_error() -> None:
    async def fails() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(ExceptionGroup) as raised:
        async with background(fails()):
            await asyncio.Event().wait()  # cancelled by the failure
    assert raised.group_contains(RuntimeError, match="a bug")


async def test_wait_any_returns_on_the_first_event_and_leaves_nothing_behind() -> None:
    first, second = asyncio.Event(), asyncio.Event()
    before = len(asyncio.all_tasks())
    asyncio.get_running_loop().call_soon(second.set)
    await asyncio.wait_for(wait_any(first, second), 5)
    assert not first.is_set()
    assert len(asyncio.all_tasks()) == before
