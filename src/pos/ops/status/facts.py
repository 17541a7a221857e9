"""What `pos status` knows, as plain data, and the arithmetic on it (no I/O here).

Each source (PostgreSQL, Kafka, the third party, each service) is read by its own function
in ``collect`` (the figures themselves through ``pos.ops.observe``, as the auditor reads
them) and may be down; a reading is the source's probe and what could be read; a fact that
could not be read is ``None``, never a guess, so a script reading ``--json`` can tell
"zero" from "unknown".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pos.domain.status import OrderStatus
from pos.ops.observe import Offsets
from pos.order_publisher.admin import OutboxStats


@dataclass(frozen=True)
class Probe:
    """Whether one component answers, where it was asked, and why not."""

    name: str
    address: str
    up: bool
    detail: str = ""


@dataclass(frozen=True)
class DatabaseReading:
    probe: Probe
    orders: dict[str, int] | None = None
    # Backlog (unpublished, not parked), its oldest row's age, parked (poison) rows: the
    # publisher's own admin figures, so `pos status` and `pos outbox stats` never disagree.
    outbox: OutboxStats | None = None
    # How long the oldest PENDING order has waited: an order no event carries any more
    # shows here (growing) until the publisher's reconciler re-issues its event.
    oldest_pending_age_seconds: float | None = None


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    committed: int | None
    end: int
    lag: int


@dataclass(frozen=True)
class KafkaReading:
    probe: Probe
    topic: str
    group: str
    dlq_topic: str
    group_state: str | None = None
    group_members: int | None = None
    partitions: tuple[Offsets, ...] | None = None
    dlq_partitions: tuple[Offsets, ...] | None = None


@dataclass(frozen=True)
class ThirdPartyReading:
    probe: Probe
    stats: dict[str, int] | None = None


@dataclass(frozen=True)
class ConsumerLag:
    group: str
    topic: str
    state: str | None
    members: int | None
    partitions: list[PartitionLag] | None
    total_lag: int | None


@dataclass(frozen=True)
class DeadLetterSummary:
    failed_orders: int | None
    topic: str
    messages: int | None


@dataclass(frozen=True)
class ThirdPartyView:
    url: str
    stats: dict[str, int] | None
    error_rate: float | None
    refusal_rate: float | None


@dataclass(frozen=True)
class BreakerView:
    """The consumer's circuit breaker on the third party, from its metrics.

    ``open_for_seconds`` counts from the first trip of the current outage: a failed
    half-open probe re-opens the breaker without restarting that clock.
    """

    state: str  # "closed", "half-open" or "open"
    open_for_seconds: float | None


BREAKER_STATES = {0: "closed", 1: "half-open", 2: "open"}


def breaker_view(state: float | None, open_since: float | None, now: float) -> BreakerView | None:
    """Read the two gauges; None when the consumer does not export them."""
    if state is None:
        return None
    name = BREAKER_STATES.get(int(state), f"unknown ({state:g})")
    since = open_since if open_since else None
    return BreakerView(name, None if since is None else max(0.0, now - since))


@dataclass(frozen=True)
class StatusReport:
    """Everything on the screen; ``asdict`` of it is the ``--json`` document."""

    taken_at: datetime
    # PostgreSQL (migrated, readable) and Kafka answer: what the pipeline cannot do without.
    healthy: bool
    components: list[Probe]
    orders: dict[str, int] | None
    outbox: OutboxStats | None
    consumer: ConsumerLag
    dlq: DeadLetterSummary
    third_party: ThirdPartyView
    warnings: list[str] = field(default_factory=list)
    oldest_pending_age_seconds: float | None = None
    breaker: BreakerView | None = None

    def probe(self, name: str) -> Probe:
        return next(p for p in self.components if p.name == name)


def partition_lag(offsets: Offsets) -> PartitionLag:
    """Messages the group has not finished in one partition.

    Without a commit (or with one below the log start, after retention deleted it) the
    consumer starts at the earliest offset, as its ``auto.offset.reset=earliest`` says, so
    the lag is everything still in the log, not everything ever written.
    """
    start = offsets.committed
    if start is None or start < offsets.low:
        start = offsets.low
    return PartitionLag(
        partition=offsets.partition,
        committed=offsets.committed,
        end=offsets.high,
        lag=max(0, offsets.high - start),
    )


def consumer_lag(kafka: KafkaReading) -> ConsumerLag:
    lags = None if kafka.partitions is None else [partition_lag(p) for p in kafka.partitions]
    return ConsumerLag(
        group=kafka.group,
        topic=kafka.topic,
        state=kafka.group_state,
        members=kafka.group_members,
        partitions=lags,
        total_lag=None if lags is None else sum(p.lag for p in lags),
    )


def messages_in(partitions: Sequence[Offsets] | None) -> int | None:
    """Messages still in the log (high - low watermark): a DLQ topic's size."""
    if partitions is None:
        return None
    return sum(max(0, p.high - p.low) for p in partitions)


