"""How many third-party calls may repeat a key the third party already held.

The order id is the third party's idempotency key, so a repeat is harmless to it; but a
repeat is also the trace of a delivery the pipeline did twice, and a healthy pipeline
only does that when something cut a delivery between the third party's receipt and the
order's SUCCESS row:

- a call the third party answered late (past the client timeout): the consumer cannot
  know it was recorded and retries it, at most once per late answer (a retry answered
  late again is itself counted as a late answer);
- a crash or a lost partition: the deliveries in flight in one consumer (at most its
  ``CONSUMER_MAX_IN_FLIGHT``) may have reached the third party and are delivered again;
- a fault that cuts every consumer at once (the database, the broker or the third party
  restarting) may do that in every consumer.

So the bound is ``timeouts + interruptions × max in flight``, where ``interruptions``
counts the faults weighted by the consumers each can cut (`faults.timeline`). With no
fault and no late answer, the bound is 0: any repeat is a finding.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RepeatBound:
    #: Consumer-sized interruptions: each may repeat up to ``in_flight`` deliveries.
    interruptions: int = 0
    in_flight: int = 0

    def allowed(self, late_answers: int) -> int:
        return late_answers + self.interruptions * self.in_flight

    def explain(self, late_answers: int) -> str:
        return (
            f"bound {self.allowed(late_answers):,} = {late_answers:,} late answers + "
            f"{self.interruptions} interruptions × {self.in_flight} in flight"
        )
