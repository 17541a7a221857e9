"""`pos api` as a real process: restarts, a crash mid-request, and refusing to start."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg

from pos.config import KafkaSettings
from pos.scratch import databases
from pos.scratch.processes import ServiceProcess, free_port
from tests.integration.order_api.conftest import counts, new_key, order_body
from tests.support.devices import bearer_sync

DB = psycopg.Connection[tuple[object, ...]]


@contextlib.contextmanager
def running_api(
    tmp_path: Path, name: str, workers: int = 1, **env: str
) -> Iterator[tuple[ServiceProcess, str]]:
    """`pos api` on a free port, killed on exit if still running."""
    port = free_port()
    process = ServiceProcess(
        "api", "--port", str(port), "--workers", str(workers), env=env, log_dir=tmp_path, name=name
    )
    with process:
        base = f"http://127.0.0.1:{port}"
        process.wait_http(base + "/healthz", timeout=60)
        yield process, base


def _headers(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key, **bearer_sync()}


def wait_for(check: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"not {what} after {timeout} s")


def test_a_retry_after_a_restart_replays_the_first_answer(
    db: DB, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    key = new_key()
    with running_api(tmp_path, "api-first") as (first_process, base):
        first = httpx.post(base + "/orders", json=order_body(), headers=_headers(key))
        assert first.status_code == 201
        assert first_process.terminate() == 0  # graceful shutdown exits 0
    with running_api(tmp_path, "api-second", LOG_LEVEL="DEBUG") as (second_process, base):
        again = httpx.post(base + "/orders", json=order_body(), headers=_headers(key))
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
        request_id = again.headers["x-request-id"]
        # Every line logged for that request carries its id.
        lines = [
            json.loads(line)
            for line in second_process.log(tail=1_000_000).splitlines()
            if line.startswith("{")
        ]
        mine = [line for line in lines if line.get("key") == key]
        assert mine
        assert all(line["request_id"] == request_id for line in mine)
    assert counts(db)["orders"] == 1


def _blocked_api_backends(db: DB) -> list[int]:
    rows = db.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'pos-api' "
        "AND datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchall()
    return [int(pid) for (pid,) in rows]  # type: ignore[call-overload]


def _alive(db: DB, pids: list[int]) -> bool:
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
    ).fetchone()
    return bool(row and row[0])


def test_a_crash_before_commit_leaves_nothing_and_the_retry_creates_the_order(
    db: DB, database_url: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    key = new_key()
    with (
        running_api(tmp_path, "api-crash", IDEMPOTENCY_LOCK_TIMEOUT_MS="60000") as (process, base),
        psycopg.connect(database_url) as holder,
    ):
        # Another order holding the same key, not committed: the API's statement inserts its
        # idempotency record, then waits on the orders table's unique key, mid-transaction.
        holder.execute(
            "INSERT INTO orders (id, store_id, device_id, currency, total_amount, "
            "idempotency_scope, idempotency_key) "
            "VALUES (%s, 's', 'd', 'EUR', 0, 'store-1/till-7', %s)",
            (uuid.uuid4(), key),
        )
        answers: list[object] = []

        def post() -> None:
            try:
                answers.append(
                    httpx.post(
                        base + "/orders",
                        json=order_body(),
                        headers=_headers(key),
                        timeout=60,
                    )
                )
            except httpx.HTTPError as exc:
                answers.append(exc)

        client = threading.Thread(target=post)
        client.start()
        wait_for(lambda: _blocked_api_backends(db), "blocked on the lock")
        blocked = _blocked_api_backends(db)
        process.kill()
        client.join(30)
        assert isinstance(answers[0], httpx.HTTPError)  # the till never got an answer
        # The database notices the dead client and rolls the statement back.
        wait_for(lambda: not _alive(db, blocked), "rolled back")
        holder.rollback()
    assert counts(db) == {"orders": 0, "order_items": 0, "outbox": 0, "idempotency_keys": 0}

    with running_api(tmp_path, "api-after-crash") as (_, base):
        retry = httpx.post(base + "/orders", json=order_body(), headers=_headers(key))
    assert retry.status_code == 201
    assert "idempotent-replayed" not in retry.headers
    assert counts(db) == {"orders": 1, "order_items": 2, "outbox": 1, "idempotency_keys": 1}


def _run_api(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pos.cli", "api", "--port", str(free_port())],
        env={**_env(), "DATABASE_URL": database_url, "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_start_fails_fast_when_the_database_is_unreachable() -> None:
    result = _run_api(f"postgresql://postgres:secret@127.0.0.1:{free_port()}/posdb")
    assert result.returncode == 4  # PostgreSQL unreachable or not migrated
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("pos api: cannot connect to PostgreSQL")
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr


def test_start_fails_fast_when_the_database_is_not_migrated(database_url: str) -> None:
    with databases.ScratchDatabase(database_url, "unmigrated", migrated=False) as url:
        result = _run_api(url)
    assert result.returncode == 4  # PostgreSQL unreachable or not migrated
    message = result.stderr.strip().splitlines()[-1]
    assert "pos migrate" in message
    assert "Traceback" not in result.stderr


def test_metrics_add_up_across_workers(
    db: DB, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    with running_api(tmp_path, "api-workers", workers=2) as (process, base):
        for _ in range(20):  # a new connection each: the kernel spreads them over workers
            response = httpx.post(base + "/orders", json=order_body(), headers=_headers(new_key()))
            assert response.status_code == 201
        for _ in range(6):
            text = httpx.get(base + "/metrics").text
            created = [
                line
                for line in text.splitlines()
                if line.startswith("pos_api_requests_total{")
                and 'route="/orders"' in line
                and 'status="201"' in line
            ]
            assert [float(line.rsplit(" ", 1)[1]) for line in created] == [20.0]
        assert process.terminate() == 0  # the supervisor stops its workers cleanly
    assert counts(db)["orders"] == 20
