"""A journal of the offset commits the broker acknowledged, for audits.

The auditor checks that no commit ever passed an order that was not final at the time:
for each line it reads the partition's messages below the committed offset and compares
their orders' final-status times with ``at``. Written from the Kafka thread only, one
line per partition and commit, flushed at once (a killed consumer leaves every line it
acknowledged). Off unless ``CONSUMER_COMMIT_LOG`` names a file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson


class CommitLog:
    def __init__(self, path: Path, member: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("ab", buffering=0)
        self.member = member

    def write(self, topic: str, partition: int, offset: int) -> None:
        at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "at": at,
            "member": self.member,
        }
        self._file.write(orjson.dumps(line) + b"\n")

    def close(self) -> None:
        self._file.close()
