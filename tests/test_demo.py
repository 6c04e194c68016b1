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
            numbers.append(
                conn.exec_driver_sql("SELECT order_no, tag, town, status FROM orders ORDER BY order_no").all()
            )
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
    assert seen[0] == seen[1]


def test_every_linked_repeat_call_is_in_the_search_index(db, clock) -> None:
    """A batch's linked repeat calls used to be written before their orders, so the index never saw about one in five."""
    generate(db, orders=3000, days=20, seed=11, clock=clock)
    with db.read() as conn:
        linked = conn.exec_driver_sql("SELECT count(*) FROM calls WHERE linked = 1").scalar()
        indexed = conn.exec_driver_sql(
            "SELECT count(*) FROM calls c JOIN order_search_docs d ON d.call_id = c.id AND d.order_id = c.order_id "
            "WHERE c.linked = 1"
        ).scalar()
        # and the words of a linked call find its order through the full-text index
        call_id, order_id, phone = conn.exec_driver_sql(
            "SELECT id, order_id, phone FROM calls WHERE linked = 1 ORDER BY received_at DESC LIMIT 1"
        ).first()
        doc = conn.exec_driver_sql("SELECT doc FROM order_search_docs WHERE call_id = ?", (call_id,)).scalar()
        hits = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT rowid FROM order_search WHERE order_search MATCH ?", (f'phone:"{phone}"',)
            ).all()
        ]
    assert linked >= 5
    assert indexed == linked
    assert doc in hits, order_id
