"""`pos simulate` then `pos verify` against the real services, PostgreSQL and Kafka.

The fleet's till behaviours (double taps, offline flushes, malformed requests, retries
through a killed API) must all end with every acknowledged order delivered once, and the
auditor must both pass the healthy system and name the orders of a broken one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pos.config import KafkaSettings
from pos.ops.ledger import read_ledger
from tests.integration.ops.pipeline import Pipeline, running_pipeline

POS = [sys.executable, "-m", "pos.cli"]


@pytest.fixture(scope="module")
def pipeline(
    database_url: str, kafka_settings: KafkaSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    with running_pipeline(database_url, kafka_settings, tmp_path_factory.mktemp("ops")) as p:
        yield p


def pos(pipeline: Pipeline, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*POS, *args],
        env=pipeline.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def simulate(pipeline: Pipeline, tmp_path: Path, *extra: str) -> tuple[dict[str, Any], Path]:
    ledger, summary = tmp_path / "ledger.jsonl", tmp_path / "summary.json"
    done = pos(
        pipeline,
        "simulate",
        *("--api-url", pipeline.api_url, "--ledger", str(ledger)),
        *("--summary-json", str(summary), "--no-progress", "--seed", "5"),
        *extra,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(summary.read_text()), ledger


def verify(pipeline: Pipeline, ledger: Path) -> tuple[int, dict[str, Any]]:
    done = pos(pipeline, "verify", "--ledger", str(ledger), "--json", "--quiet-for", "1")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_fleet_with_every_till_behaviour_then_a_clean_audit(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    summary, ledger = simulate(
        pipeline,
        tmp_path,
        *("--orders", "600", "--stores", "3", "--devices", "4"),
        *("--double-tap-rate", "0.1", "--offline-rate", "0.03", "--malformed-rate", "0.05"),
        *("--wait-final", "90", "--shared-keys"),  # every till counts run-1, run-2, ...
    )
    assert summary["acknowledged"] == summary["salesSent"] == 600
    assert summary["doubleTaps"] > 0
    assert summary["offlineSpells"] > 0
    # Every double tap's second request was answered by the first one's order.
    assert summary["replays"] + summary["conflicts"] >= summary["doubleTaps"]
    assert summary["malformedSent"] > 0
    assert summary["rejectedMalformed"] == summary["malformedSent"]
    assert summary["malformedAccepted"] == summary["refusedSales"] == summary["gaveUp"] == 0
    assert summary["final"]["success"] == 600
    acks = list(read_ledger(ledger))
    assert len(acks) == len({a.sale for a in acks}) == 600
    assert len({a.key for a in acks}) < 100  # the same keys on all 12 tills, scoped apart

    code, report = verify(pipeline, ledger)
    assert code == 0, report
    assert report["passed"]
    figures = report["figures"]
    assert figures["ordersAcknowledged"] == figures["orders"] == figures["ordersSuccess"] == 600
    assert figures["thirdPartyUnique"] == 600
    assert (figures["ordersLost"], figures["duplicateOrders"]) == (0, 0)
    assert all(v["passed"] for v in report["verdicts"].values()), report["verdicts"]


def test_tills_retry_through_an_api_crash_and_nothing_is_lost(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    api = pipeline.services["api"]
    ledger, summary_path = tmp_path / "ledger.jsonl", tmp_path / "summary.json"
    fleet = subprocess.Popen(
        [
            *POS,
            "simulate",
            *("--api-url", pipeline.api_url, "--ledger", str(ledger)),
            *("--summary-json", str(summary_path), "--no-progress", "--seed", "6"),
            *("--orders", "1500", "--rate", "150", "--wait-final", "90"),
        ],
        env=pipeline.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        api.wait_until(lambda: ledger.exists() and ledger.stat().st_size > 20_000, 60, "busy")
        api.kill()
        api.start()
        api.wait_http(f"{pipeline.api_url}/readyz")
        assert fleet.wait(180) == 0
    finally:
        fleet.kill()
    summary = json.loads(summary_path.read_text())
    assert summary["acknowledged"] == 1500
    assert summary["retries"] > 0  # requests met the dead API and were sent again

    code, report = verify(pipeline, ledger)
    assert code == 0, report


def test_the_auditor_names_a_lost_order_and_a_phantom_delivery(
    pipeline: Pipeline, tmp_path: Path, database_url: str
) -> None:
    _, ledger = simulate(pipeline, tmp_path, "--orders", "40", "--wait-final", "60")
    victim = next(read_ledger(ledger)).order_id
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM orders WHERE id = %s", (victim,))

    code, report = verify(pipeline, ledger)
    assert code == 1
    named = {c["name"]: [o for b in c["breaches"] for o in b["orders"]] for c in report["checks"]}
    assert named["acknowledgedOrdersLost"] == [victim]
    assert named["receiptsWithoutOrder"] == [victim]
    assert report["figures"]["ordersLost"] == 1

    human = pos(pipeline, "verify", "--ledger", str(ledger), "--quiet-for", "1")
    assert human.returncode == 1
    assert victim in human.stdout
    assert "acknowledged orders do not exist" in human.stdout
