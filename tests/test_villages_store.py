"""Villages in the store: the board's village filter and the KPI village view (issue 16, item 2)."""

from __future__ import annotations

from fengqiao.models.clock import local
from fengqiao.models.intake import IntakeForm
from fengqiao.models.kpi import last_days
from fengqiao.screens.boardfilter import filter_summary
from fengqiao.store.board import BoardFilter, BoardQuery
from fengqiao.store.kpi import KpiStore


def _three(store, clock):  # noqa: ANN001, ANN202
    made = []
    for address in ("前岩村岭脚3号", "白泥坎村老街2号", "黄泽镇政府对面"):
        made.append(
            store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="邻居吵架", address=address), "B04")
        )
        clock.advance(minutes=1)
    return made


def test_the_board_filters_by_village(store, db, ref, clock) -> None:
    qy, bnk, plain = _three(store, clock)
    board = BoardQuery(db, ref=ref, clock=clock)
    for scope in ("open", "all"):
        found = [r.order_no for r in board.page(BoardFilter(scope=scope, village="HZ-QY"))]
        assert found == [qy.order_no], scope
        assert board.count(BoardFilter(scope=scope, village="HZ-BNK")).total == 1
    assert {r.order_no for r in board.page(BoardFilter())} == {qy.order_no, bnk.order_no, plain.order_no}
    # every mediation committee's orders: the grassroots kind as the department filter
    assert {r.order_no for r in board.page(BoardFilter(dept="TJ"))} == {qy.order_no, bnk.order_no}
    assert "前岩村" in filter_summary(BoardFilter(village="HZ-QY"), ref)


def test_the_kpi_village_view_counts_each_village_and_the_rest(store, db, ref, clock) -> None:
    _three(store, clock)
    clock.advance(minutes=30)
    window = last_days(local(clock()).date(), 7)
    table = KpiStore(db, ref=ref, clock=clock).table(window, "village")
    rows = {r.key: r for r in table.rows}
    assert set(rows) == {"HZ-QY", "HZ-BNK", "-"}
    assert rows["HZ-QY"].name == "前岩村（黄泽镇）" and rows["-"].name == "（未定村社）"
    assert all(r.counts.dispatched == 2 and r.counts.orders == 1 for r in rows.values())  # dual: two assignments
    assert table.total.counts.orders == 3
    plain = KpiStore(db, ref=ref, clock=clock, rollups=False).table(window, "village")
    assert [(r.key, r.counts) for r in plain.rows] == [(r.key, r.counts) for r in table.rows]
    by_dept = {r.key for r in KpiStore(db, ref=ref, clock=clock).table(window).rows}
    assert {"TJ-HZ-QY", "TJ-HZ-BNK", "ZZ-HZ", "GA-HZ"} <= by_dept
