"""Retention and the backlog gauge, against the real outbox table."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pos.config import DatabaseSettings
from pos.db.pool import create_pool
from pos.order_publisher.housekeeping import delete_expired
from pos.order_publisher.outbox_store import OutboxStore
from pos.scratch.outbox_rows import Db, count, insert, order_created
from pos.scratch.processes import free_port
from tests.integration.order_publisher.conftest import InProcessRelay, scrape

pytestmark = pytest.mark.asyncio

DAY = 24 * 3600


async def test_retention_deletes_old_published_rows_in_batches_and_nothing_else(
    db: Db, topic: str, database_url: str
) -> None:
    ids = insert(db, [order_created(topic) for _ in range(30)])
    old_published, recent_published = ids[:17], ids[17:22]
    old_unpublished, old_parked = ids[22:25], ids[25:27]
    db.execute(
        "UPDATE outbox SET published = true, published_at = now() - interval '10 days'"
        " WHERE id = ANY(%s)",
        (old_published,),
    )
    db.execute(
        "UPDATE outbox SET published = true, published_at = now() - interval '1 hour'"
        " WHERE id = ANY(%s)",
        (recent_published,),
    )
    # Old but never published (waiting, or parked for an operator): never deleted.
    db.execute(
        "UPDATE outbox SET created_at = now() - interval '30 days' WHERE id = ANY(%s)",
        (old_unpublished + old_parked,),
    )
    db.execute("UPDATE outbox SET parked_at = now() WHERE id = ANY(%s)", (old_parked,))

    pool = await create_pool(DatabaseSettings(database_url=database_url), min_size=1, max_size=1)
    try:
        deleted = await delete_expired(OutboxStore(pool), retention_seconds=7 * DAY, batch=5)
    finally:
        await pool.close()

    assert deleted == len(old_published)
    left = [int(str(r[0])) for r in db.execute("SELECT id FROM outbox ORDER BY id").fetchall()]
    assert left == ids[17:]


async def test_a_running_relay_cleans_up_and_reports_its_backlog(
    db: Db, topic: str, relay: Callable[..., InProcessRelay]
) -> None:
    port = free_port()
    running = relay(
        publisher_retention_seconds=1,
        publisher_retention_interval_seconds=0.2,
        publisher_metrics_port=port,
    )
    insert(db, [order_created(topic) for _ in range(10)])
    await running.wait_until(
        lambda: (
            count(db, "true") == 0
            and scrape(port)["pos_publisher_retention_deleted_rows_total"] == 10
        ),
        within=30,
        what="published, then deleted and counted",
    )

    # Rows waiting out a back-off are backlog too: the gauge and the age show them.
    with db.transaction():  # one commit, so the relay never sees them claimable
        ids = insert(db, [order_created(topic) for _ in range(4)])
        db.execute(
            "UPDATE outbox SET next_attempt_at = now() + interval '1 hour',"
            " created_at = now() - interval '90 seconds' WHERE id = ANY(%s)",
            (ids,),
        )
    await running.wait_until(
        lambda: scrape(port)["pos_publisher_backlog_rows"] == 4, within=20, what="backlog gauge"
    )
    assert scrape(port)["pos_publisher_oldest_unpublished_age_seconds"] >= 90
