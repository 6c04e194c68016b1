"""Demo generation speed (issue 18): ``generate`` of 100k orders against a floor that writes the same rows into
the same tables, with the same indexes and triggers, the plainest way.

The floor is a new store of the same schema into which the demo's own rows are copied, table by table, with one
``INSERT … SELECT`` each from the finished demo file, in one transaction: no generator, no state machine, no
hashing, no Python per row. The insert triggers fill the search index and the repeat-call table as they do for
the demo; the KPI rollups are copied. The bench then checks the floor holds exactly the demo's rows: the same
count and an order-independent checksum per table (the search index by its vocabulary: term, documents, count;
its document numbers follow insertion order, so ``order_search_docs`` is compared without them).

``FENGQIAO_BENCH_DEMO_SIZES`` (e.g. ``100000,1000000``) chooses the sizes; nothing is extrapolated.
"""

from __future__ import annotations

import hashlib
import os
import resource
import sqlite3
import time
from pathlib import Path

from fengqiao.store.db import Database
from fengqiao.store.demo import generate

from .common import Context, Row, demo_days

# Written by the demo (directly or by its triggers), in the order the floor copies them. The search index itself
# (order_search) is filled by the triggers and compared through its vocabulary.
COPIED = (
    "calls",
    "orders",
    "assignments",
    "events",
    "desk_heads",
    "order_counters",
    "kpi_rollup",
    "kpi_rollup_minutes",
    "kpi_pending",
)
COMPARED = {
    **{t: "*" for t in COPIED},
    "kpi_repeats": "*",
    "order_search_docs": "order_id, call_id",
}


def _checksum(conn: sqlite3.Connection, table: str, columns: str) -> tuple[int, str]:
    """(rows, an order-independent checksum of them)."""
    total, n = 0, 0
    for row in conn.execute(f"SELECT {columns} FROM {table}"):
        total = (total + int.from_bytes(hashlib.blake2b(repr(row).encode(), digest_size=8).digest(), "big")) % 2**64
        n += 1
    return n, f"{total:016x}"


def fingerprint(path: Path) -> dict[str, tuple[int, str]]:
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, order_search, row)")
        out = {t: _checksum(conn, t, c) for t, c in COMPARED.items()}
        out["order_search"] = _checksum(conn, "temp.v", "term, doc, cnt")
    finally:
        conn.close()
    return out


def floor_copy(source: Path, target: Path) -> float:
    """Seconds to copy the demo's rows into a new store of the same schema (see the module docstring)."""
    Database(target).close()  # the schema, every index and trigger
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("ATTACH DATABASE ? AS src", (f"file:{source}?mode=ro",))
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    # an order's own call before the order (orders.call_id refers to it); linked repeat calls after, as the demo
    conn.execute("INSERT INTO calls SELECT * FROM src.calls WHERE linked = 0")
    for table in COPIED[1:]:
        conn.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
    conn.execute("INSERT INTO calls SELECT * FROM src.calls WHERE linked = 1")
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.execute("DETACH DATABASE src")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return seconds


def sizes(ctx: Context) -> list[int]:
    chosen = os.environ.get("FENGQIAO_BENCH_DEMO_SIZES")
    if chosen:
        return [int(s) for s in chosen.split(",")]
    return [20_000] if ctx.quick else [100_000]


def bench(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for n in sizes(ctx):
        path = ctx.scratch(f"demo-speed-{n}.db")
        db = Database(path)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        started, cpu = time.perf_counter(), time.process_time()
        result = generate(db, orders=n, days=demo_days(n), seed=1, clock=ctx.clock())
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        db.checkpoint()
        db.close()
        floor_path = ctx.scratch(f"demo-floor-{n}.db")
        floor = floor_copy(path, floor_path)
        demo_rows, floor_rows = fingerprint(path), fingerprint(floor_path)
        same = demo_rows == floor_rows
        if not same:
            differ = [t for t in demo_rows if demo_rows[t] != floor_rows.get(t)]
            raise AssertionError(f"the floor's rows differ from the demo's in {', '.join(differ)}")
        total = sum(count for count, _ in demo_rows.values())
        rows += [
            Row(
                "demo",
                f"generate {n:,} orders ({result.events:,} events, {result.calls:,} calls)",
                seconds,
                "s",
                floor,
                note=f"floor: INSERT … SELECT of the same rows, same schema; {len(demo_rows)} tables, "
                f"{total:,} rows, equal counts and checksums",
            ),
            Row("demo", f"  CPU of the writing process, {n:,} orders", cpu, "s", note="SQLite, rollups, the rows"),
            Row(
                "demo",
                f"  CPU of the generator's worker process, {n:,} orders",
                worker,
                "s",
                note="state machine, hashing",
            ),
            Row("demo", f"  orders per second, {n:,} orders", n / seconds, "orders/s"),
            Row(
                "demo", f"  order rows written per order, {n:,} orders", result.order_rows / n, "", note="once a batch"
            ),
        ]
    return rows
