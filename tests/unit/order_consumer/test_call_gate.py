"""The call gate: callers wait for the breaker's decision and can be cancelled at any instant."""

from __future__ import annotations

import asyncio

import pytest

from pos.order_consumer.breaker import Admission, Breaker
from pos.order_consumer.call_gate import CallGate
from pos.order_consumer.metrics import ConsumerMetrics
from pos.order_consumer.outcomes import Delivered


def _open_gate() -> CallGate:
    """A gate whose breaker is open and, on a frozen clock, asks callers to wait 20 ms at a time."""
    breaker = Breaker(threshold=1, open_base_seconds=0.02, open_max_seconds=0.02, ramp_seconds=0)
    breaker.failed(0.0, Admission.CALL, "503")
    return CallGate(breaker, 4, ConsumerMetrics(), clock=lambda: 0.0)


async def test_a_caller_cancelled_while_its_wait_times_out_leaves_the_lock_as_it_found_it() -> None:
    """A revocation cancels a waiting delivery; the gate must stay usable for the next one.

    The race: a caller's timed wait expires while another task holds the gate's lock, so the
    caller is still taking the lock back when the cancellation arrives. If the cancellation
    could escape before the lock is taken back, the caller would release a lock it does not
    hold, and the gate would be broken for every later delivery.
    """
    gate = _open_gate()
    lock = gate._changed  # the gate's only lock; held here to force the race deterministically
    caller = asyncio.create_task(gate.enter())
    await asyncio.sleep(0.005)  # the caller now waits on the condition, the lock free
    async with lock:
        await asyncio.sleep(0.06)  # its 20 ms wait expires while the lock is held here
        caller.cancel()
        await asyncio.sleep(0.01)
        assert not caller.done(), "a cancelled caller leaves only with the lock taken back"
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert not lock.locked()
    assert gate.in_flight == 0

    # The gate still works: once the breaker lets calls through, the next caller gets in.
    gate.breaker.succeeded(0.0, Admission.PROBE)
    admission = await asyncio.wait_for(gate.enter(), 1)
    assert admission is Admission.CALL
    await gate.leave(admission, Delivered(receipt_ref=None))
    assert gate.in_flight == 0
