"""`pos outbox stats|parked|requeue`: the publisher's admin functions, printed for a person."""

from __future__ import annotations

import argparse

import psycopg

from pos.config import DatabaseSettings
from pos.exits import CommandError
from pos.ops.confirm import bulk_allowed
from pos.order_publisher import admin

#: Which of the given ids are parked now: the others are reported, not silently skipped.
_PARKED_AMONG = (
    "SELECT id FROM outbox WHERE id = ANY(%s) AND NOT published AND parked_at IS NOT NULL"
)


def _connect(db: DatabaseSettings) -> admin.Connection:
    return psycopg.connect(
        db.dsn, autocommit=True, application_name="pos-outbox", connect_timeout=5
    )


def stats(args: argparse.Namespace) -> int:
    with _connect(args.settings.db) as conn:
        figures = admin.outbox_stats(conn)
    age = figures.oldest_unpublished_age_seconds
    port = args.settings.publisher.publisher_metrics_port
    broker = admin.broker_available(f"http://127.0.0.1:{port}/metrics") if port else None
    print(f"backlog:          {figures.backlog} events")
    print(f"oldest waiting:   {'-' if age is None else f'{age:.1f} s'}")
    print(f"parked:           {figures.parked} events (`pos outbox parked`)")
    print(
        "kafka (relay):    "
        + {True: "available", False: "UNAVAILABLE", None: "relay not answering"}[broker]
    )
    return 0


def parked(args: argparse.Namespace) -> int:
    with _connect(args.settings.db) as conn:
        events = admin.list_parked(conn, args.limit)
    if not events:
        print("no parked events")
        return 0
    for e in events:
        print(
            f"{e.id}  order {e.aggregate_id}  {e.event_type} -> {e.topic}  "
            f"attempts {e.attempts}  parked {e.parked_at:%Y-%m-%d %H:%M:%S}  {e.last_error}"
        )
    print(f"{len(events)} parked; `pos outbox requeue ID ...` sends them again")
    return 0


def requeue(args: argparse.Namespace) -> int:
    ids: list[int] = list(dict.fromkeys(args.ids))
    everything = bulk_allowed(
        given=bool(ids),
        everything=args.all,
        question="Re-queue EVERY parked event?",
        usage="pos outbox requeue ID ... | --all",
    )
    with _connect(args.settings.db) as conn:
        if everything:
            n = admin.requeue(conn, None)
            print(f"re-queued {n} event(s)")
            return 0
        found = {row[0] for row in conn.execute(_PARKED_AMONG, (ids,)).fetchall()}
        n = admin.requeue(conn, [i for i in ids if i in found]) if found else 0
    print(f"re-queued {n} event(s)")
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise CommandError(
            f"not parked (or unknown): {', '.join(missing)}; `pos outbox parked` lists them"
        )
    return 0
