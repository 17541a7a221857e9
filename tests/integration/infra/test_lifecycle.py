"""`pos infra up|down|status` from nothing, on scratch ports and a scratch state dir.

A second, throw-away PostgreSQL cluster and Kafka broker are provisioned exactly as on a
fresh machine (initdb, storage format, topics, migrations), so the suite's own services
are never stopped by this test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pos.config import InfraSettings
from pos.infra import postgres
from tests.support.scratch_kafka import TEST_BROKER_JVM

POS = [sys.executable, "-m", "pos.cli"]


@pytest.fixture
def scratch_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "POS_STATE_DIR": str(tmp_path / "state"),
        "DATABASE_URL": "postgresql://postgres:postgres@localhost:55433/posdb",
        "KAFKA_BROKER": "localhost:59092",
        "KAFKA_CONTROLLER_PORT": "59093",
        "KAFKA_HEAP_OPTS": TEST_BROKER_JVM,
        "ORDER_TOPIC": "order.created",
        "DLQ_TOPIC": "order.created.dlq",
    }
    yield env
    subprocess.run([*POS, "infra", "down"], env=env, capture_output=True, timeout=120, check=False)
    # A private tmp dir is not reachable by the postgres user: its cluster went to /var/tmp.
    state = InfraSettings(pos_state_dir=Path(env["POS_STATE_DIR"]))
    shutil.rmtree(postgres.data_dir(state).parent, ignore_errors=True)


def _pos(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*POS, *args],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_up_from_nothing_then_noop_then_down(scratch_env: dict[str, str]) -> None:
    before = _pos(scratch_env, "infra", "status")
    assert before.returncode == 3, before.stdout + before.stderr
    assert before.stdout.count("stopped") == 2

    first = _pos(scratch_env, "infra", "up")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "localhost:55433" in first.stdout
    assert "localhost:59092" in first.stdout

    status = _pos(scratch_env, "infra", "status")
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("running") == 2
    assert status.stdout.count("yes") == 2  # both managed by pos

    started = time.monotonic()
    again = _pos(scratch_env, "infra", "up")
    assert again.returncode == 0, again.stdout + again.stderr
    # A no-op: nothing new started (the broker's pid is unchanged) and it returns quickly.
    pid_file = Path(scratch_env["POS_STATE_DIR"]) / "kafka" / "kafka.pid"
    assert pid_file.exists()
    assert time.monotonic() - started < 30

    migrated = _pos(scratch_env, "migrate")
    assert migrated.returncode == 0
    assert "revision 0001" in migrated.stdout or "revision" in migrated.stdout

    down = _pos(scratch_env, "infra", "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "kafka" in down.stdout
    assert "postgres" in down.stdout

    after = _pos(scratch_env, "infra", "status")
    assert after.returncode == 3
    assert after.stdout.count("stopped") == 2

    nothing = _pos(scratch_env, "infra", "down")
    assert "nothing started by pos" in nothing.stdout


def test_unreachable_remote_database_is_reported_not_started(
    scratch_env: dict[str, str],
) -> None:
    # 127.0.0.2 is loopback (no traffic leaves the machine) but not "localhost" to us:
    # it stands for a user's own server, which `up` must never try to start.
    env = {**scratch_env, "DATABASE_URL": "postgresql://u:p@127.0.0.2:5999/x"}
    result = _pos(env, "infra", "up", timeout=120)
    assert result.returncode == 1
    assert "does not answer" in result.stdout
    # Refused before anything started: no local broker was left running for nothing.
    assert not (Path(env["POS_STATE_DIR"]) / "kafka" / "kafka.pid").exists()