def rate(stats: Mapping[str, int] | None, *numerators: str) -> float | None:
    """Share of the third party's received calls that ended in the given outcomes."""
    if not stats or not stats.get("received") or any(n not in stats for n in numerators):
        return None
    return sum(stats[n] for n in numerators) / stats["received"]


def orders_by_status(counts: Mapping[str, int]) -> dict[str, int]:
    """Every status present (zero included) in the lifecycle's order, then anything unknown."""
    ordered = {s.value: int(counts.get(s.value, 0)) for s in OrderStatus}
    ordered.update({k: int(v) for k, v in counts.items() if k not in ordered})
    return ordered


def warnings(
    db: DatabaseReading,
    kafka: KafkaReading,
    lag: ConsumerLag,
    dead: DeadLetterSummary,
    stuck_after: float | None = None,
    breaker: BreakerView | None = None,
) -> list[str]:
    """The lines an operator must not miss, worst first.

    ``stuck_after``: an order PENDING longer than this is stuck even though the publisher
    re-issues its event (twice the redelivery limit): no consumer is delivering it.
    """
    out = []
    backlog = db.outbox.backlog if db.outbox else None
    if not db.probe.up:
        out.append(f"PostgreSQL is DOWN ({db.probe.detail}): the API cannot accept orders")
    elif db.orders is None:
        out.append(f"PostgreSQL answers but {db.probe.detail} (is it migrated? `pos migrate`)")
    if not kafka.probe.up:
        waiting = f"; {backlog} events wait in the outbox" if backlog is not None else ""
        out.append(f"Kafka is DOWN at {kafka.probe.address}{waiting}: nothing is relayed")
    if breaker is not None and breaker.state != "closed":
        held = "" if breaker.open_for_seconds is None else f" for {breaker.open_for_seconds:.0f} s"
        out.append(
            f"the third party's circuit breaker is {breaker.state.upper()}{held}: "
            "consumption is paused, orders wait (none is failed for it)"
        )
    if db.outbox and db.outbox.parked:
        out.append(f"{db.outbox.parked} outbox events are parked: they need an operator")
    if lag.partitions is not None and not lag.members and lag.total_lag:
        out.append(f"consumer group {lag.group} has no members and {lag.total_lag} to do")
    age = db.oldest_pending_age_seconds
    if stuck_after is not None and age is not None and age > stuck_after:
        out.append(
            f"the oldest PENDING order waits for {age / 60:.0f} min, its event re-issued "
            "and still not delivered: is a consumer running?"
        )
    if dead.failed_orders:
        out.append(f"{dead.failed_orders} orders FAILED: `pos dlq list`, `pos dlq redrive`")
    return out


def assemble(
    taken_at: datetime,
    db: DatabaseReading,
    kafka: KafkaReading,
    third_party: ThirdPartyReading,
    services: Sequence[Probe],
    stuck_after: float | None = None,
    breaker: BreakerView | None = None,
) -> StatusReport:
    lag = consumer_lag(kafka)
    dead = DeadLetterSummary(
        failed_orders=None if db.orders is None else db.orders.get(OrderStatus.FAILED.value, 0),
        topic=kafka.dlq_topic,
        messages=messages_in(kafka.dlq_partitions),
    )
    return StatusReport(
        taken_at=taken_at,
        healthy=db.orders is not None and kafka.probe.up,
        components=[db.probe, kafka.probe, *services, third_party.probe],
        orders=db.orders,
        outbox=db.outbox,
        consumer=lag,
        dlq=dead,
        third_party=ThirdPartyView(
            url=third_party.probe.address,
            stats=third_party.stats,
            error_rate=rate(third_party.stats, "errors", "timeouts"),
            refusal_rate=rate(third_party.stats, "refused"),
        ),
        warnings=warnings(db, kafka, lag, dead, stuck_after, breaker),
        oldest_pending_age_seconds=db.oldest_pending_age_seconds,
        breaker=breaker,
    )


def to_json(report: StatusReport) -> dict[str, Any]:
    doc = asdict(report)
    doc["taken_at"] = report.taken_at.isoformat()
    return doc
