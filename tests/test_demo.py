"""The demo generator: realistic mix, and every projection row equals the replay of its order's events."""

from __future__ import annotations

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
            numbers.append(conn.exec_driver_sql("SELECT order_no, tag, town, status FROM orders ORDER BY order_no").all())
        db.close()
    assert numbers[0] == numbers[1]


def test_parallel_generation_writes_the_same_history(tmp_path, clock) -> None:
    """The worker-process pipeline computes exactly what the single process does (same seed, same clock)."""
    from fengqiao.store.db import Database

    seen = []
    for name, parallel in (("one.db", False), ("two.db", True)):
        db = Database(tmp_path / name)
        result = generate(db, orders=300, days=3, seed=5, clock=clock, parallel=parallel)
        with db.read() as conn:
            seen.append((result.orders, result.calls, result.events, conn.exec_driver_sql(
                "SELECT order_no, tag, town, status, next_due, first_overdue_at FROM orders ORDER BY order_no").all(),
                conn.exec_driver_sql("SELECT desk, seq FROM desk_heads ORDER BY desk").all()))
        db.close()
    assert seen[0] == seen[1]
