"""The consumers' commit log: one JSON line per partition after each successful commit.

With ``CONSUMER_COMMIT_LOG`` set, a consumer appends
``{"topic", "partition", "offset", "at", "member"}`` once Kafka has accepted a commit
(``offset`` is the next offset to read, ``at`` the moment in UTC). The auditor replays it
against the topic and the orders' final times: a commit must never cover a message whose
order was not yet final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson


@dataclass(frozen=True, slots=True)
class CommitRecord:
    topic: str
    partition: int
    offset: int
    at: datetime
    member: str = ""


def read_commit_log(path: Path | None) -> tuple[CommitRecord, ...] | None:
    """The log's records; None when no log was kept (no path, or no such file).

    A torn last line (a consumer killed mid-write) is skipped: the commit it describes
    was made, but a later line of the same partition covers at least as much.
    """
    if path is None:
        return None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    records = []
    for line in raw.splitlines():
        try:
            row = orjson.loads(line)
            records.append(
                CommitRecord(
                    topic=str(row["topic"]),
                    partition=int(row["partition"]),
                    offset=int(row["offset"]),
                    at=_utc(str(row["at"])),
                    member=str(row.get("member", "")),
                )
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return tuple(records)


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
