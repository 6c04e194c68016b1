"""The demo generator: realistic mix, and every projection row equals the replay of its order's events."""

from __future__ import annotations

import pytest

from fengqiao.models.machine import replay
from fengqiao.store.demo import generate
from fengqiao.store.projection import load_events, order_tuple


def test_demo_history_is_consistent(db, clock) -> None:
    result = generate(db, orders=400, days=10, seed=7, clock=clock)
    assert result.orders == 400 and result.calls >= 400
    with db.read() as conn:
        statuses = dict(conn.exec_driver_sql("SELECT status, count(*) FROM orders GROUP BY status").all())
        assert statuses["closed"] > 300
        assert sum(statuses.values()) == 400
        dual = conn.exec_driver_sql("SELECT count(*) FROM orders WHERE mode = 'dual'").scalar()
        assert 0 < dual < 400
        towns = conn.exec_driver_sql("SELECT count(DISTINCT town) FROM orders").scalar()
        assert towns >= 15
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM orders").all()]
        for order_id in ids:
            state = replay(load_events(conn, order_id)).state
            row = conn.exec_driver_sql("SELECT * FROM orders WHERE id = ?", (order_id,)).first()
            assert tuple(row) == order_tuple(state), order_id
        seqs = conn.exec_driver_sql("SELECT desk, count(*), max(desk_seq) FROM events GROUP BY desk").all()
        assert all(n == top for _, n, top in seqs)  # every desk's chain is gap-free


def test_demo_is_reproducible(tmp_path, clock) -> None:
    from fengqiao.store.db import Database

    numbers = []
    for name in ("a.db", "b.db"):
        db = Database(tmp_path / name)
        generate(db, orders=50, days=3, seed=3, clock=clock)
        with db.read() as conn:
            numbers.append(
                conn.exec_driver_sql("SELECT order_no, tag, town, status FROM orders ORDER BY order_no").all()
            )
        db.close()
    assert numbers[0] == numbers[1]


def _one_and_parallel(tmp_path, clock, orders: int, seed: int) -> list[tuple]:
    """What the single process and the worker processes write for the same seed (ids aside)."""
    from fengqiao.store.db import Database

    seen = []
    for name, parallel in (("one.db", False), ("workers.db", True)):
        db = Database(tmp_path / name)
        result = generate(db, orders=orders, days=3, seed=seed, clock=clock, parallel=parallel)
        with db.read() as conn:
            seen.append(
                (
                    result.orders,
                    result.calls,
                    result.events,
                    conn.exec_driver_sql(
                        "SELECT order_no, tag, town, status, next_due, first_overdue_at FROM orders ORDER BY order_no"
                    ).all(),
                    conn.exec_driver_sql("SELECT desk, seq FROM desk_heads ORDER BY desk").all(),
                )
            )
        db.close()
    return seen


def test_parallel_generation_writes_the_same_history(tmp_path, clock, monkeypatch) -> None:
    """The worker-process pipeline computes exactly what the single process does (same seed, same clock), in
    chunks small enough that each worker takes several."""
    from fengqiao.store import demo

    monkeypatch.setattr(demo, "CHUNK", 40)  # fork: the workers see it
    one, workers = _one_and_parallel(tmp_path, clock, 300, 5)
    assert one == workers


def _rows(path) -> dict[str, list[tuple]]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall())
            for t in ("orders", "assignments", "calls", "events", "desk_heads", "order_counters", "kpi_rollup")
        }
    finally:
        conn.close()


def test_a_demo_that_fails_half_way_leaves_the_store_as_it_was(tmp_path, clock, monkeypatch) -> None:
    """The bulk build fills a copy and renames it over the store only when complete: a failure after some chunks
    were written leaves the store (here with an earlier demo in it) exactly as it was, and no partial file."""
    from fengqiao.store import demo
    from fengqiao.store.db import Database
    from tests.test_audit import check

    path = tmp_path / "s.db"
    db = Database(path)
    generate(db, orders=60, days=3, seed=2, clock=clock, parallel=False)
    db.close()
    before = _rows(path)
    monkeypatch.setattr(demo, "CHUNK", 50)
    real, made = demo._simulate, []

    def failing(*args, **kw):
        if len(made) == 3:
            raise OSError("disk pulled out")
        made.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(demo, "_simulate", failing)
    db = Database(path)
    with pytest.raises(OSError, match="disk pulled out"):
        generate(db, orders=400, days=3, seed=3, clock=clock, parallel=False)
    db.close()
    assert made == [1, 1, 1]  # three chunks were written into the copy before the failure
    assert _rows(path) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("s.db")) in (
        ["s.db"],
        ["s.db", "s.db-shm", "s.db-wal"],
    )
    code, report = check(path, "--quick")
    assert code == 0 and report["faults"] == []


