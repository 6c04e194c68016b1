"""Issue 18 item 3: every linked repeat call of a demo store is found by the board's search, whichever of the
call and its order is stored first; ``fengqiao check`` finds a search index that disagrees with the calls; the
demo writes each order's row once, as the replay of its events makes it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fengqiao.models.machine import replay
from fengqiao.store import demo, migrations
from fengqiao.store.board import BoardFilter, BoardQuery
from fengqiao.store.db import Database
from fengqiao.store.demo import generate
from fengqiao.store.projection import load_events, order_tuple
from fengqiao.store.rollups import rebuild
from tests.test_audit import check

FFFF = "\uffff\uffff"


def _linked_calls(conn) -> list[tuple[str, str, str, str]]:
    """(call id, order number, address, description) of every linked repeat call."""
    return [
        tuple(r)
        for r in conn.exec_driver_sql(
            "SELECT c.id, o.order_no, c.address, c.description FROM calls c JOIN orders o ON o.id = c.order_id "
            "WHERE c.linked = 1 ORDER BY c.received_at"
        ).all()
    ]


def _not_found(db: Database, calls: list[tuple[str, str, str, str]], clock) -> list[str]:
    """The calls of ``calls`` that the board's search for their address and words does not find: their order is
    not on the board ('all' scope), or the search's full-text match misses the call's own document (the order
    could still be found through its other calls)."""
    q = BoardQuery(db, clock=clock)
    q.broad = 10**9  # always through the full-text index (a common word is otherwise read row by row in the calls)
    missing = []
    for call_id, order_no, address, description in calls:
        f = BoardFilter(scope="all", search=f"{address} {description}")
        rows = q.page(f, limit=500)
        with db.read() as conn:
            _, _, search = q.where(f, clock(), conn)
            doc = conn.exec_driver_sql("SELECT doc FROM order_search_docs WHERE call_id = ?", (call_id,)).scalar()
            hits = {
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT rowid FROM order_search WHERE order_search MATCH ?", (search.match,)
                )
            }
        if order_no not in {r.order_no for r in rows} or doc not in hits:
            missing.append(call_id)
    return missing


def test_a_demo_store_finds_every_linked_call_by_its_words(db, clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 orders in chunks of 300 (so a chunk's later events are written with the next chunks'): every linked
    repeat call's address and words find its order through the search index; the rows equal the replay."""
    monkeypatch.setattr(demo, "CHUNK", 300)
    result = generate(db, orders=2000, days=2, seed=11, clock=clock, parallel=False)
    assert result.events > 4 * 2000
    with db.read() as conn:
        calls = _linked_calls(conn)
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM orders").all()]
        for order_id in ids:
            row = conn.exec_driver_sql("SELECT * FROM orders WHERE id = ?", (order_id,)).first()
            assert tuple(row) == order_tuple(replay(load_events(conn, order_id)).state), order_id
    assert len(calls) >= 5
    assert _not_found(db, calls, clock) == []
    with db.write() as conn:  # the same check fails once a linked call's entry is gone
        conn.exec_driver_sql("DELETE FROM order_search_docs WHERE call_id = ?", (calls[0][0],))
    assert _not_found(db, calls, clock) == [calls[0][0]]


def test_check_is_clean_on_a_demo_store_of_several_chunks(tmp_path: Path, clock, monkeypatch) -> None:
    monkeypatch.setattr(demo, "CHUNK", 150)
    db = Database(tmp_path / "demo.db")
    generate(db, orders=600, days=10, seed=3, clock=clock, parallel=False)
    db.close()
    code, report = check(tmp_path / "demo.db")
    assert code == 0 and report["faults"] == [], report["faults"]


def _store_with_linked_call_written_before_its_order(path: Path, clock) -> tuple[str, str]:
    """A demo store, then one more order whose linked repeat call is stored before the order's row (as a sync
    pull that brings both in one page does). Returns (order number, the linked call's description)."""
    db = Database(path)
    generate(db, orders=30, days=3, seed=2, clock=clock, parallel=False)
    with db.write() as conn:
        row = conn.exec_driver_sql("SELECT * FROM orders LIMIT 1").first()
        cols = list(row._fields)
        new_id, new_call, linked_call = "o-late", "c-late-own", "c-late-linked"
        values = dict(zip(cols, row, strict=True))
        values.update(id=new_id, order_no="SZ-20991231-0001", call_id=new_call)
        conn.exec_driver_sql(
            "INSERT INTO calls (id, phone, name, town, address, description, received_at, desk, order_id, linked) "
            "SELECT ?, phone, name, town, '晚到路1号', '晚到的工单自己的来电', received_at, desk, ?, 0 FROM calls "
            "WHERE id = ?",
            (new_call, new_id, row.call_id),
        )
        conn.exec_driver_sql(
            "INSERT INTO calls (id, phone, name, town, address, description, received_at, desk, order_id, linked, "
            "repeat_of) SELECT ?, phone, name, town, '先到巷9号', '先存下的关联来电说水管爆了', received_at, desk, ?, 1, ? "
            "FROM calls WHERE id = ?",
            (linked_call, new_id, new_id, row.call_id),
        )
        marks = ", ".join("?" for _ in cols)
        conn.exec_driver_sql(f"INSERT INTO orders ({', '.join(cols)}) VALUES ({marks})", tuple(values[c] for c in cols))
        rebuild(conn)  # the KPI rollups with the new row (this test is about the search index)
    db.close()
    return "SZ-20991231-0001", "先存下的关联来电说水管爆了"


