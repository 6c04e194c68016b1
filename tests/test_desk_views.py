"""Each desk sees its own part: a department's own assignment on the board, no intake screen for departments,
and the supervisor's visit form with the number to call (in the access log first) and no preselected answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from fengqiao.models.machine import Action, Intent
from fengqiao.models.roles import make_desk
from fengqiao.screens.board import BoardScreen
from fengqiao.screens.forms import ActionForm
from fengqiao.screens.intake import IntakeScreen
from fengqiao.store.audit import access_log
from fengqiao.store.orders import OrderStore

from .test_board_ui import build_scenario, focus, make_app, open_board, settle


@pytest.fixture
def scene(tmp_path: Path):
    ns = build_scenario(tmp_path / "board.db")
    yield ns
    ns.db.close()


def _row(board: BoardScreen, order_no: str):
    return next(r for r in board.rows if r.order_no == order_no)


async def test_a_station_sees_its_own_half_of_a_dual_order(scene) -> None:
    station = scene.dual.police.assignee  # GA-SHH
    desk = make_desk(scene.ref, "所-1", "department", dept=station)
    OrderStore(scene.db, ref=scene.ref, desk=desk, clock=scene.clock).act(scene.dual.order_no, Intent(Action.SIGN))
    scene.clock.advance(minutes=1)
    app = make_app(scene, "department", dept=station)
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        row = _row(board, scene.dual.order_no)
        assert row.status == "signed" and row.next_due_kind in ("arrive", "feedback")
        assert board.table.get_cell(row.id, "status").plain.strip() == "已签收"
        assert "签收" not in board.table.get_cell(row.id, "due").plain  # not the department's sign-off countdown
    taker = make_app(scene, "call_taker")
    async with taker.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        row = _row(board, scene.dual.order_no)
        assert (row.status, row.next_due_kind) == ("dispatched", "sign")  # the order waits for the department


async def test_a_department_desk_has_no_intake(scene) -> None:
    app = make_app(scene, "department", dept="SCJG")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_board(pilot)
        assert not app.has_mode("intake")
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        assert not any(isinstance(s, IntakeScreen) for s in app.screen_stack)
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "工单" in " ".join(commands) and not any("受理" in c for c in commands)
        assert all(p.__name__ != "CallerPopProvider" for p in app.COMMANDS)  # type: ignore[union-attr]
    taker = make_app(scene, "call_taker")
    async with taker.run_test(size=(80, 24)) as pilot:
        assert taker.has_mode("intake") and isinstance(taker.screen, IntakeScreen)


async def test_the_visit_form_shows_the_number_logged_and_preselects_nothing(scene) -> None:
    app = make_app(scene, "supervisor")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        assert "13800000002" not in board.table.get_cell(_row(board, scene.waiting.order_no).id, "no").plain
        await focus(pilot, board, scene.waiting.order_no)
        assert access_log(scene.db) == []
        await pilot.press("v")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ActionForm)
        assert "13800000002" in str(form.query_one(".form-sub").render())
        [line] = access_log(scene.db)
        assert (line.action, line.target, line.actor) == ("unmasked", "visit", "值班员")
        assert scene.waiting.order_no in line.detail
        assert form.query_one("#field-satisfaction").highlighted is None
        await pilot.press("enter", "enter")
        assert "请选择" in str(form.query_one("#form-error").render())  # nothing chosen for the caller
        form.query_one("#field-satisfaction").focus()
        await pilot.press("down", "down", "enter", "enter")  # 基本满意
        await settle(pilot)
        assert app.store.order(scene.waiting.order_no).satisfaction == "basic"


SIZES = [((80, 24), "zh"), ((120, 40), "zh"), ((80, 24), "en"), ((120, 40), "en")]
SIZE_IDS = ["80x24-zh", "120x40-zh", "80x24-en", "120x40-en"]


@pytest.mark.parametrize(("size", "lang"), SIZES, ids=SIZE_IDS)
def test_visit_form_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int], lang: str) -> None:
    from fengqiao.console.app import FengqiaoApp

    scene = build_scenario(tmp_path / "snap.db")
    desk = make_desk(scene.ref, "督导-2", "supervisor", operator="值班员")
    app = FengqiaoApp(db=scene.db, desk=desk, clock=scene.clock, ref=scene.ref, watch_store=False, lang=lang)

    async def run_before(pilot) -> None:
        board = await open_board(pilot)
        await focus(pilot, board, scene.waiting.order_no)
        await pilot.press("v")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
    scene.db.close()