def test_a_demo_appends_to_a_store_with_history(tmp_path, clock) -> None:
    """A second demo into the same store continues every desk's chain and the order numbers of each day; the
    derived tables are rebuilt over old and new rows alike, and check is clean."""
    from fengqiao.store.db import Database
    from tests.test_audit import check

    path = tmp_path / "s.db"
    db = Database(path)
    first = generate(db, orders=200, days=3, seed=2, clock=clock, parallel=False)
    second = generate(db, orders=150, days=3, seed=4, clock=clock, parallel=False)
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 350
        assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == first.events + second.events
        assert conn.exec_driver_sql("SELECT count(DISTINCT order_no) FROM orders").scalar() == 350
    db.close()
    code, report = check(path)
    assert code == 0 and report["faults"] == [], report["faults"]


def test_a_store_open_in_another_program_is_not_rebuilt(tmp_path, clock) -> None:
    """Replacing the file under a program that has it open would lose what it writes: one line says so, and the
    store is left as it was."""
    from fengqiao.models.errors import StoreError
    from fengqiao.models.i18n import t
    from fengqiao.store.db import Database

    path = tmp_path / "s.db"
    db = Database(path, busy_ms=200)
    other = Database(path)  # another desk program, with the store open
    with other.read() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM orders").scalar()
        with pytest.raises(StoreError) as err:
            generate(db, orders=30, days=2, seed=1, clock=clock, parallel=False)
    assert str(err.value) == t("store.open_elsewhere", path=path)  # one line, not "locked, try again"
    other.close()
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 0
    assert not (tmp_path / "s.db.bulk-partial").exists()
    db.close()


def test_workers_started_by_spawn_write_the_same_history(tmp_path, clock, monkeypatch) -> None:
    """The worker processes need nothing from this one but their arguments: started by spawn (as on Windows and
    macOS) they compute what the single process does."""
    from fengqiao.store import demo

    monkeypatch.setattr(demo, "_start_method", lambda: "spawn")
    one, workers = _one_and_parallel(tmp_path, clock, 250, 8)
    assert one == workers


def test_demo_events_are_sealed_as_a_desk_seals_them(db, clock) -> None:
    """The writer seals the events in its own loop: every event's hash is ``link_hash`` of its stored fields,
    and each one's prev_hash is the hash before it on its desk."""
    from fengqiao.models.events import GENESIS, link_hash

    generate(db, orders=120, days=3, seed=9, clock=clock, parallel=False)
    with db.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, payload, "
            "prev_hash, hash FROM events ORDER BY desk, desk_seq"
        ).all()
    assert len(rows) > 500
    last: dict[str, str] = {}
    for row in rows:
        assert row[10] == last.get(row[5], GENESIS)
        assert row[11] == link_hash(tuple(row[:11]))
        last[row[5]] = row[11]


def test_a_demo_gives_back_the_callers_garbage_collector_thresholds(db, clock, monkeypatch) -> None:
    """The demo collects garbage less often while it runs, and leaves the calling process as it found it."""
    import gc

    from fengqiao.store import demo

    before = gc.get_threshold()
    seen = []
    real = demo._simulate

    def spying(*args, **kw):
        seen.append(gc.get_threshold())
        return real(*args, **kw)

    monkeypatch.setattr(demo, "_simulate", spying)
    gc.set_threshold(900, 11, 12)
    try:
        generate(db, orders=30, days=2, seed=1, clock=clock, parallel=False)
        assert seen and all(t == demo.GC_THRESHOLDS for t in seen)
        assert gc.get_threshold() == (900, 11, 12)
    finally:
        gc.set_threshold(*before)
