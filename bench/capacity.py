"""Capacity: the highest rate the whole pipeline sustains, and where its CPU goes.

The four services run as `make run` starts them (``bench.e2e.Pipeline``: real subprocesses,
default settings, the till's rate limit lifted). The offered rate steps up (open loop,
``bench.open_loop`` as its own process) until a step fails; with the full run the gap
between the last step passed and the first failed is then halved once. A step passes when,
over its window (60 s; 8 s with ``--quick``), after a warm-up:

- POST → SUCCESS p99 < 250 ms, from the moment each POST was due at the generator to its
  order's ``processed_at`` (queueing in front of the API counts);
- no backlog grows: the least-squares slope of the outbox's unpublished rows and of the
  consumer group's lag (high watermark − committed offset), sampled once a second, stays
  under 2 % of the offered rate (over the whole window the line may rise by at most 2 % of
  its orders, or half a second's worth in a short window: offsets are committed every
  0.5 s, so the lag read between commits jitters by that much);
- every POST answered 201 and the generator kept its rate (≥ 95 %).

Beside the rate: ``pgbench`` running the identical intake transaction at 64 clients on the
same database just before (the ratio's limit), and each process's CPU milliseconds per
order over the best passing window (the first step's when none passed; ``bench.procstat``:
API, publisher, consumer, third party, PostgreSQL backends, the Kafka JVM, the load
generator) with the ceiling each implies: one core for a single-threaded Python process,
every core for the whole set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, TopicPartition

from bench import api as api_stage
from bench.e2e import Pipeline, wait_final
from bench.procstat import CpuMeter

STAGE = "capacity"
MAX_REPEAT = 1  # one ladder is already many minutes: run.py does not repeat it
P99_MS = 250.0
SLOPE_SHARE = 0.02
NOISE_SECONDS = 0.5
PYTHON_PROCESSES = ("api", "publisher", "consumer", "third-party", "load generator")


@dataclass
class Step:
    rate: float
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    outbox_slope: float = 0.0
    lag_slope: float = 0.0
    errors: int = 0
    sent_rate: float = 0.0
    cpu_ms: dict[str, float] = field(default_factory=dict)
    why: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.why


def slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope (units per second) of (time, value) samples."""
    if len(samples) < 3:
        return 0.0
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    return sum((t - mt) * (v - mv) for t, v in samples) / var if var else 0.0


class Backlogs:
    """The outbox's unpublished rows and the consumer group's lag, read once a second."""

    def __init__(self, pipe: Pipeline) -> None:
        self.conn = psycopg.connect(pipe.db_url, autocommit=True)
        self.topic = pipe.kafka.order_topic
        self.lag_reader = Consumer(
            {
                "bootstrap.servers": pipe.kafka.kafka_broker,
                "group.id": pipe.env["CONSUMER_GROUP"],  # read its offsets, never join it
                "enable.auto.commit": False,
            }
        )
        parts = self.lag_reader.list_topics(self.topic, timeout=10).topics[self.topic].partitions
        self.partitions = [TopicPartition(self.topic, p) for p in parts]

    def outbox(self) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM outbox WHERE NOT published AND parked_at IS NULL"
        ).fetchone()
        return int(row[0]) if row else 0

    def lag(self) -> int:
        total = 0
        for tp in self.lag_reader.committed(self.partitions, timeout=10):
            high = self.lag_reader.get_watermark_offsets(tp, timeout=10, cached=False)[1]
            total += max(0, high - max(tp.offset, 0))
        return total

    def close(self) -> None:
        self.lag_reader.close()
        self.conn.close()


def post_to_success(db_url: str, keys: dict[str, float], after: float) -> list[float]:
    """POST due → SUCCESS committed (ms) of the orders due at or after ``after``."""
    wanted = [k for k, due in keys.items() if due >= after]
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, extract(epoch FROM processed_at) FROM orders"
            " WHERE idempotency_key = ANY(%s) AND status = 'SUCCESS'",
            (wanted,),
        ).fetchall()
    return sorted((float(done) - keys[key]) * 1000 for key, done in rows)


