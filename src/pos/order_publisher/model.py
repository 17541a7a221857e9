"""The relay's decisions, without I/O: what happens to each row after a delivery attempt, and
whether the broker counts as reachable.

Two kinds of failure are told apart because they call for opposite reactions. A record the
broker refuses for what it is (too large, invalid) will likely be refused again: the row is
charged an attempt, retried after a back-off and finally parked so it stops blocking the
queue. A broker that does not answer, or refuses every record whatever it holds (ACLs,
credentials, a topic that does not exist, a fenced producer: see ``kafka_errors``), says
nothing about the rows: charging them would park perfectly good events, so they are left
untouched and the whole relay backs off instead.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from pos.domain.backoff import Backoff


class OutboxRow(NamedTuple):
    """One claimed outbox row, as much of it as producing and accounting need.

    A NamedTuple rather than a dataclass: a drain builds tens of thousands per second and
    tuple construction is the cheapest object Python has.
    """

    id: int
    event_id: str
    aggregate_id: str
    event_type: str
    topic: str
    payload: bytes
    headers: dict[str, str]
    created_at: float  # epoch seconds, for the insert → ack latency
    attempts: int


class FailureKind(enum.Enum):
    BROKER = "broker"  # the broker, the network or the set-up failed: says nothing about the row
    MESSAGE = "message"  # the broker refused this record: retrying it may never succeed


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    row_id: int
    kind: FailureKind
    reason: str
    code: str = ""  # the Kafka error's name, e.g. TOPIC_AUTHORIZATION_FAILED


def backoff_seconds(failures: int, base: float, cap: float) -> float:
    """``base`` after one failure, doubling, at most ``cap`` (no jitter: a row's retry time
    and the relay's pause are shown to operators and asserted in tests)."""
    return Backoff(base, cap).ceiling(failures)


@dataclass(frozen=True, slots=True)
class RowRetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float


@dataclass(frozen=True, slots=True)
class Retry:
    """A row the broker refused: its new attempt count, and either a delay or parking."""

    row_id: int
    attempts: int
    error: str
    delay_seconds: float
    park: bool


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    published: list[int]
    retries: list[Retry]
    # Rows the broker did not answer for: left exactly as they were, to be claimed again.
    untouched: list[int]
    broker_error: str | None = None
    # Rows left untouched per Kafka error name, for the alert and its metric.
    broker_codes: dict[str, int] = field(default_factory=dict)

    @property
    def broker_failed(self) -> bool:
        return bool(self.untouched)

    @property
    def parked(self) -> list[Retry]:
        return [r for r in self.retries if r.park]


def settle(
    rows: Sequence[OutboxRow], failures: Iterable[DeliveryFailure], policy: RowRetryPolicy
) -> BatchOutcome:
    """Turn one batch's delivery reports into what is written back to the outbox."""
    failed = {f.row_id: f for f in failures}
    if not failed:  # the common case, kept cheap for large batches
        return BatchOutcome([row.id for row in rows], [], [])
    published: list[int] = []
    retries: list[Retry] = []
    untouched: list[int] = []
    broker_error: str | None = None
    broker_codes: Counter[str] = Counter()
    for row in rows:
        failure = failed.get(row.id)
        if failure is None:
            published.append(row.id)
        elif failure.kind is FailureKind.BROKER:
            untouched.append(row.id)
            broker_error = broker_error or failure.reason
            broker_codes[failure.code or "unknown"] += 1
        else:
            attempts = row.attempts + 1
            retries.append(
                Retry(
                    row_id=row.id,
                    attempts=attempts,
                    error=failure.reason,
                    delay_seconds=backoff_seconds(
                        attempts, policy.base_seconds, policy.max_seconds
                    ),
                    park=attempts >= policy.max_attempts,
                )
            )
    return BatchOutcome(published, retries, untouched, broker_error, dict(broker_codes))


class Transition(enum.Enum):
    WENT_DOWN = "went_down"
    CAME_BACK = "came_back"


@dataclass(slots=True)
class BrokerHealth:
    """Whether the broker answers, judged from delivery reports, with a back-off while it does not.

    Only state *changes* are reported, so an hour-long outage logs two lines, not thousands.
    """

    base_seconds: float
    max_seconds: float
    available: bool = True
    failures: int = 0  # consecutive batches the broker failed
    down_since: float | None = None
    resume_at: float = 0.0  # monotonic time before which no batch is claimed

    def record(self, *, broker_failed: bool, now: float) -> Transition | None:
        if broker_failed:
            self.failures += 1
            self.resume_at = now + backoff_seconds(
                self.failures, self.base_seconds, self.max_seconds
            )
            if self.available:
                self.available = False
                self.down_since = now
                return Transition.WENT_DOWN
            return None
        self.failures = 0
        self.resume_at = 0.0
        if not self.available:
            self.available = True
            return Transition.CAME_BACK
        return None

    def outage_seconds(self, now: float) -> float:
        return 0.0 if self.down_since is None else now - self.down_since


@dataclass(slots=True)
class ScanCursor:
    """Where the next claim starts reading the unpublished-rows index.

    Every claim could scan from the oldest row, but while batches overlap that gets slower
    with each batch: marking a row published leaves a dead entry in the partial index, and
    PostgreSQL cannot prune it while any older transaction is open, which during a drain is
    always (the batch in flight). A claim from the start would step over every row already
    published in this drain, so a 100,000-row backlog costs quadratic work. Instead, while
    a backlog drains (the last claim was full) and a batch is in flight, the next claim
    starts after the highest id in flight. Rows it passes over (a retry that came due, a
    row another relay released) are found by a full scan at least once per
    ``rescan_interval`` and whenever a batch left rows unpublished, and every time the relay
    is not draining a backlog, so a skipped row waits about as long as a lost notification.
    """

    rescan_interval: float
    frontier: int = 0  # highest id claimed by a batch still in flight
    in_flight: int = 0
    draining: bool = False
    rescan_at: float = 0.0

    def start_after(self, now: float) -> int:
        if self.in_flight and self.draining and now < self.rescan_at:
            return self.frontier
        self.rescan_at = now + self.rescan_interval
        return 0

    def claimed(self, last_id: int | None, *, full: bool) -> None:
        self.draining = full
        if last_id is not None:
            self.in_flight += 1
            self.frontier = max(self.frontier, last_id)

    def settled(self, *, left_rows: bool) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self.frontier = 0
        if left_rows:
            self.rescan_at = 0.0
