"""When the consume loop pauses fetching, and why it must not stay paused for ever."""

from __future__ import annotations

from pos.order_consumer.kafka_loop import ConsumeLoop
from pos.order_consumer.metrics import ConsumerMetrics


def _loop(holding: bool) -> ConsumeLoop:
    return ConsumeLoop(
        lambda _on_commit: object(),  # type: ignore[arg-type,return-value]  # never polled here
        "orders",
        None,  # type: ignore[arg-type]
        ConsumerMetrics(),
        max_pending=4,
        commit_interval=1.0,
        grace=1.0,
        hold=lambda: holding,
    )


async def test_an_open_breaker_pauses_fetching_while_a_message_can_probe_it() -> None:
    loop = _loop(holding=True)
    try:
        loop._pending = 1
        assert await loop._decide_pause() is True
        assert await loop._decide_pause() is None  # stays paused
    finally:
        await loop._kafka.stop()


async def test_an_open_breaker_with_nothing_taken_fetches_again() -> None:
    """A revoke cancelled every taken message while the breaker was open: without a call
    the breaker never closes, so the loop must fetch a message to be the probe."""
    loop = _loop(holding=True)
    try:
        loop._pending = 2
        assert await loop._decide_pause() is True
        loop._pending = 0  # the partitions' messages were revoked
        assert await loop._decide_pause() is False
    finally:
        await loop._kafka.stop()
