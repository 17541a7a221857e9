"""Cost as the data grows: the same work against a year of data and against empty tables.

Every figure here is taken on a copy of the preloaded template (``bench.preload``: 10
million orders with their items and idempotency records, 1 million published outbox
events), beside the same figure on empty tables measured in the same run:

- intake: `POST /orders` create and replay p50/p99 at 64 clients (``bench.api``'s load
  generator and API process), ratio = grown ÷ empty;
- clean-up during intake: the same create run while the API sweeps expired idempotency
  records and the publisher deletes outbox rows past their retention (both every second,
  with a tenth of the preloaded rows due), ratio = with ÷ without;
- outbox drain: a 1,000,000-row backlog (one tenth of the orders with ``--orders``)
  committed at once under an idle `pos publisher`, to the last ``published_at``;
- catch-up: the whole pipeline (``bench.e2e.Pipeline``) at 200 orders/s with the consumer
  stopped for 10 minutes, then restarted: the rate at which it works off the lag while
  the load goes on.

Left out of ``make bench QUICK=1`` (the first build of the template takes a while, each
copy a minute or two); ``python -m bench.growth --orders 100000`` is a small-scale run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from bench import api as api_stage
from bench import preload
from bench.capacity import Backlogs
from bench.e2e import Pipeline
from pos.config import DatabaseSettings, KafkaSettings
from pos.infra import kafka
from pos.ops.devices import issue_keys
from pos.scratch.databases import ScratchDatabase, admin_dsn
from pos.scratch.outbox_rows import order_created
from pos.scratch.processes import ServiceProcess, free_port
from pos.scratch.topics import drop_topics

STAGE = "growth"
QUICK = False
MAX_REPEAT = 1
ORDERS = 10_000_000
CLIENTS = 64
CATCH_UP_RATE = 200.0


@contextlib.contextmanager
def copy_of(template: str | None) -> Iterator[str]:
    """A scratch database: a copy of ``template``, or empty and migrated when None."""
    base = DatabaseSettings().dsn
    database = ScratchDatabase(base, "bench_growth", migrated=template is None)
    if template is None:
        with database:
            yield database.url
        return
    with psycopg.connect(admin_dsn(base), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database.name}" TEMPLATE "{template}"')
    try:
        yield database.url
    finally:
        database.drop()


@contextlib.contextmanager
def service(name: str, db_url: str, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    """``env`` names the stage's topic (ORDER_TOPIC): the intake's events go there."""
    """`pos api` (yields its URL) or `pos publisher` on ``db_url``, stopped on exit."""
    port = free_port()
    args = ("api", "--port", str(port)) if name == "api" else (name,)
    environment = {
        "DATABASE_URL": db_url,
        "API_RATE_LIMIT_PER_SECOND": "1e9",
        "API_RATE_LIMIT_BURST": "1000000000",
        "PUBLISHER_METRICS_PORT": "0",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    process = ServiceProcess(*args, env=environment, log_dir=workdir, name=f"{name}-{port}")
    with process:
        url = f"http://127.0.0.1:{port}"
        if name == "api":
            process.wait_http(url + "/healthz", timeout=120)
        yield url


def intake(db_url: str, workdir: Path, seconds: float, env: dict[str, str]) -> dict[str, float]:
    """Create and replay p50/p99 at 64 clients against ``db_url``."""
    (key,) = asyncio.run(issue_keys(db_url, [(api_stage.BODY["storeId"], "till-7")])).values()
    auth, wrk = f"Bearer {key}", api_stage.find_wrk()
    with service("api", db_url, workdir, env) as url:
        api_stage.load(wrk, url, auth, workdir, 16, 2)  # warm-up
        create = api_stage.load(wrk, url, auth, workdir, CLIENTS, seconds)
        api_stage.load(wrk, url, auth, workdir, CLIENTS, 3, keys=api_stage.REPLAY_KEYS)
        replay = api_stage.load(
            wrk, url, auth, workdir, CLIENTS, seconds, keys=api_stage.REPLAY_KEYS
        )
    return {
        **{f"create_{k}": v for k, v in create.items()},
        **{f"replay_{k}": v for k, v in replay.items()},
    }


@contextlib.contextmanager
def stage_topic() -> Iterator[dict[str, str]]:
    """A topic for this run's events; yields the services' environment naming it."""
    topic = f"bench.growth.{uuid.uuid4().hex[:8]}"
    topics = KafkaSettings(order_topic=topic, dlq_topic=f"{topic}.dlq")
    kafka.ensure_topics(topics)
    try:
        yield {"ORDER_TOPIC": topic, "DLQ_TOPIC": topics.dlq_topic}
    finally:
        drop_topics(topics, [topic, topics.dlq_topic])


def drain(db_url: str, workdir: Path, n: int, env: dict[str, str]) -> float:
    """Events/s of `pos publisher` through ``n`` rows committed at once (COPY)."""
    topic = env["ORDER_TOPIC"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        # The intake run before left its events unrelayed: not part of this backlog.
        conn.execute("UPDATE outbox SET published = true, published_at = now() WHERE NOT published")
    with service("publisher", db_url, workdir, env), psycopg.connect(db_url) as conn:
        conn.autocommit = True  # a transaction would see one snapshot of pg_stat_activity
        deadline = time.monotonic() + 60
        connected = "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = %s"
        while conn.execute(connected, ("pos-publisher",)).fetchone() != (True,):  # idle
            if time.monotonic() > deadline:
                raise TimeoutError("pos publisher did not connect")
            time.sleep(0.2)
        conn.autocommit = False
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY outbox (event_id, aggregate_id, event_type, topic, payload, headers)"
                " FROM STDIN"
            ) as copy,
        ):
            for _ in range(n):
                e = order_created(topic)
                copy.write_row((e.event_id, e.order_id, "order.created", topic, e.payload, "{}"))
        committed = time.time()
        conn.commit()
        conn.autocommit = True
        deadline = time.monotonic() + max(600, n / 200)
        while conn.execute(
            "SELECT EXISTS (SELECT FROM outbox WHERE NOT published AND parked_at IS NULL)"
        ).fetchone() != (False,):
            if time.monotonic() > deadline:
                raise TimeoutError("backlog not drained")
            time.sleep(0.5)
        row = conn.execute(
            "SELECT extract(epoch FROM max(published_at)) FROM outbox WHERE topic = %s", (topic,)
        ).fetchone()
    assert row is not None
    return n / (float(str(row[0])) - committed)


def catch_up(workdir: Path, stopped: float) -> dict[str, float]:
    """The consumer stopped for ``stopped`` s under 200 orders/s, then restarted."""
    with Pipeline(workdir).up() as pipe:
        consumer = pipe.processes[3]
        backlogs = Backlogs(pipe)
        out = workdir / "catch-up.csv"
        command = [sys.executable, "-m", "bench.open_loop", pipe.api_url, str(CATCH_UP_RATE)]
        command += [str(stopped * 3 + 60), pipe.authorization, str(out)]
        consumer.kill()
        generator = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            time.sleep(stopped)
            lag = backlogs.lag()
            consumer.start()
            restarted = time.monotonic()
            while backlogs.lag() > CATCH_UP_RATE:  # within a second of the head
                if time.monotonic() - restarted > stopped * 2 + 60:
                    raise TimeoutError("the consumer did not catch up")
                time.sleep(0.5)
            took = time.monotonic() - restarted
        finally:
            generator.kill()
            backlogs.close()
    return {"lag": lag, "seconds": took, "rate": (lag + CATCH_UP_RATE * took) / took}


def _row(metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"stage": STAGE, "metric": metric, "value": round(value, 2), "unit": unit, **extra}


def run(quick: bool, orders: int = ORDERS) -> list[dict[str, Any]]:
    seconds = 15.0
    events = min(orders // 10, 1_000_000)
    stopped = 600.0 if orders >= ORDERS else 20.0
    template = preload.template(orders)
    size = f"{orders / 1e6:g}M orders"
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pos-bench-growth-") as tmp, stage_topic() as env:
        workdir = Path(tmp)
        with copy_of(None) as db:
            empty = intake(db, workdir, seconds, env)
        with copy_of(template) as db:
            grown = intake(db, workdir, seconds, env)
            rate = drain(db, workdir, events, env)
        sweep = {**env, "IDEMPOTENCY_CLEANUP_INTERVAL_SECONDS": "1"}
        retention = {**env, "PUBLISHER_RETENTION_INTERVAL_SECONDS": "1"}
        with copy_of(template) as db, service("publisher", db, workdir, retention):
            cleaning = intake(db, workdir, seconds, sweep)
            with psycopg.connect(db) as conn:
                due = conn.execute(
                    "SELECT (SELECT count(*) FROM idempotency_keys WHERE expires_at < now()),"
                    " (SELECT count(*) FROM outbox WHERE published_at < now() - interval '8 days')"
                ).fetchone()
        caught = catch_up(workdir, stopped)
    for kind in ("create", "replay"):
        for q in ("p50", "p99"):
            value, base = grown[f"{kind}_{q}_ms"], empty[f"{kind}_{q}_ms"]
            rows.append(
                _row(f"{kind} {q} at {CLIENTS} clients, {size}", value, "ms",
                     limit=round(base, 2), ratio=round(value / base, 2),
                     params={"limit": "the same on empty tables"})
            )  # fmt: skip
        value, base = grown[f"{kind}_rate"], empty[f"{kind}_rate"]
        rows.append(
            _row(f"{kind} rate at {CLIENTS} clients, {size}", value, "requests/s",
                 limit=round(base, 1), ratio=round(value / base, 2))
        )  # fmt: skip
    value, base = cleaning["create_p99_ms"], grown["create_p99_ms"]
    rows.append(
        _row(f"create p99 at {CLIENTS} clients during clean-up and retention, {size}", value,
             "ms", limit=round(base, 2), ratio=round(value / base, 2),
             params={"limit": "the same without", "still due after": list(due or ())})
    )  # fmt: skip
    rows.append(_row(f"outbox drain, {events:,}-row backlog, {size}", rate, "events/s"))
    rows.append(
        _row(f"consumer catch-up after {stopped:.0f} s stopped at {CATCH_UP_RATE:.0f}/s",
             caught["rate"], "orders/s",
             params={"lag": caught["lag"], "seconds": round(caught["seconds"], 1)})
    )  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=ORDERS, help="preloaded orders")
    args = parser.parse_args(argv)
    for row in run(False, args.orders):
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
