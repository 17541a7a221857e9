"""How many duplicate records the order topic may hold, and the check against that bound.

The relay publishes at least once: a batch Kafka acknowledged is sent again when the
relay's session ends before the commit that marks its rows published (a publisher
crash, the database's primary dying), because those rows are still unpublished when
another relay claims them. That is the only legitimate source of a second record of one
event. A leader change must add none: the idempotent producer's retries are de-duplicated
by the broker, as long as no delivery report times out. A report that timed out does not
mean the record was not written; the relay sends the rows again under a new producer
epoch, which the broker cannot de-duplicate, so a delivery time-out shorter than an
outage turns the outage into duplicates by the thousand.

So the bound is the rows the relays could hold at each cut of their sessions: the rows
created by the cut and not yet published when it struck (the whole backlog then, which
is more than any relay holds), collected from the outbox (`collect.held_at_cuts`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pos.ops.audit.facts import Facts
from pos.ops.audit.finding import Breach, Finding, not_measured

NAME = "duplicateRecords"


@dataclass(frozen=True)
class RecordBound:
    #: Per cut of the relays' sessions: the outbox rows not yet published when it struck.
    held: tuple[int, ...] = ()

    @property
    def allowed(self) -> int:
        return sum(self.held)

    def explain(self) -> str:
        return f"bound {self.allowed:,} = rows unpublished at {len(self.held)} relay cuts"


def duplicate_records(facts: Facts) -> Finding:
    """Records on the order topic beyond one per event, within what the cuts explain."""
    bound = facts.record_bound
    if bound is None:
        return not_measured("no relay cuts recorded (`pos chaos` records them)")
    repeated = {oid: n for oid, n in facts.kafka.events.items() if n > 1}
    count = sum(n - 1 for n in repeated.values())
    note = bound.explain()
    if count <= bound.allowed:
        return Finding(count, note=note)
    problem = f"{count:,} records on the order topic repeat an event ({note})"
    return Finding(count, (Breach(NAME, problem, tuple(sorted(repeated))),), note=note)
