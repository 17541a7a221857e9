"""Order API stage: `POST /orders` throughput and latency against the raw-database limit.

- create: unique Idempotency-Keys at 1, 16 and 64 concurrent clients (closed loop, one
  request in flight per client): orders/s, p50 and p99, with `pos api` running as a
  subprocess with its default settings, exactly as in production;
- replay: the same at 64 clients on keys that already exist (every answer a replay);
- limit: the identical intake statement (the same CTE, same rows and byte sizes:
  idempotency record, order, 2 items, outbox event) run straight against PostgreSQL by
  `pgbench` with prepared statements at the same concurrency, just before the API at that
  concurrency so both see the same machine. ``ratio`` = API rate ÷ pgbench rate.

The load generator is `wrk` (installed with apt when missing) with a Lua script that makes
every key unique; without it, `bench.http_load` (aiohttp) runs as a separate process.
Everything runs on its own database (`pos_scratch_*_bench_api_*`), dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from pos.config import DatabaseSettings
from pos.ops.devices import issue_keys
from pos.order_api.store import INTAKE_SQL
from pos.scratch.databases import ScratchDatabase
from pos.scratch.processes import ServiceProcess, free_port

STAGE = "api"
LEVELS = (1, 16, 64)
REPLAY_CLIENTS = 64
REPLAY_KEYS = 2000
BODY = {
    "storeId": "store-1",
    "deviceId": "till-7",
    "currency": "EUR",
    "items": [
        {"sku": "LATTE-L", "name": "Latte", "quantity": 2, "unitPrice": 450},
        {"sku": "CROISSANT", "name": "Croissant", "quantity": 1, "unitPrice": 250},
    ],
}


def till_authorization(db_url: str) -> str:
    """A new key for the device ``BODY`` names, as its ``Authorization`` header."""
    (key,) = asyncio.run(issue_keys(db_url, [(BODY["storeId"], BODY["deviceId"])])).values()
    return f"Bearer {key}"


class ApiBench:
    """This stage's database and API process; both removed on exit."""

    def __init__(self, workdir: Path) -> None:
        base = DatabaseSettings()
        self.workdir = workdir
        self.authorization = ""  # the device's Authorization header, set by ``up``
        self.database = ScratchDatabase(base.dsn, "bench_api")
        self.db_url = self.database.url

    @contextlib.contextmanager
    def up(self) -> Iterator[ApiBench]:
        with self.database:
            # The load is one till's: its key, and no rate limit (see ``api``).
            self.authorization = till_authorization(self.db_url)
            yield self

    def truncate(self) -> None:
        """Empty the tables between runs (requests a run left in flight may still race)."""
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            for _ in range(10):
                try:
                    conn.execute("TRUNCATE orders, order_items, idempotency_keys, outbox")
                    break
                except psycopg.errors.DeadlockDetected:
                    time.sleep(0.2)
            conn.execute("VACUUM ANALYZE")

    def count_orders(self) -> int:
        with psycopg.connect(self.db_url) as conn:
            row = conn.execute("SELECT count(*) FROM orders").fetchone()
        return int(row[0]) if row else 0

    @contextlib.contextmanager
    def api(self) -> Iterator[str]:
        port = free_port()
        # One device sends the whole load, so its rate limit is lifted; authentication
        # itself (a cached key, a SHA-256 and a constant-time compare) stays in the path.
        env = {
            "DATABASE_URL": self.db_url,
            "ORDER_TOPIC": "order.created.bench",
            "API_RATE_LIMIT_PER_SECOND": "1e9",
            "API_RATE_LIMIT_BURST": "1000000000",
        }
        process = ServiceProcess(
            "api", "--port", str(port), env=env, log_dir=self.workdir, name="api"
        )
        with process:
            base = f"http://127.0.0.1:{port}"
            process.wait_http(base + "/healthz", timeout=60)
            yield base
            process.terminate()


# --- the load generator ------------------------------------------------------------------

WRK_SCRIPT = """
local body = [[%(body)s]]
local authorization = "%(authorization)s"
local keys = %(keys)d
local prefix = "%(prefix)s"
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

request = function()
  counter = counter + 1
  local key
  if keys > 0 then key = prefix .. "-" .. (counter %% keys)
  else key = prefix .. "-" .. tid .. "-" .. counter end
  return wrk.format("POST", "/orders",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = key,
     ["Authorization"] = authorization}, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %%d, "duration_us": %%d, "errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d}\\n', summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def find_wrk() -> str | None:
    """wrk, installed from Debian's packages when missing and allowed (root)."""
    if shutil.which("wrk") is None and os.geteuid() == 0:
        for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "wrk"]):
            subprocess.run(command, capture_output=True, check=False)
    return shutil.which("wrk")


def load(
    wrk: str | None,
    base: str,
    authorization: str,
    workdir: Path,
    clients: int,
    seconds: float,
    keys: int = 0,
) -> dict[str, float]:
    """Closed-loop `POST /orders`; ``keys`` > 0 cycles over that many fixed keys."""
    prefix = uuid.uuid4().hex[:12] if keys == 0 else "replay"
    body = json.dumps(BODY, separators=(",", ":"))
    if wrk is None:
        command = [sys.executable, "-m", "bench.http_load", base + "/orders", body]
        command += [authorization, str(clients), str(seconds), str(keys), prefix]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        return dict(json.loads(out.strip().splitlines()[-1]))
    script = workdir / f"post-{prefix}.lua"
    script.write_text(
        WRK_SCRIPT % {"body": body, "keys": keys, "prefix": prefix, "authorization": authorization}
    )
    command = [wrk, "-t", str(min(clients, 2)), "-c", str(clients), "-d", f"{seconds:g}s"]
    command += ["--timeout", "10s", "-s", str(script), base]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return {
        "rate": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "errors": result["errors"],
        "requests": result["requests"],
    }


