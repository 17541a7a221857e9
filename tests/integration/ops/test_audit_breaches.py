"""Each verdict of `pos verify` fails on its own breach, seeded into a clean world.

The world (`audit_world`) is real: rows in a PostgreSQL database of its own, events on
topics of their own, receipts taken by the real simulated third party, a ledger and a
consumer commit log. The first test shows the auditor passes it, with two tills using
the same key strings; every other test changes exactly one thing and shows that the
matching verdict, and `pos verify`'s exit status, catch it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pos.config import KafkaSettings
from pos.scratch import databases
from pos.scratch.processes import ServiceProcess, free_port
from tests.integration.ops.audit_world import (
    TILLS,
    World,
    build_clean,
    environment,
    reset_third_party,
    scratch_topics,
)


@pytest.fixture(scope="module")
def template(database_url: str) -> Iterator[databases.ScratchDatabase]:
    """A migrated, empty database that each world is copied from (fast, and its own)."""
    template = databases.ScratchDatabase(database_url, "audit")
    with template:
        yield template


@pytest.fixture(scope="module")
def third_party(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("audit-tp")
    port, receipts = free_port(), tmp / "receipts.jsonl"
    service = ServiceProcess(
        "third-party",
        env={"THIRD_PARTY_URL": f"http://127.0.0.1:{port}", "TP_STORE_PATH": str(receipts)},
        log_dir=tmp,
        name="third-party",
    )
    service.start()
    try:
        service.wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", receipts
    finally:
        service.kill()


@pytest.fixture
def world(
    template: databases.ScratchDatabase,
    third_party: tuple[str, Path],
    kafka_settings: KafkaSettings,
    tmp_path: Path,
) -> Iterator[World]:
    url, receipts = third_party
    reset_third_party(url)
    with (
        databases.ScratchDatabase(template.url, "audit_world", template=template.name) as dsn,
        scratch_topics(kafka_settings) as (topic, dlq),
    ):
        world = World(
            dsn=dsn,
            topic=topic,
            dlq=dlq,
            third_party_url=url,
            receipts=receipts,
            ledger=tmp_path / "ledger.jsonl",
            commit_log=tmp_path / "commits.jsonl",
            env=environment(dsn, topic, dlq, url, receipts),
            broker=kafka_settings.kafka_broker,
        )
        build_clean(world)
        yield world


def failed(report: dict[str, Any]) -> dict[str, int]:
    return {name: v["count"] for name, v in report["verdicts"].items() if not v["passed"]}


def named(report: dict[str, Any], verdict: str) -> list[str]:
    check = next(c for c in report["checks"] if c["name"] == verdict)
    return [o for b in check["breaches"] for o in b["orders"]]


def test_the_clean_world_passes_every_verdict_with_keys_shared_by_two_tills(
    world: World,
) -> None:
    code, report = world.verify()
    assert failed(report) == {}
    assert code == 0
    assert all("measured" not in v for v in report["verdicts"].values()), report["verdicts"]
    assert report["figures"]["orders"] == report["figures"]["ordersAcknowledged"] == 6
    assert report["verdicts"]["thirdPartyRepeats"]["count"] == 0


def test_a_deleted_order_is_an_acknowledged_order_lost(world: World) -> None:
    victim = world.orders[0]["id"]
    with world.connect() as conn:
        conn.execute("DELETE FROM orders WHERE id = %s", (victim,))
    code, report = world.verify()
    assert code == 1
    assert failed(report)["acknowledgedOrdersLost"] == 1
    assert named(report, "acknowledgedOrdersLost") == [victim]
    assert report["figures"]["ordersLost"] == 1


def test_a_twin_row_without_the_unique_constraint_is_an_order_created_twice(
    world: World,
) -> None:
    with world.connect() as conn:
        conn.execute("ALTER TABLE orders DROP CONSTRAINT uq_orders_idempotency")
    original = world.orders[0]
    twin = world.add_order(original["till"], original["key"])
    world.publish(twin)
    world.deliver(twin)
    code, report = world.verify()
    assert code == 1
    assert failed(report) == {"ordersCreatedTwice": 1}
    assert sorted(named(report, "ordersCreatedTwice")) == sorted([original["id"], twin])
    assert report["figures"]["duplicateOrders"] == 1


def test_one_sale_sent_under_two_keys_is_an_order_created_twice(world: World) -> None:
    till = TILLS[0]
    again = world.add_order(till, "k-1-resent")  # the same payload, a new key
    world.publish(again)
    world.deliver(again)
    world.acknowledge(again, till, "k-1-resent", f"{till[0]}/{till[1]}#1")  # the same sale
    world.commit_everything()
    code, report = world.verify()
    assert code == 1
    assert failed(report) == {"ordersCreatedTwice": 1}


def test_an_order_never_final_is_stuck(world: World) -> None:
    stuck = world.add_order(TILLS[0], "k-9", "PENDING")
    world.publish(stuck)
    code, report = world.verify(wait=2)
    assert code == 1
    assert failed(report) == {"ordersStuck": 1}
    assert named(report, "ordersStuck") == [stuck]


def test_a_failed_order_holding_a_receipt(world: World) -> None:
    refused = next(o["id"] for o in world.orders if o["status"] == "FAILED")
    world.deliver(refused)  # the third party took it after all
    code, report = world.verify()
    assert code == 1
    assert failed(report) == {"failedOrdersWithReceipt": 1}


def test_a_success_order_without_a_receipt(world: World) -> None:
    refused = next(o["id"] for o in world.orders if o["status"] == "FAILED")
    with world.connect() as conn:  # marked delivered, final as before, never delivered
        conn.execute(
            "UPDATE orders SET status = 'SUCCESS', last_error = NULL, processed_at = updated_at "
            "WHERE id = %s",
            (refused,),
        )
    code, report = world.verify()
    assert code == 1
    assert failed(report) == {"successOrdersWithoutReceipt": 1}


def test_a_call_repeating_a_held_key_without_a_fault(world: World) -> None:
    repeated = world.deliver(world.orders[0]["id"])
    assert repeated.json()["duplicate"] is True
    code, report = world.verify()
    assert code == 1
    assert failed(report) == {"thirdPartyRepeats": 1}
    # Declared as one consumer crash, the same repeat is within the bound.
    code, report = world.verify("--interruptions", "1")
    assert code == 0, report["verdicts"]["thirdPartyRepeats"]


def test_a_second_record_of_an_event_without_a_relay_cut(world: World) -> None:
    again = world.orders[0]["id"]
    world.publish(again)
    code, report = world.verify()
    assert code == 1
    assert failed(report) == {"duplicateRecords": 1}
    assert named(report, "duplicateRecords") == [again]
    assert report["figures"]["duplicateRecordsAllowed"] == 0


def test_an_event_without_its_order(world: World) -> None:
    ghost = str(uuid.uuid4())
    world.publish(ghost)
    code, report = world.verify()
    assert code == 1
    assert failed(report) == {"eventsWithoutOrder": 1}
    assert named(report, "eventsWithoutOrder") == [ghost]


def test_an_offset_committed_before_its_orders_were_final(world: World) -> None:
    world.commit_everything(at=datetime.now(UTC) - timedelta(hours=1))
    code, report = world.verify()
    assert code == 1
    assert failed(report) == {"offsetsCommittedPastUnfinished": 6}


def test_without_a_commit_log_the_verdict_is_not_measured(world: World) -> None:
    world.commit_log.unlink()
    code, report = world.verify()
    assert code == 0
    verdict = report["verdicts"]["offsetsCommittedPastUnfinished"]
    assert verdict["measured"] is False
    assert "CONSUMER_COMMIT_LOG" in verdict["note"]
