"""The board moves as expected: Home, End, PgUp, PgDn on a board whose orders fit one page (and across pages
in tests/test_board_ui.py); the filter dialog's department list filters as you type; the new filters; Enter
on a cockpit department row."""

from __future__ import annotations

from pathlib import Path

import pytest

from fengqiao.screens.board import BoardScreen

from .test_board_ui import board_numbers, build_scenario, make_app, open_board, settle


@pytest.fixture
def scene(tmp_path: Path):
    ns = build_scenario(tmp_path / "board.db")
    yield ns
    ns.db.close()


async def test_home_end_pgup_pgdn_on_a_one_page_board(scene) -> None:
    app = make_app(scene, "call_taker")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        rows = len(board_numbers(board))
        assert rows == 6 and board.table.cursor_row == 0
        for key, want in [("end", rows - 1), ("home", 0), ("pagedown", rows - 1), ("pageup", 0)]:
            await pilot.press(key)
            await settle(pilot)
            assert board.table.cursor_row == want, key
            assert board.start_index == 0 and len(board_numbers(board)) == rows
        await pilot.press("down", "down")
        await pilot.press("pagedown", "pagedown")  # at the end: stays on the last row
        await settle(pilot)
        assert board.table.cursor_row == rows - 1
        await pilot.press("ctrl+home")
        await settle(pilot)
        assert board.table.cursor_row == 0
        assert isinstance(app.screen, BoardScreen)


async def test_the_department_list_filters_as_you_type_and_renders_whole(scene) -> None:
    from fengqiao.screens.boardfilter import FilterScreen
    from fengqiao.screens.picker import PickField, PickScreen

    app = make_app(scene, "call_taker")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, FilterScreen)
        app.screen.query_one("#filter-dept", PickField).focus()
        await pilot.press("enter")
        await settle(pilot)
        picker = app.screen
        assert isinstance(picker, PickScreen)
        for typed, first in [("scjg", "SCJG"), ("市场", "SCJG"), ("shichang", "SCJG"), ("zjj", "ZJJ"), ("zf", "ZJJ")]:
            field = picker.query_one("#pick-filter")
            field.value = typed
            await settle(pilot)
            listed = picker.query_one("#pick-list")
            assert listed.get_option_at_index(0).id == first, typed
        picker.query_one("#pick-filter").value = ""
        await settle(pilot)
        shot = app.export_screenshot()
        assert "住房和城乡建设局" in shot and "生态环境分局" in shot  # no character cut by an overlay
        picker.query_one("#pick-filter").value = "sc"
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FilterScreen)
        assert app.screen.query_one("#filter-dept", PickField).value == "SCJG"
        await pilot.press("f3")
        await settle(pilot)
        assert board.filter.dept == "SCJG"
        assert board_numbers(board) == [scene.overdue.order_no, scene.signed.order_no]


async def test_filters_for_returns_to_judge_and_visits_due(scene) -> None:
    from fengqiao.models.machine import Action, Intent
    from fengqiao.models.roles import make_desk
    from fengqiao.store.orders import OrderStore

    scjg = OrderStore(
        scene.db, ref=scene.ref, desk=make_desk(scene.ref, "s", "department", dept="SCJG"), clock=scene.clock
    )
    scjg.act(scene.signed.order_no, Intent(Action.RETURN, note="不属于本局"))
    app = make_app(scene, "supervisor")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        await pilot.press("f3")
        await settle(pilot)
        app.screen.query_one("#filter-judge").value = True
        await pilot.press("f3")
        await settle(pilot)
        assert board_numbers(board) == [scene.signed.order_no]
        assert "待判定退单" in str(board.query_one("#board-filters").render())
        await pilot.press("f3")
        await settle(pilot)
        app.screen.query_one("#filter-judge").value = False
        app.screen.query_one("#filter-visit").value = True
        await pilot.press("f3")
        await settle(pilot)
        assert board_numbers(board) == [scene.waiting.order_no]


async def test_enter_on_a_cockpit_department_opens_its_orders(scene) -> None:
    from textual.widgets import DataTable

    app = make_app(scene, "supervisor")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#cp-depts", DataTable)
        keys = [str(k.value) for k in table.rows]
        assert "SCJG" in keys
        table.focus()
        table.move_cursor(row=keys.index("SCJG"))
        await pilot.press("enter")
        await settle(pilot)
        board = app.screen
        assert isinstance(board, BoardScreen)
        assert board.filter.dept == "SCJG"
        assert board_numbers(board) == [scene.overdue.order_no, scene.signed.order_no]
