"""Demo generation speed (issue 18): ``generate`` beside a floor that writes the same rows into the same tables and
ends with the same schema, indexes and search index, the plainest way.

The demo builds a new store in bulk (store/bulk.py): a temporary copy of the empty store, its secondary indexes
and insert triggers dropped, every row written, then the indexes, the search index, the repeat-call table and the
KPI rollups built once, and the copy synced and renamed over the store.

The floor does the same with none of the work of making the rows: a new empty store, through the same bulk build
(so the same temporary copy, pragmas, index builds, sync and rename), into which every table the demo wrote is
copied from the finished demo file with one ``INSERT … SELECT`` each (the derived tables too: search documents,
repeat calls, rollups); only the search index is built from the documents, with the statement the demo uses.
No generator, no state machine, no hashing, no Python per row.

The bench then checks the two files hold the same: the same schema (every table, index and trigger, by its SQL),
and per table the same row count and an order-independent checksum of all its columns, the search index by its
vocabulary (term, documents, occurrences) and its per-document sizes.

``FENGQIAO_BENCH_DEMO_SIZES`` (e.g. ``100000,1000000``) chooses the sizes; nothing is extrapolated.
"""

from __future__ import annotations

import hashlib
import os
import resource
import sqlite3
import time
from pathlib import Path

from fengqiao.store.bulk import BulkBuild
from fengqiao.store.db import Database
from fengqiao.store.demo import generate

from .common import Context, Row, demo_days

# What the demo writes, in the order the floor copies them (all derived tables included).
COPIED = (
    "calls",
    "orders",
    "assignments",
    "events",
    "desk_heads",
    "order_counters",
    "order_search_docs",
    "kpi_repeats",
    "kpi_rollup",
    "kpi_rollup_minutes",
    "kpi_pending",
)
# The search index's own tables hold its segments, laid out by how it was filled: compared by what they mean.
_FTS_LAYOUT = ("order_search_data", "order_search_idx")


def _checksum(conn: sqlite3.Connection, sql: str) -> tuple[int, str]:
    """(rows, an order-independent checksum of them)."""
    total, n = 0, 0
    for row in conn.execute(sql):
        total = (total + int.from_bytes(hashlib.blake2b(repr(row).encode(), digest_size=8).digest(), "big")) % 2**64
        n += 1
    return n, f"{total:016x}"


def fingerprint(path: Path) -> dict[str, tuple[int, str]]:
    """Schema, every table's rows, and the search index's vocabulary, as (count, checksum) per item."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, order_search, row)")
        out = {"(schema)": _checksum(conn, "SELECT type, name, tbl_name, sql FROM main.sqlite_master")}
        out["(user_version)"] = _checksum(conn, "PRAGMA user_version")
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM main.sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
            )
        ]
        for table in tables:
            if table not in _FTS_LAYOUT:
                out[table] = _checksum(conn, f"SELECT * FROM main.{table}")
        out["order_search (vocabulary)"] = _checksum(conn, "SELECT term, doc, cnt FROM temp.v")
    finally:
        conn.close()
    return out


def floor_copy(source: Path, target: Path) -> float:
    """Seconds to copy the demo's rows into a new store through the same bulk build (see the module docstring)."""
    Database(target).close()  # the schema, every index and trigger
    started = time.perf_counter()
    db = Database(target)
    bulk = BulkBuild(db)
    conn = bulk.open()
    conn.execute("COMMIT")  # a database is attached outside a transaction
    conn.execute("ATTACH DATABASE ? AS src", (str(source),))
    conn.execute("BEGIN")
    for table in COPIED:
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE src")
    conn.execute("BEGIN")
    bulk.finish(copied=True)
    seconds = time.perf_counter() - started
    db.close()
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
        workers = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        db.close()
        floor_path = ctx.scratch(f"demo-floor-{n}.db")
        floor = floor_copy(path, floor_path)
        demo_rows, floor_rows = fingerprint(path), fingerprint(floor_path)
        if demo_rows != floor_rows:
            differ = [t for t in demo_rows.keys() | floor_rows.keys() if demo_rows.get(t) != floor_rows.get(t)]
            raise AssertionError(f"the floor's file differs from the demo's in {', '.join(sorted(differ))}")
        total = sum(count for table, (count, _) in demo_rows.items() if not table.startswith("("))
        rows += [
            Row(
                "demo",
                f"generate {n:,} orders ({result.events:,} events, {result.calls:,} calls)",
                seconds,
                "s",
                floor,
                note=f"floor: same bulk build, INSERT … SELECT of every table; {len(demo_rows) - 2} tables, "
                f"{total:,} rows, schema, counts, checksums and search index equal",
            ),
            Row("demo", f"  CPU of the writing process, {n:,} orders", cpu, "s", note="rows, chains, indexes, rollups"),
            Row(
                "demo",
                f"  CPU of the worker processes, {n:,} orders",
                workers,
                "s",
                note="plan; state machine, rows (two workers)",
            ),
            Row("demo", f"  orders per second, {n:,} orders", n / seconds, "orders/s"),
        ]
    return rows