def test_a_linked_call_stored_before_its_order_is_indexed_when_the_order_arrives(tmp_path: Path, clock) -> None:
    order_no, words = _store_with_linked_call_written_before_its_order(tmp_path / "s.db", clock)
    db = Database(tmp_path / "s.db")
    q = BoardQuery(db)
    q.broad = 10**9
    assert [r.order_no for r in q.page(BoardFilter(scope="all", search=words))] == [order_no]
    with db.read() as conn:  # one document each, indexed once
        docs = conn.exec_driver_sql(
            "SELECT count(*) FROM order_search_docs d JOIN order_search s ON s.rowid = d.doc WHERE d.order_id = 'o-late'"
        ).scalar()
    assert docs == 2
    db.close()


def test_migration_15_indexes_the_linked_calls_an_older_store_missed(tmp_path: Path, clock, monkeypatch) -> None:
    """A store at schema 14 (the old trigger) whose linked call was stored before its order: not found; 0015's
    backfill indexes it, and a check of the migrated file is clean."""
    monkeypatch.setattr(migrations, "head", lambda: 14)
    monkeypatch.setattr(migrations, "steps", lambda: [s for s in _all_steps() if s[0] <= 14])
    path = tmp_path / "old.db"
    order_no, words = _store_with_linked_call_written_before_its_order(path, clock)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 14
    missed = conn.execute(
        "SELECT count(*) FROM calls c WHERE c.linked = 1 AND c.id NOT IN (SELECT call_id FROM order_search_docs)"
    ).fetchone()[0]
    conn.close()
    assert missed == 1  # the bug, as a store of schema 14 has it
    monkeypatch.undo()
    db = Database(path)  # migrates to 15
    q = BoardQuery(db)
    q.broad = 10**9
    assert [r.order_no for r in q.page(BoardFilter(scope="all", search=words))] == [order_no]
    db.close()
    code, report = check(path, "--quick")
    assert code == 0 and report["faults"] == [], report["faults"]


_STEPS = migrations.steps


def _all_steps() -> list[tuple[int, str]]:
    return _STEPS()


@pytest.fixture
def demo_file(tmp_path: Path, clock) -> Path:
    path = tmp_path / "demo.db"
    db = Database(path)
    generate(db, orders=1500, days=2, seed=4, clock=clock, parallel=False)
    db.close()
    return path


def _linked_doc(path: Path) -> tuple[int, tuple[str, str, str, str]]:
    conn = sqlite3.connect(path)
    doc, *texts = conn.execute(
        "SELECT d.doc, o.order_no, c.phone, c.address, c.description FROM calls c "
        "JOIN order_search_docs d ON d.call_id = c.id JOIN orders o ON o.id = c.order_id "
        "WHERE c.linked = 1 ORDER BY c.received_at LIMIT 1"
    ).fetchone()
    conn.close()
    return doc, tuple(texts)


def _search_fault(report: dict) -> list[str]:
    return [f["message"] for f in report["faults"] if f["kind"] == "derived"]


def test_check_finds_a_linked_call_taken_out_of_the_index(demo_file: Path) -> None:
    doc, texts = _linked_doc(demo_file)
    conn = sqlite3.connect(demo_file)
    conn.execute(
        "INSERT INTO order_search (order_search, rowid, order_no, phone, address, description) "
        "VALUES ('delete', ?, ?, ?, ?, ?)",
        (doc, *(t + FFFF for t in texts)),
    )
    conn.execute("DELETE FROM order_search_docs WHERE doc = ?", (doc,))
    conn.commit()
    conn.close()
    code, report = check(demo_file, "--quick")
    assert code != 0
    assert _search_fault(report) == ["搜索索引（order_search）与工单和来电有 1 处不符：工单可能在搜索中被隐藏"], report[
        "faults"
    ]


def test_check_finds_an_index_entry_with_other_words(demo_file: Path) -> None:
    """The document is still there and still in the index, but indexed with words the call does not have."""
    doc, texts = _linked_doc(demo_file)
    conn = sqlite3.connect(demo_file)
    conn.execute(
        "INSERT INTO order_search (order_search, rowid, order_no, phone, address, description) "
        "VALUES ('delete', ?, ?, ?, ?, ?)",
        (doc, *(t + FFFF for t in texts)),
    )
    conn.execute(
        "INSERT INTO order_search (rowid, order_no, phone, address, description) VALUES (?, ?, ?, ?, ?)",
        (doc, texts[0] + FFFF, texts[1] + FFFF, texts[2] + FFFF, "无关的词" + FFFF),
    )
    conn.commit()
    conn.close()
    code, report = check(demo_file, "--quick")
    assert code != 0
    assert _search_fault(report) == ["搜索索引（order_search）与工单和来电有 1 处不符：工单可能在搜索中被隐藏"], report[
        "faults"
    ]


def test_check_is_clean_before_the_index_is_edited(demo_file: Path) -> None:
    """The two tests above fail for the edit alone: the same file, untouched, passes."""
    code, report = check(demo_file, "--quick")
    assert code == 0 and report["faults"] == []
