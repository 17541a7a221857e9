"""The fleet's counters and acknowledgements: what the summary table and the ledger show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from pos.ops.fleet.retry import Verdict
from pos.ops.ledger import AckRecord


@dataclass
class FleetStats:
    requests: int = 0  # every HTTP request, retries and malformed ones included
    sales_sent: int = 0  # distinct valid orders sent at least once
    acknowledged: int = 0  # distinct valid orders answered 201 (created or replayed)
    created: int = 0  # 201 answers that created an order
    replays: int = 0  # 201 answers with Idempotent-Replayed
    conflicts: int = 0  # 409: the same key was in flight
    retries: int = 0  # requests beyond a sale's first
    timeouts: int = 0  # no answer within the client timeout
    transient: int = 0  # 5xx, 429 and connection errors (timeouts counted apart)
    malformed_sent: int = 0
    rejected_malformed: int = 0  # malformed requests answered 4xx, as they must be
    malformed_accepted: int = 0  # malformed requests answered 2xx: an API bug
    refused_sales: int = 0  # valid orders answered 4xx: an API bug
    gave_up: int = 0  # valid orders never acknowledged within the retry bound
    id_mismatches: int = 0  # one key acknowledged with two different order ids
    double_taps: int = 0
    offline_spells: int = 0
    offline_sales: int = 0

    def count(self, verdict: Verdict | None, *, timed_out: bool = False) -> None:
        """One answer (or ``None`` with ``timed_out``/a connection error) to a valid sale."""
        self.requests += 1
        if verdict is Verdict.CREATED:
            self.created += 1
        elif verdict is Verdict.REPLAYED:
            self.replays += 1
        elif verdict is Verdict.CONFLICT:
            self.conflicts += 1
        elif timed_out:
            self.timeouts += 1
        elif verdict is Verdict.TRANSIENT:
            self.transient += 1

    @property
    def errors(self) -> int:
        """Everything that is not the happy path of a till, for the summary's one figure."""
        return (
            self.timeouts
            + self.transient
            + self.malformed_accepted
            + self.refused_sales
            + self.gave_up
            + self.id_mismatches
        )

    def to_json(self) -> dict[str, int]:
        return {**asdict(self), "errors": self.errors}


@dataclass
class Acknowledgements:
    """Order ids the tills were given, by sale; each new one goes to ``sink`` (the ledger).

    By sale, not by key: with per-till counter keys, two tills send the same key string.
    """

    sink: Callable[[AckRecord], None]
    stats: FleetStats
    by_sale: dict[str, str] = field(default_factory=dict)

    def record(self, ack: AckRecord) -> bool:
        """True when this is the sale's first acknowledgement."""
        known = self.by_sale.get(ack.sale)
        if known == ack.order_id:
            return False
        if known is not None:
            # Never expected: the auditor flags it as a duplicate from the ledger.
            self.stats.id_mismatches += 1
            self.sink(ack)
            return False
        self.by_sale[ack.sale] = ack.order_id
        self.stats.acknowledged += 1
        self.sink(ack)
        return True

    @property
    def order_ids(self) -> set[str]:
        return set(self.by_sale.values())
