"""A year of a shop chain's data, loaded once with COPY and kept as a template database.

``template(orders)`` returns the name of ``pos_bench_growth_<orders>``, building it first
when it does not exist: the schema at head, then ``orders`` orders (status SUCCESS, spread
over the past year) with two items each, one idempotency record each (10 % already
expired, for the clean-up to find) and ``orders // 10`` (at most 1,000,000) published
outbox events (published in the past week, the outbox's retention, but 10 % older, for its retention
to find). Rows go in
with ``COPY`` into tables stripped of their indexes and constraints, which are rebuilt
afterwards (far faster than maintaining them row by row); the database gets its final name
only when complete, so an interrupted build is rebuilt, never used. Each stage copies it
(``CREATE DATABASE ... TEMPLATE``) and drops the copy, so a second run pays only the copy.

Disk: about 1.1 GB per million orders for the template and as much for each copy alive
(118 MB measured at 100,000 orders; see bench/README.md); ``check_disk`` counts 1.5 KB per
order and refuses to start without room for both.
"""

from __future__ import annotations

import shutil
import sys
import time
import uuid

import psycopg

from pos.config import DatabaseSettings
from pos.scratch.databases import admin_dsn

BYTES_PER_ORDER = 1_500  # 1.1 KB measured, with room for WAL; a copy needs as much again
CHUNK = 50_000
YEAR = 365 * 24 * 3600
RESPONSE = (
    '{"id":"%s","storeId":"store-1","deviceId":"till-7","currency":"EUR","items":[{"sku":'
    '"LATTE-L","name":"Latte","quantity":2,"unitPrice":450},{"sku":"CROISSANT","name":'
    '"Croissant","quantity":1,"unitPrice":250}],"totalAmount":1150,"status":"PENDING",'
    '"createdAt":"2026-01-01T00:00:00.000Z","processedAt":null}'
)


def name_for(orders: int) -> str:
    return f"pos_bench_growth_{orders}"


def _url(dsn: str, database: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + database


def check_disk(dsn: str, orders: int, copies: int = 1) -> None:
    """Refuse to start when the server's data directory (local only) lacks the room."""
    with psycopg.connect(admin_dsn(dsn), autocommit=True) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    try:
        free = shutil.disk_usage(str(row[0]) if row else "/").free
    except OSError:
        return  # a remote server: its owner knows its disk
    needed = BYTES_PER_ORDER * orders * (1 + copies)
    if free < needed * 1.2:
        raise RuntimeError(
            f"{orders:,} preloaded orders need about {needed / 1e9:.1f} GB free on the"
            f" database's disk (template and one copy); {free / 1e9:.1f} GB are free"
        )


def template(orders: int) -> str:
    dsn = DatabaseSettings().dsn
    name = name_for(orders)
    with psycopg.connect(admin_dsn(dsn), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return name
        check_disk(dsn, orders)
        building = f"{name}_building"
        conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{building}"')
    from pos.db import migrate

    started = time.monotonic()
    migrate.upgrade(_url(dsn, building))
    with psycopg.connect(_url(dsn, building), autocommit=True) as conn:
        rebuild = _strip(conn)
        _copy(conn, orders)
        for statement in rebuild:
            conn.execute(statement)
        conn.execute("VACUUM ANALYZE")
    with psycopg.connect(admin_dsn(dsn), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    print(f"  preloaded {orders:,} orders in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return name


TABLES = ("orders", "order_items", "idempotency_keys", "outbox")


def _strip(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """Drop the tables' constraints and indexes; return the statements that rebuild them
    (primary and unique keys first, foreign keys last)."""
    constraints = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype"
        " FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) AND contype <> 'n'",
        (list(TABLES),),
    ).fetchall()
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        (list(TABLES),),
    ).fetchall()
    for table, constraint, _, _kind in sorted(constraints, key=lambda c: c[3] != "f"):
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"')
    for index, _ in indexes:
        conn.execute(f'DROP INDEX "{index}"')
    order = {"p": 0, "u": 1, "c": 2, "f": 4}
    rebuild = [
        (order.get(str(kind), 3), f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for table, name, definition, kind in constraints
    ]
    rebuild += [(3, str(definition)) for _, definition in indexes]
    return [statement for _, statement in sorted(rebuild, key=lambda r: r[0])]


def _copy(conn: psycopg.Connection[tuple[object, ...]], orders: int) -> None:
    now = time.time()
    fingerprint = "\\\\x" + "ab" * 32
    payload = "\\\\x" + (RESPONSE % "00000000-0000-0000-0000-000000000000").encode().hex()
    events = min(orders // 10, 1_000_000)
    with conn.cursor() as cur:
        for start in range(0, orders, CHUNK):
            ids = [uuid.uuid4() for _ in range(min(CHUNK, orders - start))]
            when = [
                time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(now - YEAR + YEAR * i / orders))
                for i in range(start, start + len(ids), 1000)
            ]
            body = "\\\\x" + RESPONSE.encode().hex()
            o, it, k = [], [], []
            for j, oid in enumerate(ids):
                i, at = start + j, when[j // 1000]
                o.append(
                    f"{oid}\tstore-{i % 500}\ttill-{i % 8}\tEUR\t1150\tSUCCESS\t1\tr-{i}"
                    f"\tpreload\tpre-{i}\t{at}\t{at}\t{at}\n"
                )
                it.append(
                    f"{oid}\t1\tLATTE-L\tLatte\t2\t450\n{oid}\t2\tCROISSANT\tCroissant\t1\t250\n"
                )
                expires = "2000-01-01 00:00:00+00" if i % 10 == 0 else "2100-01-01 00:00:00+00"
                k.append(f"preload\tpre-{i}\t{fingerprint}\t{oid}\t201\t{body}\t{at}\t{expires}\n")
            for sql, lines in (
                (
                    "COPY orders (id, store_id, device_id, currency, total_amount, status,"
                    " attempts, receipt_ref, idempotency_scope, idempotency_key, created_at,"
                    " updated_at, processed_at) FROM STDIN",
                    o,
                ),
                (
                    "COPY order_items (order_id, line_no, sku, name, quantity, unit_price)"
                    " FROM STDIN",
                    it,
                ),
                (
                    "COPY idempotency_keys (scope, key, fingerprint, order_id, status_code,"
                    " response_body, created_at, expires_at) FROM STDIN",
                    k,
                ),
            ):
                with cur.copy(sql) as copy:
                    copy.write("".join(lines))
            if start < events:
                out = []
                for j, oid in enumerate(ids[: max(0, min(len(ids), events - start))]):
                    i = start + j
                    # Within the outbox's retention (a week), but a tenth already past it.
                    age = YEAR if i % 10 == 0 else 6 * 86400 * (i % 1000) / 1000
                    at = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(now - age))
                    out.append(
                        f"{uuid.uuid4()}\t{oid}\torder.created\torder.created\t{payload}"
                        f"\t{{}}\t{at}\tt\t{at}\n"
                    )
                with cur.copy(
                    "COPY outbox (event_id, aggregate_id, event_type, topic, payload, headers,"
                    " created_at, published, published_at) FROM STDIN"
                ) as copy:
                    copy.write("".join(out))