def step(pipe: Pipeline, meter: CpuMeter, rate: float, warm: float, window: float) -> Step:
    result = Step(rate)
    out = Path(tempfile.mkstemp(prefix="pos-capacity-", suffix=".csv")[1])
    command = [sys.executable, "-m", "bench.open_loop", pipe.api_url, str(rate)]
    command += [str(warm + window), pipe.authorization, str(out)]
    backlogs = Backlogs(pipe)
    generator = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        meter.trees["load generator"] = generator.pid
        started = time.monotonic()
        outbox: list[tuple[float, float]] = []
        lag: list[tuple[float, float]] = []
        time.sleep(warm)
        before, t0 = meter.snapshot(), time.monotonic()
        while (now := time.monotonic()) < started + warm + window:
            outbox.append((now, backlogs.outbox()))
            lag.append((now, backlogs.lag()))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - now)))
        after, t1 = meter.snapshot(), time.monotonic()
        summary = json.loads(generator.communicate(timeout=window + 300)[0].splitlines()[-1])
    finally:
        generator.kill()
        backlogs.close()
    wait_final(pipe.db_url, timeout=max(120.0, window * 20))
    keys = {}
    for line in out.read_text().splitlines():
        key, due, _, _ = line.split(",")
        keys[key] = float(due)
    out.unlink()
    latencies = post_to_success(pipe.db_url, keys, min(keys.values()) + warm)
    result.p50_ms = latencies[len(latencies) // 2]
    result.p99_ms = latencies[int(len(latencies) * 0.99)]
    result.outbox_slope, result.lag_slope = slope(outbox), slope(lag)
    result.errors, result.sent_rate = int(summary["errors"]), float(summary["sent_rate"])
    result.cpu_ms = meter.per_order(before, after, round(rate * (t1 - t0)))
    if result.p99_ms >= P99_MS:
        result.why.append(f"p99 {result.p99_ms:.0f} ms")
    # The lag is read from offsets committed every 0.5 s: a short window needs the margin.
    allowed = rate * max(SLOPE_SHARE, NOISE_SECONDS / window)
    for name, value in (("outbox", result.outbox_slope), ("consumer lag", result.lag_slope)):
        if value > allowed:
            result.why.append(f"{name} grows {value:.0f}/s")
    if result.errors:
        result.why.append(f"{result.errors} POSTs not 201: {summary['statuses']}")
    if result.sent_rate < 0.95 * rate:
        result.why.append(f"generator sent only {result.sent_rate:.0f}/s")
    truncate(pipe.db_url)
    return result


def truncate(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("TRUNCATE orders, order_items, idempotency_keys, outbox CASCADE")


def ladder(pipe: Pipeline, meter: CpuMeter, quick: bool) -> list[Step]:
    rates = (100, 300, 900) if quick else (100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500)
    warm, window = (3.0, 8.0) if quick else (10.0, 60.0)
    steps: list[Step] = []
    for rate in rates:
        steps.append(step(pipe, meter, rate, warm, window))
        _say(steps[-1])
        if not steps[-1].passed:
            break
    passed = [s for s in steps if s.passed]
    if not quick and passed and not steps[-1].passed:  # halve the gap once
        middle = (passed[-1].rate + steps[-1].rate) / 2
        steps.append(step(pipe, meter, middle, warm, window))
        _say(steps[-1])
    return steps


def _say(s: Step) -> None:
    verdict = "pass" if s.passed else "FAIL: " + ", ".join(s.why)
    print(
        f"  {s.rate:,.0f}/s: p50 {s.p50_ms:.0f} ms, p99 {s.p99_ms:.0f} ms, outbox slope"
        f" {s.outbox_slope:+.1f}/s, lag slope {s.lag_slope:+.1f}/s, {verdict}",
        file=sys.stderr,
        flush=True,
    )


def rows_for(steps: list[Step], pgbench: dict[str, float], window: float) -> list[dict[str, Any]]:
    row = {"stage": STAGE}
    passed = [s for s in steps if s.passed]
    best = max(passed, key=lambda s: s.rate) if passed else None
    rate = best.rate if best else 0.0
    rows: list[dict[str, Any]] = [
        {
            **row,
            "metric": f"sustainable POST → SUCCESS rate (p99 < {P99_MS:.0f} ms,"
            f" no backlog growth, {window:.0f} s)",
            "value": round(rate),
            "unit": "orders/s",
            "limit": round(pgbench["rate"]),
            "ratio": round(rate / pgbench["rate"], 3),
            "params": {
                "limit": "pgbench, identical intake transaction, 64 clients",
                "steps": [
                    {"rate": s.rate, "p99_ms": round(s.p99_ms, 1), "why": s.why} for s in steps
                ],
            },
        },
        {
            **row,
            "metric": "pgbench intake transaction at 64 clients",
            "value": round(pgbench["rate"]),
            "unit": "tx/s",
            "params": {"p99_ms": round(pgbench["p99_ms"], 2)},
        },
    ]
    rows += [
        {
            **row,
            "metric": f"POST → SUCCESS p{q} at {s.rate:,.0f} orders/s",
            "value": round(getattr(s, f"p{q}_ms"), 1),
            "unit": "ms",
            "params": {"passed": s.passed, "why": s.why},
        }
        for s in steps
        for q in (50, 99)
    ]
    # CPU of the best passing step, or of the first one when none passed (where it goes
    # matters most then).
    best = best or steps[0]
    cores = os.cpu_count() or 1
    for name, ms in sorted(best.cpu_ms.items(), key=lambda kv: -kv[1]):
        ceiling_cores = 1 if name in PYTHON_PROCESSES else cores
        rows.append(
            {
                **row,
                "metric": f"CPU per order at {best.rate:,.0f}/s: {name}",
                "value": round(ms, 3),
                "unit": "ms",
                # The rate at which this process alone would fill its cores.
                "limit": round(ceiling_cores * 1000 / ms) if ms else None,
                "params": {"ceiling": f"orders/s on {ceiling_cores} core(s)"},
            }
        )
    total = sum(best.cpu_ms.values())
    rows.append(
        {
            **row,
            "metric": f"CPU per order at {best.rate:,.0f}/s: all processes",
            "value": round(total, 3),
            "unit": "ms",
            "limit": round(cores * 1000 / total) if total else None,
            "ratio": round(best.rate / (cores * 1000 / total), 3) if total else None,
            "params": {"ceiling": f"orders/s on all {cores} cores", "ratio": "rate ÷ ceiling"},
        }
    )
    return rows


def run(quick: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="pos-bench-capacity-") as tmp:
        workdir = Path(tmp)
        with Pipeline(workdir).up() as pipe:
            script = api_stage.pgbench_script(workdir)
            pgbench = api_stage.pgbench(pipe.db_url, script, workdir, 64, 5 if quick else 15)
            truncate(pipe.db_url)
            names = ("third-party", "api", "publisher", "consumer")
            trees = {n: p.proc.pid for n, p in zip(names, pipe.processes, strict=True) if p.proc}
            kafka_port = int(pipe.kafka.kafka_broker.rsplit(":", 1)[1])
            meter = CpuMeter(trees, pipe.db_url, kafka_port)
            steps = ladder(pipe, meter, quick)
    return rows_for(steps, pgbench, 8.0 if quick else 60.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows, three steps")
    args = parser.parse_args(argv)
    for row in run(args.quick):
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
