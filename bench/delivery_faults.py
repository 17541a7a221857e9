"""Delivery through a hostile third party: outages, late answers and "key in progress".

Orders flow through the four real services at a steady 20 orders/s, with the consumer's
client timeout at 1 s, while the simulated third party goes through, one after the
other: a 60 s outage; 60 s in which it processes every call but answers after the
client's timeout; 30 s in which 60 % of calls are answered `409` "a request with this key
is in progress"; and 10 s in which 5 % of orders are refused (`422`). Calm stretches
separate them. Then every order must end final, and:

- every order the third party did not refuse is `SUCCESS` with exactly one receipt;
- the refused orders, and only they, are `FAILED`, each with a dead letter.

Run: ``python -m bench.delivery_faults`` (about 5 minutes); it writes
``bench/results/delivery-faults.{json,md}`` and exits 1 if any of the above fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from confluent_kafka import Consumer, TopicPartition

from bench.e2e import Pipeline, load, wait_final
from pos.config import PROJECT_ROOT

RATE = 20.0
TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Window:
    name: str
    start: float
    seconds: float
    faults: dict[str, Any]


CALM = {
    "outage": False,
    "timeoutRate": 0,
    "hangMs": 0,
    "conflictRate": 0,
    "refusalRate": 0,
}

WINDOWS = (
    Window("outage", 20, 60, {"outage": True}),
    # Processed, then answered after the client's 1 s timeout.
    Window("late answers", 100, 60, {"timeoutRate": 1.0, "hangMs": 1500}),
    Window("409 key in progress", 180, 30, {"conflictRate": 0.6}),
    Window("refusals", 230, 10, {"refusalRate": 0.05}),
)
SECONDS = 250.0


def _faults(tp_url: str, patch: dict[str, Any]) -> None:
    httpx.put(tp_url + "/admin/faults", json=patch, timeout=5).raise_for_status()


def _schedule(tp_url: str, started: float, timeline: list[dict[str, Any]]) -> None:
    """Open and close each window at its time, from the load's start."""
    for window in WINDOWS:
        time.sleep(max(0.0, started + window.start - time.monotonic()))
        _faults(tp_url, {**CALM, **window.faults})
        opened = time.monotonic() - started
        time.sleep(max(0.0, started + window.start + window.seconds - time.monotonic()))
        _faults(tp_url, CALM)
        timeline.append(
            {
                "fault": window.name,
                "start": round(opened, 1),
                "end": round(time.monotonic() - started, 1),
            }
        )


def _dead_letters(pipe: Pipeline) -> int:
    """Messages on the dead-letter topic (high - low watermark over its partitions)."""
    topic = pipe.kafka.dlq_topic
    consumer = Consumer({"bootstrap.servers": pipe.kafka.kafka_broker, "group.id": "bench-dlq"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        total = 0
        for n in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, n), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def run() -> dict[str, Any]:
    env = {"THIRD_PARTY_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS)}
    timeline: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="pos-bench-faults-") as tmp,
        Pipeline(Path(tmp), env).up() as pipe,
    ):
        _faults(pipe.tp_url, CALM)
        httpx.post(pipe.tp_url + "/admin/reset", timeout=5).raise_for_status()
        started = time.monotonic()
        scheduler = threading.Thread(
            target=_schedule, args=(pipe.tp_url, started, timeline), daemon=True
        )
        scheduler.start()
        client = load(pipe.api_url, pipe.authorization, rate=RATE, seconds=SECONDS)
        scheduler.join()
        wait_final(pipe.db_url, timeout=600)
        final_after = time.monotonic() - started
        with psycopg.connect(pipe.db_url) as conn:
            counts: dict[str, int] = dict(
                conn.execute("SELECT status, count(*) FROM orders GROUP BY status").fetchall()
            )
        stats = httpx.get(pipe.tp_url + "/stats", timeout=5).json()
        dead = _dead_letters(pipe)
    success, failed = int(counts.get("SUCCESS", 0)), int(counts.get("FAILED", 0))
    checks = {
        "everyOrderFinal": int(counts.get("PENDING", 0)) == 0,
        "oneReceiptPerSuccess": stats["unique"] == success,
        "failedOnlyWhenRefused": failed == stats["refused"],
        "deadLetterPerFailed": dead == failed,
        "someRefused": stats["refused"] > 0,
    }
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rate": RATE,
        "seconds": SECONDS,
        "thirdPartyTimeoutSeconds": TIMEOUT_SECONDS,
        "timeline": timeline,
        "client": client,
        "orders": {
            "SUCCESS": success,
            "FAILED": failed,
            **{k: v for k, v in counts.items() if k not in ("SUCCESS", "FAILED")},
        },
        "thirdParty": stats,
        "deadLetters": dead,
        "allFinalAfterSeconds": round(final_after, 1),
        "checks": checks,
        "passed": all(checks.values()),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Delivery through third-party faults",
        "",
        f"{result['at']}: {result['client']['ok']:,} orders at {result['rate']:.0f}/s for "
        f"{result['seconds']:.0f} s, client timeout {result['thirdPartyTimeoutSeconds']:.0f} s; "
        f"all final {result['allFinalAfterSeconds']:.0f} s after the first order.",
        "",
        "| window | start (s) | end (s) |",
        "|---|---|---|",
        *(f"| {w['fault']} | {w['start']} | {w['end']} |" for w in result["timeline"]),
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| orders {k} | {v:,} |" for k, v in result["orders"].items()),
        f"| third-party receipts (unique keys) | {result['thirdParty']['unique']:,} |",
        f"| third-party calls received | {result['thirdParty']['received']:,} |",
        f"| calls answered late (timeouts) | {result['thirdParty'].get('timeouts', 0):,} |",
        f"| calls answered 409 | {result['thirdParty'].get('conflicts', 0):,} |",
        f"| calls refused | {result['thirdParty']['refused']:,} |",
        f"| dead letters | {result['deadLetters']:,} |",
        "",
        "| check | passed |",
        "|---|---|",
        *(f"| {k} | {'yes' if v else 'NO'} |" for k, v in result["checks"].items()),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default=str(PROJECT_ROOT / "bench" / "results"))
    args = parser.parse_args(argv)
    result = run()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "delivery-faults.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "delivery-faults.md").write_text(markdown(result))
    print(markdown(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
