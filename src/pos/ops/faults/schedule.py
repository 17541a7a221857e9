"""When each fault strikes during a chaos run. Pure, no I/O.

The run is cut into rounds; every round injects every kind of fault once (each service is
killed twice), at fixed fractions of the round with a little seeded jitter on the kills.
The layout keeps the faults apart enough to tell their effects apart in the logs, and
keeps third-party kills outside its misbehaving windows, since a restarted third party
comes back healthy and would cut a window short.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    KILL_API = "kill-api"
    KILL_PUBLISHER = "kill-publisher"
    KILL_CONSUMER = "kill-consumer"
    KILL_THIRD_PARTY = "kill-third-party"
    KAFKA_RESTART = "kafka-restart"
    POSTGRES_RESTART = "postgres-restart"
    THIRD_PARTY_FLAKY = "third-party-flaky"  # 20 % errors and 5 % timeouts for a while
    THIRD_PARTY_OUTAGE = "third-party-outage"  # every call 503 for a while

    @property
    def service(self) -> str | None:
        """The supervised child a kill fault targets (None for other faults)."""
        return self.value.removeprefix("kill-") if self.value.startswith("kill-") else None


@dataclass(frozen=True, order=True)
class Fault:
    #: Where in the run, in seconds of the planned duration (orders / rate). The chaos run
    #: maps it onto the fleet's progress, so faults strike while orders flow even when the
    #: machine is slower than planned.
    at: float
    kind: FaultKind
    #: Windows: how long the third party misbehaves. Restarts: downtime before the start.
    duration: float = 0.0
    #: Kafka restarts alternate between SIGKILL (a crash) and SIGTERM (a clean stop).
    abrupt: bool = True


# (fraction of the round, kind). Two kills per service per round.
_KILLS = (
    (0.05, FaultKind.KILL_API),
    (0.15, FaultKind.KILL_PUBLISHER),
    (0.40, FaultKind.KILL_THIRD_PARTY),
    (0.45, FaultKind.KILL_CONSUMER),
    (0.60, FaultKind.KILL_API),
    (0.70, FaultKind.KILL_PUBLISHER),
    (0.85, FaultKind.KILL_CONSUMER),
    (0.92, FaultKind.KILL_THIRD_PARTY),
)
FLAKY = (0.10, 0.25)  # (start, length) as fractions of the round
OUTAGE = (0.52, 0.12)
KAFKA_AT = 0.25
POSTGRES_AT = 0.77
JITTER = 0.02


def rounds_for(duration: float) -> int:
    """One round per minute of sending, at least one and at most five."""
    return max(1, min(5, int(duration // 60)))


def plan_faults(duration: float, rounds: int, seed: int = 0) -> list[Fault]:
    if duration <= 0 or rounds < 1:
        raise ValueError("a fault schedule needs a positive duration and at least one round")
    rng = random.Random(seed)
    length = duration / rounds
    down = min(10.0, max(2.0, 0.04 * length))
    faults = []
    for r in range(rounds):
        start = r * length
        for fraction, kind in _KILLS:
            jitter = rng.uniform(-JITTER, JITTER) * length
            faults.append(Fault(round(start + fraction * length + jitter, 2), kind))
        for (at, span), kind in (
            (FLAKY, FaultKind.THIRD_PARTY_FLAKY),
            (OUTAGE, FaultKind.THIRD_PARTY_OUTAGE),
        ):
            faults.append(Fault(round(start + at * length, 2), kind, round(span * length, 2)))
        faults.append(
            Fault(round(start + KAFKA_AT * length, 2), FaultKind.KAFKA_RESTART, down, r % 2 == 0)
        )
        faults.append(
            Fault(round(start + POSTGRES_AT * length, 2), FaultKind.POSTGRES_RESTART, down / 2)
        )
    return sorted(faults)
