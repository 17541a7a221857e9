"""`pos dev`: all four services up behind one command, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pos.config import KafkaSettings
from pos.infra.process import port_open
from pos.scratch import databases
from pos.scratch.processes import free_port
from pos.scratch.topics import drop_topics


@pytest.fixture
def own_database(database_url: str) -> Iterator[str]:
    """`pos dev` rotates the demo till's key: the session's API tests send as that till."""
    with databases.ScratchDatabase(database_url, "dev") as url:
        yield url


def test_dev_serves_the_pipeline_and_ctrl_c_stops_every_service(
    own_database: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    api, tp = free_port(), free_port()
    order_topic = f"dev.test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": own_database,
        "ORDER_TOPIC": order_topic,
        "DLQ_TOPIC": f"{order_topic}.dlq",
        "CONSUMER_GROUP": f"dev-test-{uuid.uuid4().hex[:8]}",
        "API_PORT": str(api),
        "THIRD_PARTY_URL": f"http://127.0.0.1:{tp}",
        "TP_STORE_PATH": str(tmp_path / "receipts.jsonl"),
        "PUBLISHER_METRICS_PORT": str(free_port()),
        "CONSUMER_METRICS_PORT": str(free_port()),
    }
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        dev = subprocess.Popen(
            [sys.executable, "-m", "pos.cli", "dev"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{api}/readyz", timeout=1).status_code == 200
                ready = ready and httpx.get(f"http://127.0.0.1:{tp}/healthz", timeout=1).is_success
            except httpx.HTTPError:
                ready = False
            if ready:
                break
            assert dev.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        dev.send_signal(signal.SIGINT)
        assert dev.wait(20) == 0, log.read_text()
    finally:
        dev.kill()
        drop_topics(kafka_settings, [order_topic, f"{order_topic}.dlq"])
    output = log.read_text()
    assert f"http://127.0.0.1:{api}/docs" in output  # the banner
    assert "stopping all services" in output
    for name in ("api", "publisher", "consumer", "third-party"):
        assert f"{name} |" in output
    assert not port_open("127.0.0.1", api)
    assert not port_open("127.0.0.1", tp)
