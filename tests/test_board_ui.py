"""The board and the detail screen through Textual's Pilot, per desk role, and their snapshots.

The scenario (fixed clock, 2026-11-28 09:30 Shanghai): an overdue order, a near-due one, one in time, a dual
order, one waiting for its follow-up visit, a repeat call, and a closed one that the open board leaves out.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from textual.worker import WorkerCancelled

from fengqiao.console.app import FengqiaoApp, StoreChanged
from fengqiao.models.clock import FixedClock
from fengqiao.models.errors import NotFound, PermissionDenied
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import make_desk
from fengqiao.screens.board import BoardScreen
from fengqiao.screens.detail import DetailScreen
from fengqiao.screens.forms import ActionForm, ConfirmScreen
from fengqiao.screens.help import HelpScreen
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore

from .conftest import T0


def build_scenario(path: Path) -> SimpleNamespace:
    ref = default_reference()
    clock = FixedClock(T0)
    db = Database(path)

    def store(role: str | None, name: str, **where: str) -> OrderStore:
        return OrderStore(db, ref=ref, desk=make_desk(ref, name, role, operator=name, **where), clock=clock)

    taker, sup = store("call_taker", "110-1"), store("supervisor", "督导-1")
    scjg, rx = store("department", "市场监管-1", dept="SCJG"), store("department", "12345-1", dept="RX")

    def at(minutes: float) -> None:
        clock.set(T0 + timedelta(minutes=minutes))

    def dispatch(minutes: float, phone: str, town: str, tag: str, text: str, address: str = "", **kw):
        at(minutes)
        return taker.dispatch(IntakeForm(phone=phone, town=town, description=text, address=address), tag, **kw)

    ns = SimpleNamespace(ref=ref, clock=clock, db=db, path=path)
    ns.closed = dispatch(-600, "13800000001", "SHH", "D01", "咨询社保政策")
    at(-590)
    rx.act(ns.closed.order_no, Intent(Action.SIGN))
    at(-500)
    rx.act(ns.closed.order_no, Intent(Action.FEEDBACK, result="resolved", note="已电话答复"))
    at(-400)
    sup.act(ns.closed.order_no, Intent(Action.VISIT, satisfaction="satisfied"))
    sup.act(ns.closed.order_no, Intent(Action.CLOSE))
    ns.waiting = dispatch(-180, "13800000002", "LS", "D01", "咨询医保报销", "鹿山街道东前街5号")
    at(-170)
    rx.act(ns.waiting.order_no, Intent(Action.SIGN))
    at(-60)
    rx.act(ns.waiting.order_no, Intent(Action.FEEDBACK, result="resolved", note="已告知办理流程"))
    ns.overdue = dispatch(-15, "13857512345", "SHH", "B01", "超市卖过期牛奶，老板不给退[bold]", "剡湖街道人民路88号")
    ns.signed = dispatch(-20, "13800000003", "CL", "B01", "网购家电有质量问题", "长乐镇兴盛街12号")
    at(-18)
    scjg.act(ns.signed.order_no, Intent(Action.SIGN, note="已安排执法人员"))
    ns.near = dispatch(-9, "0575-83012345", "LS", "C04", "小区供水管爆裂，水漫到路上", "鹿山街道官河路7号")
    ns.dual = dispatch(-2, "13800000004", "SHH", "B02", "物业乱收停车费", "剡湖街道江滨路3号")
    ns.repeat = dispatch(-1, "13857512345", "GM", "B04", "邻居装修噪音太大", "贵门乡东山村3幢")
    at(-1)
    taker.link(ns.overdue.order_no, IntakeForm(phone="13857512345", town="SHH", description="又打来催，还没人来"))
    sup.act(ns.overdue.order_no, Intent(Action.ESCALATE, note="超时未签收，请立即签收"))
    at(0)
    return ns


@pytest.fixture
def scene(tmp_path: Path):
    ns = build_scenario(tmp_path / "board.db")
    yield ns
    ns.db.close()


def make_app(scene: SimpleNamespace, role: str, **where: str) -> FengqiaoApp:
    desk = make_desk(scene.ref, f"{role}-desk", role, operator="值班员", **where)
    return FengqiaoApp(db=scene.db, desk=desk, clock=scene.clock, ref=scene.ref, watch_store=False)


async def settle(pilot, rounds: int = 4) -> None:
    """Let the board's workers (page, count, focused order, action) finish and their messages land."""
    for _ in range(rounds):
        while True:
            try:
                await pilot.app.workers.wait_for_complete()
                break
            except WorkerCancelled:  # an exclusive worker replaced by a newer one: wait for that one
                continue
        await pilot.pause()


