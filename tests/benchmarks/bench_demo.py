"""Demo generation speed: time per 100k orders, beside a bare bulk insert of the same rows (the floor)."""

from __future__ import annotations

import sqlite3
import time

from fengqiao.store.db import Database
from fengqiao.store.demo import generate

from .common import Context, Row


def bench(ctx: Context) -> list[Row]:
    n = 20_000 if ctx.quick else 100_000
    path = ctx.scratch("demo-speed.db")
    db = Database(path)
    started = time.perf_counter()
    result = generate(db, orders=n, days=max(30, n // 2000), seed=1, clock=ctx.clock())
    seconds = time.perf_counter() - started
    db.close()
    # Floor: the same event rows copied with one executemany into a bare table (no domain logic, no hashing).
    src = sqlite3.connect(path)
    rows = src.execute(
        "SELECT id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, payload, "
        "prev_hash, hash FROM events"
    ).fetchall()
    src.close()
    floor_path = ctx.scratch("demo-floor.db")
    dst = sqlite3.connect(floor_path)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, order_id TEXT, assignment_id TEXT, "
        "kind TEXT, actor TEXT, desk TEXT, desk_seq INT, event_at TEXT, recorded_at TEXT, payload TEXT, "
        "prev_hash TEXT, hash TEXT)"
    )
    started = time.perf_counter()
    dst.executemany(
        "INSERT INTO events (id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, "
        "recorded_at, payload, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    dst.commit()
    floor = time.perf_counter() - started
    dst.close()
    per_100k = seconds * 100_000 / n
    return [
        Row("demo", f"generate {n:,} orders ({result.events:,} events)", seconds, "s"),
        Row(
            "demo",
            "time per 100k orders",
            per_100k,
            "s",
            floor * 100_000 / n,
            note="floor: bare insert of the same event rows",
        ),
        Row("demo", "orders per second", n / seconds, "orders/s"),
        Row("demo", "1,000,000 orders (extrapolated)", per_100k * 10 / 60, "min"),
    ]
