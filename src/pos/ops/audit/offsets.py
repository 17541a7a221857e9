"""No offset is committed past an order that was not final at the time of the commit.

A committed offset tells Kafka "everything before this is done": if a consumer dies next,
what lies below it is never read again. So each message below a commit must belong to an
order that was already SUCCESS or FAILED when the commit was made. The check replays the
consumers' commit log against the topic (which message holds which order, at which
offset) and each order's final time. Pure: the commit log, the topic's messages and the
orders are facts collected beforehand.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import datetime

from pos.ops.audit.commits import CommitRecord
from pos.ops.audit.facts import Facts
from pos.ops.audit.finding import Finding, breach, not_measured

NAME = "offsetsCommittedPastUnfinished"


def _earliest_cover(commits: list[CommitRecord]) -> tuple[list[int], list[datetime]]:
    """Commits by offset, and for each the earliest commit time at or above that offset:
    the first moment a message below ``offsets[i]`` was declared done."""
    ordered = sorted(commits, key=lambda c: c.offset)
    earliest: list[datetime] = [c.at for c in ordered]
    for i in range(len(ordered) - 2, -1, -1):
        earliest[i] = min(earliest[i], earliest[i + 1])
    return [c.offset for c in ordered], earliest


def committed_past_unfinished(facts: Facts) -> Finding:
    if facts.commits is None:
        return not_measured("no consumer commit log (CONSUMER_COMMIT_LOG)")
    topic = facts.kafka.topic
    by_partition: dict[int, list[CommitRecord]] = defaultdict(list)
    for record in facts.commits:
        if not topic or record.topic == topic:
            by_partition[record.partition].append(record)
    orders = {o.id: o for o in facts.orders}
    early: set[str] = set()
    for partition, commits in by_partition.items():
        offsets, earliest = _earliest_cover(commits)
        for offset, order_id in facts.kafka.offsets.get(partition, ()):
            order = orders.get(order_id)
            if order is None:
                continue  # no order at all: the events-without-order verdict names it
            first = bisect.bisect_right(offsets, offset)  # the first commit above it
            if first == len(offsets):
                continue  # never committed past
            if order.final_at is None or order.final_at > earliest[first]:
                early.add(order_id)
    found = breach(NAME, "{n} orders were committed past before they were final", early)
    note = f"{len(facts.commits):,} commits replayed"
    return Finding(len(early), found, note=note)