async def open_board(pilot) -> BoardScreen:
    if not isinstance(pilot.app.screen, BoardScreen):
        await pilot.press("f6")
    await settle(pilot)
    assert isinstance(pilot.app.screen, BoardScreen)
    return pilot.app.screen


def offered(screen) -> set[str]:
    return {b.binding.id for b in screen.active_bindings.values() if b.binding.id and b.enabled}


def decisions(screen) -> set[str]:
    """The order actions offered besides a note (which every desk may add to any order it sees)."""
    return {i for i in offered(screen) if i.startswith("order.") and i != "order.note"}


def board_numbers(screen: BoardScreen) -> list[str]:
    return [r.order_no for r in screen.rows]


async def focus(pilot, screen: BoardScreen, order_no: str) -> None:
    index = board_numbers(screen).index(order_no)
    screen.table.move_cursor(row=index)
    await settle(pilot)


def event_kinds(scene, order_no: str) -> list[str]:
    with scene.db.read() as conn:
        return [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT e.kind FROM events e JOIN orders o ON o.id = e.order_id WHERE o.order_no = ? ORDER BY e.seq",
                (order_no,),
            )
        ]


# ---- roles ---------------------------------------------------------------------------------------


async def test_department_desk_sees_and_acts_only_on_its_own_orders(scene) -> None:
    app = make_app(scene, "department", dept="SCJG")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)  # a department desk starts on the board
        assert board_numbers(board) == [scene.overdue.order_no, scene.signed.order_no]
        await focus(pilot, board, scene.overdue.order_no)
        assert {"order.sign", "order.return"} <= offered(board)
        assert not offered(board) & {"order.escalate", "order.visit", "order.close", "order.cancel"}
        await pilot.press("s")
        await settle(pilot)
        assert event_kinds(scene, scene.overdue.order_no)[-1] == "sign"
        # Another department's order is not on the board, not in search, and the store refuses it too.
        board.query_one("#board-search").value = scene.dual.order_no
        await pilot.pause(0.5)
        await settle(pilot)
        assert board_numbers(board) == []
        with pytest.raises(NotFound):
            app.store.act(scene.dual.order_no, Intent(Action.SIGN))
        app.push_screen(DetailScreen(scene.dual.order_no))
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.offer is None
        assert not {i for i in offered(app.screen) if i.startswith("order.")}
        assert "没有工单" in str(app.screen.query_one("#detail-title").render())


async def test_township_desk_sees_its_town(scene) -> None:
    app = make_app(scene, "township", town="GM")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        assert board_numbers(board) == [scene.repeat.order_no]
        assert {"order.sign", "order.return"} <= offered(board)  # centre and station both sign here
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, ActionForm)  # two assignments of its own: which one signs?
        await pilot.press("enter")
        await settle(pilot)
        assert event_kinds(scene, scene.repeat.order_no)[-1] == "sign"
    other = make_app(scene, "township", town="GLL")  # shares 贵门乡's police station, not its orders
    async with other.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        assert board_numbers(board) == []


async def test_supervisor_is_read_only_except_its_decisions(scene) -> None:
    app = make_app(scene, "supervisor")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        assert scene.closed.order_no not in board_numbers(board)
        await focus(pilot, board, scene.near.order_no)
        assert not decisions(board)  # in time: nothing to decide
        before = event_kinds(scene, scene.near.order_no)
        await pilot.press("s", "a", "f", "r", "x")  # illegal here: not offered, and nothing happens
        await settle(pilot)
        assert event_kinds(scene, scene.near.order_no) == before
        with pytest.raises(PermissionDenied):
            app.store.act(scene.near.order_no, Intent(Action.SIGN))
        await focus(pilot, board, scene.waiting.order_no)
        assert decisions(board) == {"order.visit"}
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, ActionForm)
        await pilot.press("down", "enter")  # 基本满意, then the (optional) note
        await pilot.press(*"ok", "enter")
        await settle(pilot)
        assert event_kinds(scene, scene.waiting.order_no)[-1] == "visit"
        await focus(pilot, board, scene.waiting.order_no)
        assert decisions(board) == {"order.close"}
        await pilot.press("c")
        await settle(pilot)
        assert event_kinds(scene, scene.waiting.order_no)[-1] == "close"
        assert scene.waiting.order_no not in board_numbers(board)  # closed: off the open board


async def test_escalation_queue_and_escalating(scene) -> None:
    app = make_app(scene, "supervisor")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        await pilot.press("f8")
        await settle(pilot)
        assert board.filter.is_escalation_queue
        assert board_numbers(board) == [scene.overdue.order_no]
        assert "order.escalate" in offered(board)
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ActionForm)
        await pilot.press("enter")  # the note is required
        assert "不能为空" in str(form.query_one("#form-error").render())
        await pilot.press(*"请立即处置", "enter")
        await settle(pilot)
        assert event_kinds(scene, scene.overdue.order_no).count("escalate") == 2
        await pilot.press("f8")
        await settle(pilot)
        assert not board.filter.overdue and len(board_numbers(board)) == 6


