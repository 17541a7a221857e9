"""The production shape a chaos run deploys: how many of each service, and their children.

By default what a small production site runs: one API process with two workers, two
publishers relaying one outbox (row locks keep them from sending a row twice), three
consumers in one group (partitions move between them on every join, leave and crash).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from pos.ops.supervisor import Child


@dataclass(frozen=True)
class Shape:
    api_workers: int = 2
    publishers: int = 2
    consumers: int = 3

    def __post_init__(self) -> None:
        if min(self.api_workers, self.publishers, self.consumers) < 1:
            raise ValueError("--api-workers, --publishers and --consumers must be at least 1")

    def to_json(self) -> dict[str, int]:
        return {
            "apiWorkers": self.api_workers,
            "publishers": self.publishers,
            "consumers": self.consumers,
        }

    def children(self) -> list[Child]:
        """The third party first (the consumers' first deliveries should find it), then the
        API, ``publishers`` publishers and ``consumers`` consumers, each as in production."""
        pos = [sys.executable, "-m", "pos.cli"]
        return [
            Child("third-party", [*pos, "third-party"]),
            Child("api", [*pos, "api"]),
            *(Child(f"publisher-{n}", [*pos, "publisher"]) for n in range(1, self.publishers + 1)),
            *(Child(f"consumer-{n}", [*pos, "consumer"]) for n in range(1, self.consumers + 1)),
        ]
