"""When each fault strikes during a chaos run. Pure, no I/O.

The run is cut into rounds; every round injects every kind of fault of its topology once
(the API, the publishers, the consumers and the third party are killed twice), at fixed
fractions of the round with a little seeded jitter on the kills. The process faults and
the third party's misbehaviour are the same on both topologies; the infrastructure faults
are the topology's own: a restart of the one broker and the one database, or a leader's
crash, a rolling restart of the cluster, a primary's crash with failover and the old
primary's return as the standby. The layout keeps the faults apart
enough to tell their effects apart in the logs, and keeps third-party kills outside its
misbehaving windows, since a restarted third party comes back healthy and would cut a
window short.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Topology = Literal["single", "replicated"]


class FaultKind(StrEnum):
    KILL_API = "kill-api"
    #: SIGKILL one publisher while another holds the row locks of the next batch.
    KILL_PUBLISHER = "kill-publisher"
    KILL_CONSUMER = "kill-consumer"
    KILL_THIRD_PARTY = "kill-third-party"
    #: SIGTERM a consumer (cooperative revoke with work in flight), keep it out of the
    #: group for a while, then let it join again.
    CONSUMER_LEAVE_JOIN = "consumer-leave-join"
    #: SIGTERM a consumer, and SIGKILL another while the group rebalances.
    KILL_CONSUMER_IN_REBALANCE = "kill-consumer-in-rebalance"
    KAFKA_RESTART = "kafka-restart"
    #: SIGTERM a consumer, then stop PostgreSQL while the group rebalances.
    POSTGRES_RESTART_IN_REBALANCE = "postgres-restart-in-rebalance"
    THIRD_PARTY_FLAKY = "third-party-flaky"  # 20 % errors and 5 % timeouts for a while
    THIRD_PARTY_OUTAGE = "third-party-outage"  # every call 503 for a while
    #: Calls recorded, then answered past the client timeout: "processed but answered late".
    THIRD_PARTY_LATE = "third-party-late"
    #: 409 "key in progress" answers (nothing recorded; the consumer retries).
    THIRD_PARTY_CONFLICT = "third-party-conflict"
    # --- the replicated topology ---
    #: SIGKILL the broker leading most of the order topic's partitions while the relays
    #: send; it comes back after a while and catches up into every ISR.
    KAFKA_LEADER_KILL = "kafka-leader-kill"
    #: SIGKILL two of the three brokers: no quorum, no acknowledged write, until they are
    #: back; longer than the relay's delivery time-out used to be.
    KAFKA_TWO_DOWN = "kafka-two-brokers-down"
    #: Restart the three brokers one after another, each back in every ISR before the next.
    KAFKA_ROLLING_RESTART = "kafka-rolling-restart"
    #: SIGKILL the PostgreSQL primary while tills send, then fail over: fence it, promote
    #: the synchronous standby (`pos infra failover`).
    POSTGRES_FAILOVER = "postgres-primary-kill-failover"
    #: The old primary back as the new primary's synchronous standby (`pos infra rejoin`).
    POSTGRES_REJOIN = "postgres-rejoin"

    @property
    def service(self) -> str | None:
        """The kind of supervised child a plain kill targets (None for other faults)."""
        if self.value.startswith("kill-") and "rebalance" not in self.value:
            return self.value.removeprefix("kill-")
        return None

    def consumers_cut(self, consumers: int) -> int:
        """Consumers whose in-flight deliveries this fault may cut after the third party
        took them (so they are delivered again: repeats the auditor allows).

        A consumer stopping or crashing cuts its own; the database, the broker or the
        third party going away cuts every consumer's; a publisher crash re-publishes a
        batch, whose repeated events one consumer may hold in flight at once. Late
        answers are counted by the third party itself; errors, outages and 409s record
        nothing, so they cause no repeat.
        """
        return {
            FaultKind.KILL_CONSUMER: 1,
            FaultKind.CONSUMER_LEAVE_JOIN: 1,
            FaultKind.KILL_CONSUMER_IN_REBALANCE: 2,
            FaultKind.KILL_PUBLISHER: 1,
            FaultKind.KILL_THIRD_PARTY: consumers,
            FaultKind.KAFKA_RESTART: consumers,
            FaultKind.POSTGRES_RESTART_IN_REBALANCE: consumers + 1,
            # The group coordinator may be on the node that goes: commits fail, members
            # rejoin. A rolling restart moves the coordinator up to once per node.
            FaultKind.KAFKA_LEADER_KILL: consumers,
            FaultKind.KAFKA_TWO_DOWN: consumers,
            FaultKind.KAFKA_ROLLING_RESTART: BROKERS * consumers,
            FaultKind.POSTGRES_FAILOVER: consumers,
        }.get(self, 0)

    @property
    def cuts_relays(self) -> bool:
        """Whether this fault may end a relay between Kafka's acknowledgement of a batch
        and the commit that marks its rows published, so they are sent again: the only
        legitimate source of duplicate records on the order topic (a leader change alone
        is absorbed by the idempotent producer)."""
        return self in (
            FaultKind.KILL_PUBLISHER,
            FaultKind.POSTGRES_RESTART_IN_REBALANCE,
            FaultKind.POSTGRES_FAILOVER,
        )


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
    (0.20, FaultKind.CONSUMER_LEAVE_JOIN),
    (0.33, FaultKind.KILL_CONSUMER_IN_REBALANCE),
    (0.40, FaultKind.KILL_THIRD_PARTY),
    (0.45, FaultKind.KILL_CONSUMER),
    (0.60, FaultKind.KILL_API),
    (0.70, FaultKind.KILL_PUBLISHER),
    (0.85, FaultKind.KILL_CONSUMER),
    (0.92, FaultKind.KILL_THIRD_PARTY),
)
# Third-party windows, (start, length) as fractions of the round; none overlaps another
# or a third-party kill (at 0.40 and 0.92, give or take the jitter).
WINDOWS = (
    (0.08, 0.18, FaultKind.THIRD_PARTY_FLAKY),
    (0.28, 0.08, FaultKind.THIRD_PARTY_CONFLICT),
    (0.52, 0.12, FaultKind.THIRD_PARTY_OUTAGE),
    (0.66, 0.08, FaultKind.THIRD_PARTY_LATE),
)
KAFKA_AT = 0.25
POSTGRES_AT = 0.77
#: The replicated topology's infrastructure faults, (fraction of the round, kind): each
#: Kafka fault in its own part of the round, the outage early (while orders flow, away
#: from the API's kills), the rejoin after its failover. The injector
#: still serialises them per tier (a rolling restart never starts while a killed leader is
#: still catching up: that would be two brokers down, a different fault).
REPLICATED_INFRA = (
    (0.12, FaultKind.KAFKA_TWO_DOWN),
    (0.30, FaultKind.KAFKA_LEADER_KILL),
    (0.50, FaultKind.KAFKA_ROLLING_RESTART),
    (0.62, FaultKind.POSTGRES_FAILOVER),
    (0.80, FaultKind.POSTGRES_REJOIN),
)
JITTER = 0.02
BROKERS = 3  # the replicated cluster's nodes (`pos.infra.topology.CLUSTER_SIZE`)
#: Seconds two brokers stay down, restarts not counted: alone as long as the relay's
#: delivery time-out was (10 s), where the re-sends it caused were measured.
TWO_DOWN_FOR = 10.0

_SINGLE_ONLY = frozenset({FaultKind.KAFKA_RESTART, FaultKind.POSTGRES_RESTART_IN_REBALANCE})
_REPLICATED_ONLY = frozenset(kind for _, kind in REPLICATED_INFRA)


def kinds(topology: Topology) -> frozenset[FaultKind]:
    """The fault kinds a run on ``topology`` injects."""
    other = _REPLICATED_ONLY if topology == "single" else _SINGLE_ONLY
    return frozenset(FaultKind) - other


def rounds_for(duration: float) -> int:
    """One round per minute of sending, at least one and at most five."""
    return max(1, min(5, int(duration // 60)))


def plan_faults(
    duration: float, rounds: int, seed: int = 0, topology: Topology = "single"
) -> list[Fault]:
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
            hold = down if kind is FaultKind.CONSUMER_LEAVE_JOIN else 0.0
            faults.append(Fault(round(start + fraction * length + jitter, 2), kind, hold))
        for at, span, kind in WINDOWS:
            faults.append(Fault(round(start + at * length, 2), kind, round(span * length, 2)))
        if topology == "replicated":
            for fraction, kind in REPLICATED_INFRA:
                # The leader stays down, and the primary's death goes unnoticed, a while.
                holds = {
                    FaultKind.KAFKA_LEADER_KILL: down,
                    FaultKind.KAFKA_TWO_DOWN: min(TWO_DOWN_FOR, 0.3 * length),
                    FaultKind.POSTGRES_FAILOVER: 2.0,
                }
                faults.append(Fault(round(start + fraction * length, 2), kind, holds.get(kind, 0)))
            continue
        faults.append(
            Fault(round(start + KAFKA_AT * length, 2), FaultKind.KAFKA_RESTART, down, r % 2 == 0)
        )
        faults.append(
            Fault(
                round(start + POSTGRES_AT * length, 2),
                FaultKind.POSTGRES_RESTART_IN_REBALANCE,
                down / 2,
            )
        )
    return sorted(faults)
