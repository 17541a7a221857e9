"""What the auditor knows about the system: plain values, collected once, checked purely.

The collectors (`audit.collect`) fill these from PostgreSQL, Kafka and the third party;
the checks (`audit.checks`) never do I/O, so every kind of breach can be unit-tested by
writing the facts of a broken system by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pos.ops.audit.commits import CommitRecord

if TYPE_CHECKING:
    from pos.ops.audit.records import RecordBound
from pos.ops.audit.repeats import RepeatBound
from pos.ops.ledger import AckRecord


@dataclass(frozen=True, slots=True)
class OrderFact:
    id: str
    scope: str
    key: str
    status: str
    last_error: str | None
    content_hash: str
    created_at: datetime
    #: When the order last became SUCCESS or FAILED (its ``updated_at``); None while PENDING.
    final_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ParkedEventFact:
    outbox_id: int
    order_id: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class OutboxFacts:
    unpublished: tuple[str, ...] = ()  # order ids of rows still waiting for the relay
    parked: tuple[ParkedEventFact, ...] = ()


@dataclass(frozen=True)
class KafkaFacts:
    topic: str = ""  # the order topic's name: commit-log lines of other topics are ignored
    events: Mapping[str, int] = field(default_factory=dict)  # order id -> events on the topic
    dead_letters: frozenset[str] = frozenset()  # order ids with a message on the DLQ topic
    #: When retention has deleted the topic's oldest events: orders created before this
    #: cannot be checked against the topic. None: the topic still holds every event.
    retained_since: datetime | None = None
    #: The order topic message by message: partition -> (offset, order id), by offset.
    #: What a committed offset covers, for the commit audit.
    offsets: Mapping[int, Sequence[tuple[int, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class ThirdPartyFacts:
    received: int = 0
    unique: int = 0
    duplicates: int = 0  # calls that repeated a key the third party already held
    timeouts: int = 0  # calls it answered late (past the client timeout), on purpose
    #: Order ids the third party holds a receipt for; None when it cannot be listed.
    delivered: frozenset[str] | None = None
    source: str = "stats"  # where ``delivered`` came from, for the report


@dataclass(frozen=True)
class Facts:
    orders: tuple[OrderFact, ...]
    outbox: OutboxFacts
    kafka: KafkaFacts
    third_party: ThirdPartyFacts
    acknowledged: tuple[AckRecord, ...] | None = None  # the simulator's ledger, when given
    #: The consumers' commit log (one line per committed partition); None: not kept.
    commits: tuple[CommitRecord, ...] | None = None
    #: How many repeated third-party calls the run's faults can explain.
    repeat_bound: RepeatBound = field(default_factory=RepeatBound)
    #: How many duplicate records on the order topic the cuts of the relays' sessions
    #: explain; None when the run recorded no cuts (the verdict is then not measured).
    record_bound: RecordBound | None = None
