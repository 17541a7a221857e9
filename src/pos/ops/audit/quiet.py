"""Wait until the pipeline is quiet before auditing it, within a bound.

Quiet means: no order PENDING, no outbox row waiting, and nothing moving (the counts and
the third party's received calls unchanged) for ``quiet_for`` seconds, because a consumer
may still be re-delivering after a restart when every order already looks final. The
clock and the probe are parameters so the rule is tested without a system.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar


class Drainable(Protocol):
    @property
    def drained(self) -> bool: ...


@dataclass(frozen=True)
class QuietOutcome:
    quiet: bool
    seconds: float  # waited until quiet, or until the bound ran out


S = TypeVar("S", bound=Drainable)


def wait_for_quiet(
    probe: Callable[[], S | None],
    *,
    timeout: float,
    quiet_for: float,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> QuietOutcome:
    started = clock()
    last: S | None = None
    still_since = started
    while True:
        now = clock()
        current = probe()
        if current is None or current != last:
            last, still_since = current, now
        elif current.drained and now - still_since >= quiet_for:
            return QuietOutcome(True, round(still_since - started, 2))
        if now - started >= timeout:
            return QuietOutcome(False, round(now - started, 2))
        sleep(interval)