# --- the raw-database limit --------------------------------------------------------------


def pgbench_script(workdir: Path) -> Path:
    """INTAKE_SQL with each parameter replaced by a value of the same type and size."""
    order_id = str(uuid.uuid4())
    document = {**BODY, "id": order_id, "totalAmount": 1150, "status": "PENDING"}
    document |= {"createdAt": "2026-11-25T12:00:00.000Z", "processedAt": None}
    body = json.dumps(document, separators=(",", ":"))
    event = json.dumps(
        {"eventId": str(uuid.uuid4()), "type": "order.created",
         "occurredAt": "2026-11-25T12:00:00.000000Z", "order": document},
        separators=(",", ":"),
    )  # fmt: skip
    headers = {"request-id": uuid.uuid4().hex, "traceparent": f"00-{'1' * 32}-{'2' * 16}-01"}
    values = {
        1: "'public'",
        2: "'pgbench-' || :r",
        3: f"'\\x{os.urandom(32).hex()}'::bytea",
        4: "md5(:r || 'o')::uuid",
        5: f"'\\x{body.encode().hex()}'::bytea",
        6: "now()",
        7: "now() + interval '1 day'",
        8: "'store-1'",
        9: "'till-7'",
        10: "'EUR'",
        11: "1150",
        12: f"'{uuid.uuid4().hex}'",
        13: "ARRAY['LATTE-L', 'CROISSANT']",
        14: "ARRAY['Latte', 'Croissant']",
        15: "ARRAY[2, 1]",
        16: "ARRAY[450, 250]",
        17: "md5(:r || 'e')::uuid",
        18: "'order.created.bench'",
        19: f"'\\x{event.encode().hex()}'::bytea",
        20: f"'{json.dumps(headers)}'",
    }
    sql = re.sub(r"\$(\d+)", lambda m: values[int(m.group(1))], INTAKE_SQL)
    script = workdir / "intake.sql"
    script.write_text("\\set r random(1, 9000000000000000000)\n" + " ".join(sql.split()) + ";\n")
    return script


def pgbench(
    db_url: str, script: Path, workdir: Path, clients: int, seconds: float
) -> dict[str, float]:
    logs = workdir / f"pgbench-{clients}-{uuid.uuid4().hex[:6]}"
    logs.mkdir()
    command = ["pgbench", "-n", "-M", "prepared", "-f", str(script), "-c", str(clients)]
    command += ["-j", str(min(clients, 2)), "-T", str(int(seconds)), "-l"]
    command += ["--log-prefix", str(logs / "tx"), db_url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    assert found, out
    latencies = sorted(
        int(line.split()[2]) for log in logs.iterdir() for line in log.read_text().splitlines()
    )
    return {
        "rate": float(found.group(1)),
        "p50_ms": latencies[len(latencies) // 2] / 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] / 1000,
    }


# --- the stage ---------------------------------------------------------------------------


def _row(metric: str, value: float, unit: str, clients: int, **extra: Any) -> dict[str, Any]:
    return {
        "stage": STAGE,
        "metric": metric,
        "value": round(value, 2),
        "unit": unit,
        "params": {"concurrency": clients},
        **extra,
    }


def run(quick: bool) -> list[dict[str, Any]]:
    seconds = 5.0 if quick else 15.0
    wrk = find_wrk()
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="pos-bench-api-") as tmp,
        ApiBench(Path(tmp)).up() as bench,
        bench.api() as base,
    ):
        workdir = Path(tmp)
        script = pgbench_script(workdir)
        auth = bench.authorization
        # Warm-up: connections, prepared statements, the cached device key.
        load(wrk, base, auth, workdir, 16, 2)
        for clients in LEVELS:
            bench.truncate()
            limit = pgbench(bench.db_url, script, workdir, clients, seconds)
            bench.truncate()
            result = load(wrk, base, auth, workdir, clients, seconds)
            at = f"at {clients} clients"
            rows += [
                _row(f"create orders/s {at}", result["rate"], "orders/s", clients,
                     limit=round(limit["rate"], 1), ratio=round(result["rate"] / limit["rate"], 3),
                     errors=result["errors"], orders_in_db=bench.count_orders()),
                _row(f"create p50 {at}", result["p50_ms"], "ms", clients,
                     limit=round(limit["p50_ms"], 2)),
                _row(f"create p99 {at}", result["p99_ms"], "ms", clients,
                     limit=round(limit["p99_ms"], 2)),
            ]  # fmt: skip
        load(wrk, base, auth, workdir, REPLAY_CLIENTS, 3, keys=REPLAY_KEYS)  # creates the keys
        result = load(wrk, base, auth, workdir, REPLAY_CLIENTS, seconds, keys=REPLAY_KEYS)
        at = f"at {REPLAY_CLIENTS} clients"
        rows += [
            _row(f"replay answers/s {at}", result["rate"], "answers/s", REPLAY_CLIENTS,
                 errors=result["errors"]),
            _row(f"replay p50 {at}", result["p50_ms"], "ms", REPLAY_CLIENTS),
            _row(f"replay p99 {at}", result["p99_ms"], "ms", REPLAY_CLIENTS),
        ]  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 s per run instead of 15 s")
    args = parser.parse_args(argv)
    for row in run(args.quick):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
