"""Not run by ``make bench``: the demo as it wrote before issue 18, for the before/after figures in
docs/benchmarks.md. ``.venv/bin/python -m tests.benchmarks.demo_before 100000 /tmp/before.db``

What it puts back (commit 5a92475): schema 12 (every index on orders, the old search trigger), 20,000-event
batches, SQLite's default 2 MB page cache, and every order and assignment row of a batch written with the UPSERT
(the generator is today's: the same history, the same rows)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from sqlalchemy.engine import Connection

from fengqiao.models.clock import FixedClock
from fengqiao.store import demo, migrations
from fengqiao.store.db import Database
from fengqiao.store.projection import INSERT_CALL, INSERT_EVENT, UPSERT_ASSIGNMENT, UPSERT_HEAD, UPSERT_ORDER
from fengqiao.store.rollups import Tracker

from .common import BENCH_NOW, demo_days


def _write_before(conn: Connection, b: Any) -> None:
    if b.events:
        conn.exec_driver_sql(INSERT_EVENT, b.events)
    orders = b.orders + b.order_updates  # full rows here (order_update is the identity below)
    assignments = b.assignments + b.assignment_updates
    own = [c for c in b.calls if not c[demo._CALL_LINKED]]  # noqa: SLF001
    linked = [c for c in b.calls if c[demo._CALL_LINKED]]  # noqa: SLF001
    rollups = Tracker(conn)
    rollups.watch(o[0] for o in orders)
    rollups.watch_calls((c[demo._CALL_PHONE], c[demo._CALL_AT]) for c in b.calls)  # noqa: SLF001
    if own:
        conn.exec_driver_sql(INSERT_CALL, own)
    if orders:
        conn.exec_driver_sql(UPSERT_ORDER, orders)
        conn.exec_driver_sql(UPSERT_ASSIGNMENT, assignments)
    if linked:
        conn.exec_driver_sql(INSERT_CALL, linked)
    rollups.finish()
    if b.heads:
        conn.exec_driver_sql(UPSERT_HEAD, b.heads)
    if b.counters:
        conn.exec_driver_sql(
            "INSERT INTO order_counters (prefix, day, last) VALUES (?, ?, ?) "
            "ON CONFLICT (prefix, day) DO UPDATE SET last = excluded.last",
            b.counters,
        )


def main(n: int, path: str) -> None:
    steps = migrations.steps
    migrations.steps = lambda: [s for s in steps() if s[0] <= 12]  # type: ignore[assignment]
    migrations.head = lambda: 12  # type: ignore[assignment]
    demo.BATCH_EVENTS = 20_000
    demo.DEMO_CACHE_KIB = 2_000
    demo.order_update = lambda row: tuple(row)  # type: ignore[assignment]
    demo.assignment_update = lambda row: tuple(row)  # type: ignore[assignment]
    demo._write = _write_before  # type: ignore[assignment]  # noqa: SLF001
    for p in (path, path + "-wal", path + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    db = Database(path)
    started, cpu = time.perf_counter(), time.process_time()
    result = demo.generate(db, orders=n, days=demo_days(n), seed=1, clock=FixedClock(BENCH_NOW))
    print(
        f"before, {n:,} orders: {time.perf_counter() - started:.1f} s, writer CPU {time.process_time() - cpu:.1f} s, {result}"
    )
    db.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
