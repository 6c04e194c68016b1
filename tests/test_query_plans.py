"""Migration 0015 drops indexes on orders that others make redundant: the board's, the order list's and the
cockpit's reads of orders still search an index (EXPLAIN QUERY PLAN of every statement they run), never read
the whole table row by row."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from fengqiao.models.roles import Desk, Role
from fengqiao.store.board import BoardFilter, BoardQuery
from fengqiao.store.db import Database
from fengqiao.store.demo import generate
from fengqiao.store.kpi import KpiStore
from fengqiao.store.orders import OrderStore

DROPPED = ("ix_orders_call_at", "ix_orders_status", "ix_orders_town", "ix_orders_assignee", "ix_orders_police")


@pytest.fixture
def traced(tmp_path: Path, clock) -> tuple[Database, list[str]]:
    path = tmp_path / "plans.db"
    db = Database(path)
    generate(db, orders=400, days=5, seed=9, clock=clock, parallel=False)
    seen: list[str] = []

    def on_connect(dbapi_conn: sqlite3.Connection) -> None:
        dbapi_conn.set_trace_callback(seen.append)  # each statement with its parameters filled in

    db.engine.on_connect(on_connect)
    db.engine.dispose()  # new connections, traced
    return db, seen


def _plans(db: Database, statements: list[str]) -> list[tuple[str, list[str]]]:
    out = []
    with db.read() as conn:
        raw = conn.connection.driver_connection
        for sql in statements:
            text = sql.strip()
            if not text.upper().startswith("SELECT") or " orders o" not in text and "FROM orders" not in text:
                continue
            out.append((text, [r[3] for r in raw.execute(f"EXPLAIN QUERY PLAN {text}").fetchall()]))
    return out


def _full_scans(plans: list[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    """(statement, plan line) for each plan step that reads orders without an index (a statement with no condition,
    such as the capped count of every order, reads every row whatever the indexes)."""
    return [
        (sql, line)
        for sql, lines in plans
        if " WHERE " in sql
        for line in lines
        if line.startswith("SCAN") and line.split()[1] in ("o", "orders") and "INDEX" not in line
    ]


def _run(db: Database, clock, reads: list[Callable[[], object]], seen: list[str]) -> list[tuple[str, list[str]]]:
    seen.clear()
    for read in reads:
        read()
    return _plans(db, list(seen))


def test_the_dropped_indexes_are_gone_and_reads_of_orders_still_use_an_index(traced, clock) -> None:
    db, seen = traced
    with db.read() as conn:
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert not names & set(DROPPED)
    dept = Desk(name="d", role=Role.DEPARTMENT, dept="SCJG")
    station = Desk(name="g", role=Role.DEPARTMENT, dept="GA-HZ")
    township = Desk(name="t", role=Role.TOWNSHIP, town="HZ")
    reads: list[Callable[[], object]] = []
    for desk in (Desk(), dept, station, township):
        store = OrderStore(db, desk=desk, clock=clock)
        reads += [
            lambda s=store: s.list_orders(),
            lambda s=store: s.list_orders(status=["signed"]),
            lambda s=store: s.list_orders(overdue=True),
            lambda s=store: s.list_orders(open_only=True),
        ]
        board = BoardQuery(db, desk=desk, clock=clock)
        for f in (
            BoardFilter(),
            BoardFilter(scope="all"),
            BoardFilter(scope="all", sort="age"),
            BoardFilter(scope="all", sort="newest"),
            BoardFilter(scope="signed"),
            BoardFilter(scope="all", town="HZ"),
            BoardFilter(scope="all", dept="SCJG"),
            BoardFilter(scope="all", dept="GA-HZ"),
            BoardFilter(scope="closed", town="SHH", sort="age"),
        ):
            reads += [lambda b=board, f=f: b.page(f), lambda b=board, f=f: b.count(f)]
    reads.append(lambda: KpiStore(db, clock=clock).live())
    plans = _run(db, clock, reads, seen)
    assert len(plans) > 40
    assert _full_scans(plans) == [], "\n".join(f"{a} -> {b}" for a, b in _full_scans(plans))


def test_the_plan_check_can_fail(traced, clock) -> None:
    """Without the board's indexes the same check finds the department list reading the whole table."""
    db, seen = traced
    with db.write() as conn:
        for name in ("ix_board_primary", "ix_orders_desk", "ix_board_age", "ix_board_open_age", "ix_board_due"):
            conn.exec_driver_sql(f"DROP INDEX {name}")
    store = OrderStore(db, desk=Desk(name="d", role=Role.DEPARTMENT, dept="SCJG"), clock=clock)
    plans = _run(db, clock, [lambda: store.list_orders()], seen)
    assert _full_scans(plans)


def _assignment_plans(db: Database, statements: list[str]) -> list[tuple[str, list[str]]]:
    with db.read() as conn:
        raw = conn.connection.driver_connection
        return [
            (sql, [r[3] for r in raw.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()])
            for sql in (s.strip() for s in statements)
            if sql.upper().startswith("SELECT") and "assignments" in sql
        ]


def _by_whole_unit(plans: list[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    """Plan steps that read a unit's assignments through the unit's index: every assignment it ever had (about
    100,000 for a county department on a 1M store), where a page needs a handful."""
    return [(sql, line) for sql, lines in plans for line in lines if "ix_assignments_assignee (assignee=?)" in line]


@pytest.mark.parametrize(
    "desk", [Desk(name="d", role=Role.DEPARTMENT, dept="SCJG"), Desk(name="t", role=Role.TOWNSHIP, town="HZ")]
)
def test_a_units_board_reads_only_the_assignments_of_its_page(traced, clock, desk: Desk) -> None:
    """A department's or township's board: its co-handled orders through the co-unit index (migration 0017), the
    own view of a page by the page's order ids."""
    db, seen = traced
    board = BoardQuery(db, desk=desk, clock=clock)
    seen.clear()
    shown = 0
    for f in (BoardFilter(), BoardFilter(scope="all"), BoardFilter(scope="signed")):
        shown += len(board.page(f))
        board.count(f)
    assert shown  # the own view only reads assignments for a page with rows
    plans = _assignment_plans(db, list(seen))
    assert any("ix_assignments_co" in line for _, lines in plans for line in lines)
    assert _by_whole_unit(plans) == [], "\n".join(f"{a} -> {b}" for a, b in _by_whole_unit(plans))


def test_the_unit_index_check_can_fail(traced, clock) -> None:
    """Without the co-unit index the same board reads the department's every assignment."""
    db, seen = traced
    with db.write() as conn:
        conn.exec_driver_sql("DROP INDEX ix_assignments_co")
    board = BoardQuery(db, desk=Desk(name="d", role=Role.DEPARTMENT, dept="SCJG"), clock=clock)
    seen.clear()
    board.page(BoardFilter())
    assert _by_whole_unit(_assignment_plans(db, list(seen)))
