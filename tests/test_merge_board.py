"""Merge, undo and split from the board: keys offered by role and state, a form, a confirmation, the store step;
snapshots of the confirmation (80x24 and 120x40, zh and en)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fengqiao.console.app import FengqiaoApp
from fengqiao.models.roles import make_desk
from fengqiao.screens.forms import ActionForm, ConfirmScreen
from fengqiao.screens.help import HelpScreen
from fengqiao.store.orders import OrderStore

from .test_board_ui import build_scenario, focus, make_app, offered, open_board, settle


def lang_app(scene, lang: str) -> FengqiaoApp:  # noqa: ANN001
    desk = make_desk(scene.ref, "call_taker-desk", "call_taker", operator="值班员")
    return FengqiaoApp(db=scene.db, desk=desk, clock=scene.clock, ref=scene.ref, watch_store=False, lang=lang)


STEPS = {"board.merge", "board.unmerge", "board.split"}


def store_of(scene) -> OrderStore:  # noqa: ANN001
    return OrderStore(scene.db, ref=scene.ref, clock=scene.clock)


async def merge_keys(pilot, scene, *, confirm: str) -> None:  # noqa: ANN001
    board = await open_board(pilot)
    await focus(pilot, board, scene.overdue.order_no)
    await pilot.press("g")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ActionForm)
    await pilot.press(*scene.dual.order_no.lower(), "enter", *"同一家店", "enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ConfirmScreen)
    if confirm:
        await pilot.press(confirm)
        await settle(pilot)


@pytest.fixture
def scene(tmp_path: Path):
    ns = build_scenario(tmp_path / "board.db")
    yield ns
    ns.db.close()


async def test_keys_are_offered_by_role_and_state(scene) -> None:
    app = make_app(scene, "call_taker")
    async with app.run_test(size=(120, 40)) as pilot:
        board = await open_board(pilot)
        await focus(pilot, board, scene.overdue.order_no)
        assert offered(board) & STEPS == {"board.merge", "board.split"}  # nothing merged into it yet
        await focus(pilot, board, scene.waiting.order_no)  # fed back: others may be merged into it, no split
        assert offered(board) & STEPS == {"board.merge"}
        await focus(pilot, board, scene.overdue.order_no)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        shown = " ".join(" ".join(row) for row in app.screen._rows)
        assert "合并工单" in shown and "拆分工单" in shown
        await pilot.press("escape")
        await settle(pilot)
        from fengqiao.screens.palette import ScreenKeys

        names = [hit.text async for hit in ScreenKeys(app.screen).discover()]
        assert "合并工单" in names and "拆分工单" in names and "撤销合并" not in names
    dept = make_app(scene, "department", dept="SCJG")
    async with dept.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        await focus(pilot, board, scene.overdue.order_no)
        assert offered(board) & STEPS == set()


async def test_merge_from_the_board_then_undo(scene) -> None:
    app = make_app(scene, "call_taker")
    async with app.run_test(size=(120, 40)) as pilot:
        await merge_keys(pilot, scene, confirm="escape")  # changed my mind: nothing written
        assert store_of(scene).order(scene.dual.order_no).merge is None
        await merge_keys(pilot, scene, confirm="y")
        gone = store_of(scene).order(scene.dual.order_no)
        assert gone.merge is not None and gone.merge.into_no == scene.overdue.order_no
        assert gone.merge.reason == "同一家店" and not gone.active_assignments
        board = await open_board(pilot)
        assert scene.dual.order_no not in [r.order_no for r in board.rows]  # merged: off the open board
        await focus(pilot, board, scene.overdue.order_no)
        assert "board.unmerge" in offered(board)
        await pilot.press("z")
        await settle(pilot)
        await pilot.press("enter")  # no reason
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert store_of(scene).order(scene.dual.order_no).merge is None


async def test_split_from_the_board_and_a_bad_unit(scene) -> None:
    app = make_app(scene, "call_taker")
    async with app.run_test(size=(120, 40)) as pilot:
        board = await open_board(pilot)
        await focus(pilot, board, scene.overdue.order_no)
        await pilot.press("l")
        await settle(pilot)
        await pilot.press(*"zjj nope", "enter", "enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert store_of(scene).order(scene.overdue.order_no).children == []  # refused, in one toast
        await pilot.press("l")
        await settle(pilot)
        await pilot.press(*"zjj sw", "enter", *"两家各管一块", "enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        parent = store_of(scene).order(scene.overdue.order_no)
        assert [c.assignee for c in parent.children] == ["ZJJ", "SW"]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_merge_confirmation_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int], lang: str) -> None:
    scene = build_scenario(tmp_path / "snap.db")
    app = lang_app(scene, lang)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await merge_keys(pilot, scene, confirm="")

    assert snap_compare(app, terminal_size=size, run_before=run_before)
    scene.db.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_split_confirmation_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int], lang: str) -> None:
    scene = build_scenario(tmp_path / "snap.db")
    app = lang_app(scene, lang)

    async def run_before(pilot) -> None:  # noqa: ANN001
        board = await open_board(pilot)
        await focus(pilot, board, scene.overdue.order_no)
        await pilot.press("l")
        await settle(pilot)
        await pilot.press(*"zjj sw", "enter", *"两家各管一块", "enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmScreen)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
    scene.db.close()


async def test_detail_shows_the_merge_and_the_split(scene) -> None:
    from fengqiao.screens.detail import DetailScreen

    store = store_of(scene)
    store.merge(scene.overdue.order_no, [scene.dual.order_no], reason="同一家店")
    result = store.split(scene.overdue.order_no, ["ZJJ"])
    app = make_app(scene, "call_taker")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(DetailScreen(scene.overdue.order_no))
        await settle(pilot)
        shown = str(app.screen.query_one("#detail-call").render())
        assert f"并入的 {scene.dual.order_no} 来电" in shown
        assert f"子工单：{result.children[0].order_no}→ZJJ 待签收" in shown
        await app.pop_screen()
        await app.push_screen(DetailScreen(scene.dual.order_no))
        await settle(pilot)
        assert f"已并入 {scene.overdue.order_no}" in str(app.screen.query_one("#detail-call").render())
