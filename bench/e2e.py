"""End to end: POST /orders → `SUCCESS`, through the four real services, at a steady rate.

A separate load process sends orders open-loop at 100 and 1,000 orders/s. Every order's
journey is read back from the database afterwards, so no client-side polling disturbs it:
``created_at`` (the API's clock when it accepted the order), ``outbox.published_at`` (the
relay's mark after the broker's ack) and ``processed_at`` (the consumer's mark after the
third party's receipt). The limit beside the end-to-end figure is the sum of the stage
latencies measured on the same orders (client-observed POST + relay + consume), and the
baseline is the same pipeline configured naively (1 s outbox polling, one row per round
trip, one message at a time in the consumer). The third party answers at once here: this
stage measures the pipeline, the consumer stage measures a slow third party.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from bench.api import BODY, till_authorization
from bench.publisher import NAIVE as NAIVE_RELAY
from pos.config import Settings
from pos.infra import kafka
from pos.scratch.databases import ScratchDatabase
from pos.scratch.processes import ServiceProcess, free_port
from pos.scratch.topics import drop_topics

STAGE = "e2e"
WARMUP_SECONDS = 2.0
# The naive relay of the publisher stage, and a consumer taking one message at a time.
NAIVE = {**NAIVE_RELAY, "CONSUMER_MAX_IN_FLIGHT": "1"}


class Pipeline:
    """Own database, topics and the four services on free ports; removed on exit."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        settings = Settings()  # parsed once for the stage (see pos.config)
        self.settings = settings
        self.database = ScratchDatabase(settings.db.dsn, "bench_e2e")
        self.db_url = self.database.url
        topic = f"bench.e2e.{uuid.uuid4().hex[:8]}"
        self.kafka = settings.kafka.model_copy(
            update={"order_topic": topic, "dlq_topic": f"{topic}.dlq"}
        )
        self.api_port, tp_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.authorization = ""  # the till's Authorization header, set by ``up``
        self.tp_url = f"http://127.0.0.1:{tp_port}"
        self.env = {
            "DATABASE_URL": self.db_url,
            "ORDER_TOPIC": self.kafka.order_topic,
            "DLQ_TOPIC": self.kafka.dlq_topic,
            "THIRD_PARTY_URL": self.tp_url,
            "TP_STORE_PATH": str(workdir / "receipts.jsonl"),
            "CONSUMER_GROUP": f"bench-e2e-{uuid.uuid4().hex[:8]}",
            "PUBLISHER_METRICS_PORT": "0",
            "CONSUMER_METRICS_PORT": "0",
            "LOG_LEVEL": "WARNING",
            # The whole load comes from one till: its rate limit is lifted.
            "API_RATE_LIMIT_PER_SECOND": "1e9",
            "API_RATE_LIMIT_BURST": "1000000000",
            **(env or {}),
        }
        self.processes = [
            ServiceProcess(
                "third-party",
                "--port",
                str(tp_port),
                env=self.env,
                log_dir=workdir,
                name="third-party",
            ),
            ServiceProcess(
                "api", "--port", str(self.api_port), env=self.env, log_dir=workdir, name="api"
            ),
            ServiceProcess("publisher", env=self.env, log_dir=workdir, name="publisher"),
            ServiceProcess("consumer", env=self.env, log_dir=workdir, name="consumer"),
        ]

    @contextlib.contextmanager
    def up(self) -> Iterator[Pipeline]:
        kafka.up(self.settings.kafka, self.settings.infra)
        kafka.ensure_topics(self.kafka)
        try:
            with self.database:
                self.authorization = till_authorization(self.db_url)
                try:
                    for process in self.processes:
                        process.start()
                    self.processes[0].wait_http(self.tp_url + "/stats")
                    self.processes[1].wait_http(self.api_url + "/healthz")
                    self.warm_up()
                    yield self
                finally:
                    for process in self.processes:
                        process.kill()
        finally:
            drop_topics(self.kafka, [self.kafka.order_topic, self.kafka.dlq_topic])

    def warm_up(self) -> None:
        """One order all the way through: every service connected, every topic assigned."""
        load(self.api_url, self.authorization, rate=20, seconds=1)
        wait_final(self.db_url, timeout=120)
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute("TRUNCATE orders, order_items, idempotency_keys, outbox CASCADE")