async def test_return_asks_for_a_reason_and_confirmation(scene) -> None:
    app = make_app(scene, "department", dept="SCJG")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        await focus(pilot, board, scene.overdue.order_no)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press(*"不属于本局职责", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # changed my mind: nothing written
        await settle(pilot)
        assert event_kinds(scene, scene.overdue.order_no)[-1] == "escalate"
        await pilot.press("r")
        await settle(pilot)
        await pilot.press(*"不属于本局职责", "enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert event_kinds(scene, scene.overdue.order_no)[-1] == "return"


# ---- live behaviour ------------------------------------------------------------------------------


async def test_countdown_crosses_into_overdue_without_a_reload(scene) -> None:
    app = make_app(scene, "call_taker")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)

        def cell() -> str:
            row = board.rows[board_numbers(board).index(scene.near.order_no)]
            return board.table.get_cell(row.id, "due").plain

        assert cell().startswith(" ⚠签收")
        scene.clock.advance(minutes=1, seconds=5)
        board._tick()
        assert cell().startswith(" ✖签收超时")
        await settle(pilot)


async def test_store_changes_update_the_rows(scene) -> None:
    app = make_app(scene, "call_taker")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        other = OrderStore(
            scene.db, ref=scene.ref, clock=scene.clock, desk=make_desk(scene.ref, "sw", "department", dept="SW")
        )
        other.act(scene.near.order_no, Intent(Action.SIGN))
        board.post_message(StoreChanged(999))
        await settle(pilot)
        row = board.rows[board_numbers(board).index(scene.near.order_no)]
        assert row.status == "signed"
        assert board.table.get_cell(row.id, "status").plain.strip() == "已签收"


async def test_paging_search_filters_and_detail(tmp_path: Path, ref, clock) -> None:
    from fengqiao.store.demo import generate

    db = Database(tmp_path / "many.db")
    generate(db, orders=3000, days=20, seed=5, clock=clock)
    app = FengqiaoApp(db=db, desk=make_desk(ref, "s", "supervisor"), clock=clock, ref=ref, watch_store=False)
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        size = len(board.rows)
        assert size == board.table.size.height - 1 and board.table.row_count == size
        total = board.counts.total
        assert total > 2 * size
        first = board_numbers(board)
        await pilot.press("pagedown")
        await settle(pilot)
        assert board.start_index == size and board_numbers(board)[0] not in first
        await pilot.press("up")
        await settle(pilot)
        assert board.start_index == size - 1 and board_numbers(board)[0] == first[-1]
        await pilot.press("end")
        await settle(pilot)
        assert board.start_index + len(board.rows) == total
        await pilot.press("home")
        await settle(pilot)
        assert board_numbers(board) == first
        await pilot.press("f3")
        await settle(pilot)
        app.screen.query_one("#filter-overdue").value = True
        await pilot.press("f3")
        await settle(pilot)
        assert board.filter.overdue and all(r.next_due < clock() for r in board.rows)
        await pilot.press("escape")
        await settle(pilot)
        assert not board.filter.overdue
        await pilot.press("slash", *"13", "enter")
        await pilot.pause(0.5)
        await settle(pilot)
        assert board.filter.search == "13" and board.rows
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.offer is not None
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert app.screen is board
    db.close()


async def test_palette_lists_the_offered_actions(scene) -> None:
    from fengqiao.screens.palette import ScreenKeys

    app = make_app(scene, "supervisor")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        await focus(pilot, board, scene.waiting.order_no)
        provider = ScreenKeys(board)
        names = [hit.text async for hit in provider.discover()]
        assert "回访" in names and "签收" not in names and "筛选" in names


# ---- snapshots -----------------------------------------------------------------------------------


def _snapshot_app(tmp_path: Path, role: str, **where: str) -> tuple[FengqiaoApp, SimpleNamespace]:
    scene = build_scenario(tmp_path / "snap.db")
    return make_app(scene, role, **where), scene


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_board_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app, scene = _snapshot_app(tmp_path, "call_taker")

    async def run_before(pilot) -> None:
        await open_board(pilot)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
    scene.db.close()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_detail_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app, scene = _snapshot_app(tmp_path, "department", dept="SCJG")

    async def run_before(pilot) -> None:
        board = await open_board(pilot)
        await focus(pilot, board, scene.overdue.order_no)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
    scene.db.close()
