"""What every fuzz case must hold, and the tally printed at the end of the session.

The properties: no answer is a 5xx, every rejection is problem+json with a
``type``, and a rejected request writes nothing. The tally counts the cases and the
distinct rejection kinds (status + problem type) they reached, so a run can say how much
of the API's refusal surface it exercised.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

import orjson
import psycopg

TABLES = ("orders", "order_items", "outbox", "idempotency_keys")
PROBLEM = "application/problem+json"


class Tally:
    def __init__(self) -> None:
        self.cases: collections.Counter[str] = collections.Counter()
        self.kinds: collections.Counter[tuple[int, str]] = collections.Counter()

    def summary(self) -> list[str]:
        lines = [
            f"fuzz cases run: {sum(self.cases.values())} "
            f"({', '.join(f'{k} {n}' for k, n in sorted(self.cases.items()))})",
            f"distinct rejection kinds: {len(self.kinds)}",
        ]
        lines += [f"  {status} {kind}: {n}" for (status, kind), n in sorted(self.kinds.items())]
        return lines


TALLY = Tally()


def row_counts(db: psycopg.Connection[tuple[object, ...]]) -> dict[str, int]:
    row = db.execute(
        "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES)
    ).fetchone()
    assert row is not None
    return dict(zip(TABLES, (int(str(v)) for v in row), strict=True))


def check_answer(suite: str, status: int, headers: Mapping[str, str], body: bytes) -> bool:
    """Assert the answer's properties and record it; True when it was a rejection."""
    TALLY.cases[suite] += 1
    assert status < 500, f"{status}: {body[:500]!r}"
    if status < 400:
        return False
    assert headers.get("content-type", "").startswith(PROBLEM), headers
    document = orjson.loads(body)
    assert document["status"] == status
    assert "Traceback" not in body.decode("utf-8", "replace")
    TALLY.kinds[status, str(document["type"]).rsplit("/", 1)[-1]] += 1
    return True
