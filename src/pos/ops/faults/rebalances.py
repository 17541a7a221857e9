"""How often the consumer group rebalanced, read from the consumers' logs.

Each consumer logs ``partitions assigned`` / ``partitions revoked`` / ``partitions lost``
from its rebalance callbacks. A rebalance that moves partitions gives at least one member
new partitions, so the number of ``assigned`` lines across the group is the count of
rebalances each member took part in (the first assignment of each start included).
"""

from __future__ import annotations

from pathlib import Path

EVENTS = ("partitions assigned", "partitions revoked", "partitions lost")


def callbacks(logs: Path) -> dict[str, int]:
    """Rebalance callbacks per kind, over every ``consumer*.log`` under ``logs``."""
    found = dict.fromkeys(EVENTS, 0)
    for path in sorted(logs.glob("consumer*.log")):
        with path.open("r", errors="replace") as lines:
            for line in lines:
                for event in EVENTS:
                    if event in line:
                        found[event] += 1
    return found


def rebalances(logs: Path) -> int:
    return callbacks(logs)["partitions assigned"]