def load(api_url: str, authorization: str, *, rate: float, seconds: float) -> dict[str, Any]:
    """Run the open-loop load generator as its own process and return its summary."""
    out = subprocess.run(
        [
            *(sys.executable, "-m", "bench.e2e", "--load"),
            *(api_url, str(rate), str(seconds), authorization),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def _open_loop(
    api_url: str, rate: float, seconds: float, authorization: str
) -> dict[str, Any]:
    """Send at a fixed rate whatever the answers' speed (open loop): queueing shows up."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(n: int) -> None:
            nonlocal errors
            started = time.perf_counter()
            headers = {"Idempotency-Key": f"e2e-{uuid.uuid4().hex}", "Authorization": authorization}
            try:
                async with session.post(f"{api_url}/orders", json=BODY, headers=headers) as r:
                    await r.read()
                    errors += r.status != 201
            except aiohttp.ClientError:
                errors += 1
                return
            latencies.append((time.perf_counter() - started) * 1000)

        tasks = []
        start = time.perf_counter()
        total = int(rate * seconds)
        for n in range(total):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "sent": total,
        "ok": len(latencies) - errors,
        "errors": errors,
        "p50_ms": cuts[49],
        "p99_ms": cuts[98],
    }


def wait_final(db_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM orders WHERE status = 'PENDING'").fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.2)
    raise TimeoutError(f"orders still PENDING after {timeout:.0f} s")


def journeys(db_url: str) -> dict[str, list[float]]:
    """Per-order stage latencies in ms, warm-up excluded."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            """
            WITH t0 AS (SELECT min(created_at) AS first FROM orders)
            SELECT extract(epoch FROM o.processed_at - o.created_at) * 1000,
                   extract(epoch FROM x.published_at - x.created_at) * 1000,
                   extract(epoch FROM o.processed_at - x.published_at) * 1000
            FROM orders o JOIN outbox x ON x.aggregate_id = o.id, t0
            WHERE o.status = 'SUCCESS' AND x.published
              AND o.created_at > t0.first + make_interval(secs => %s)
            """,
            (WARMUP_SECONDS,),
        ).fetchall()
    return {
        "e2e": [float(r[0]) for r in rows],
        "relay": [float(r[1]) for r in rows],
        "consume": [float(r[2]) for r in rows],
    }


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else float("nan")


def measure(
    workdir: Path, rate: float, seconds: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    with Pipeline(workdir, env).up() as pipe:
        client = load(pipe.api_url, pipe.authorization, rate=rate, seconds=seconds)
        wait_final(pipe.db_url, timeout=max(120.0, seconds * 20))
        stages = journeys(pipe.db_url)
    return {"client": client, "stages": stages}


def rows_for(
    rate: float, ours: dict[str, Any], naive: dict[str, Any] | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    st = ours["stages"]
    for q in (50, 99):
        value = _pct(st["e2e"], q)
        stage_sum = ours["client"][f"p{q}_ms"] + _pct(st["relay"], q) + _pct(st["consume"], q)
        row: dict[str, Any] = {
            "stage": STAGE,
            "metric": f"POST → SUCCESS p{q} at {rate:,.0f} orders/s",
            "value": round(value, 2),
            "unit": "ms",
            "limit": round(stage_sum, 2),
            "ratio": round(value / stage_sum, 3),
            "params": {"rate": rate, "orders": len(st["e2e"])},
        }
        if q == 50:
            row["samples_ms"] = st["e2e"][:: max(1, len(st["e2e"]) // 2000)]
        if naive is not None:
            base = _pct(naive["stages"]["e2e"], q)
            row["baseline"] = round(base, 2)
            row["baselineRatio"] = round(base / value, 1) if value else None
        rows.append(row)
    for name in ("relay", "consume"):
        rows.append(
            {
                "stage": STAGE,
                "metric": f"{name} p50 at {rate:,.0f} orders/s",
                "value": round(_pct(st[name], 50), 2),
                "unit": "ms",
            }
        )
    rows.append(
        {
            "stage": STAGE,
            "metric": f"POST p50 at {rate:,.0f} orders/s (client)",
            "value": round(ours["client"]["p50_ms"], 2),
            "unit": "ms",
        }
    )
    return rows


def run(quick: bool) -> list[dict[str, Any]]:
    seconds = 6.0 if quick else 20.0
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pos-bench-e2e-") as tmp:
        workdir = Path(tmp)
        naive = measure(workdir, 100, seconds, NAIVE)
        for rate in (100.0, 1000.0):
            ours = measure(workdir, rate, seconds)
            rows += rows_for(rate, ours, naive if rate == 100 else None)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--load", nargs=4, metavar=("API_URL", "RATE", "SECONDS", "AUTHORIZATION"))
    args = parser.parse_args(argv)
    if args.load:
        url, rate, seconds, authorization = args.load
        result = asyncio.run(_open_loop(url, float(rate), float(seconds), authorization))
        print(json.dumps(result))
        return 0
    for row in run(args.quick):
        row.pop("samples_ms", None)
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
