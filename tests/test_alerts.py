"""What needs someone is impossible to miss: a toast and the bell for a new order on a department desk (arriving
as a sync pull writes it), a return on the call-taker's, a deadline passing on the supervisor's; such orders
float to the top of the board until looked at; the bell follows the desk's config; urges (催办) by one key."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from pathlib import Path

import pytest

from fengqiao.console.app import FengqiaoApp, desk_context
from fengqiao.models.alerts import bell_rings, check_bell, parse_night
from fengqiao.models.errors import ValidationError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.models.roles import make_desk
from fengqiao.screens.board import BoardScreen
from fengqiao.screens.detail import DetailScreen
from fengqiao.store.attention import scan, unseen
from fengqiao.store.orders import OrderStore

from .conftest import T0
from .test_board_ui import board_numbers, build_scenario, event_kinds, focus, open_board, settle


@pytest.fixture
def scene(tmp_path: Path):
    ns = build_scenario(tmp_path / "board.db")
    yield ns
    ns.db.close()


def desk_app(scene, role: str, *, lang: str | None = None, **kw) -> FengqiaoApp:
    bell = kw.pop("bell", None)
    night = kw.pop("night", None)
    desk = make_desk(scene.ref, f"{role}-desk", role, operator="值班员", **kw)
    ctx = desk_context(scene.db, desk, clock=scene.clock, ref=scene.ref, lang=lang)
    if bell is not None:
        ctx = replace(ctx, bell=bell, night=night or ctx.night)
    app = FengqiaoApp(ctx, watch_store=False)
    app.rang = 0  # type: ignore[attr-defined]

    def bell_() -> None:
        app.rang += 1  # type: ignore[attr-defined]

    app.bell = bell_  # type: ignore[method-assign]
    return app


async def look(pilot) -> None:
    """What the app's once-a-second watcher does: read the store's newest event, scan, announce."""
    pilot.app._check_store()
    await settle(pilot)


def toasts(app) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in app._notifications]


def taker(scene) -> OrderStore:
    return OrderStore(scene.db, ref=scene.ref, desk=make_desk(scene.ref, "110-1", "call_taker"), clock=scene.clock)


async def test_a_new_order_on_a_department_desk_rings_toasts_and_floats_until_opened(scene) -> None:
    app = desk_app(scene, "department", dept="SCJG")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        await look(pilot)  # the starting point: nothing that was there is announced
        assert app.rang == 0 and toasts(app) == []
        before = board_numbers(board)
        assert before[0] == scene.overdue.order_no
        # another desk dispatches (as a sync pull would write it into this store)
        new = taker(scene).dispatch(IntakeForm(phone="13800000009", town="SHH", description="卖假酒"), "B01")
        await look(pilot)
        assert app.rang == 1
        [(title, message)] = toasts(app)
        assert title == "新工单" and new.order_no in message and "消费纠纷" in message
        assert board_numbers(board)[0] == new.order_no  # on top, though its deadline is the latest
        row = board.rows[0]
        assert row.attention == "new" and board.table.get_cell(row.id, "flags").plain.startswith(" 新")
        await look(pilot)  # nothing new since: no second alert
        assert app.rang == 1
        assert board.focused_row().order_no == scene.overdue.order_no  # the cursor stays where it was
        await focus(pilot, board, new.order_no)
        await pilot.press("enter")  # opened: looked at
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert board_numbers(board)[0] == scene.overdue.order_no
        assert new.order_no in board_numbers(board) and board.rows[0].attention is None
        assert unseen(scene.db, app.desk) == {}


async def test_another_departments_order_and_a_signed_one_do_not_alert(scene) -> None:
    app = desk_app(scene, "department", dept="SCJG")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_board(pilot)
        await look(pilot)
        taker(scene).dispatch(IntakeForm(phone="13800000009", town="SHH", description="噪音"), "B04")  # 综治中心
        await look(pilot)
        assert app.rang == 0 and toasts(app) == []


async def test_a_return_alerts_the_call_taker(scene) -> None:
    app = desk_app(scene, "call_taker")
    async with app.run_test(size=(80, 24)) as pilot:
        await look(pilot)
        scjg = OrderStore(
            scene.db, ref=scene.ref, desk=make_desk(scene.ref, "s", "department", dept="SCJG"), clock=scene.clock
        )
        scjg.act(scene.signed.order_no, Intent(Action.RETURN, note="不属于本局"))
        await look(pilot)
        [(title, message)] = toasts(app)
        assert title == "退单待改派" and scene.signed.order_no in message and app.rang == 1
        board = await open_board(pilot)
        assert board_numbers(board)[0] == scene.signed.order_no and board.rows[0].attention == "returned"


async def test_a_deadline_passing_alerts_the_supervisor(scene) -> None:
    app = desk_app(scene, "supervisor")
    async with app.run_test(size=(80, 24)) as pilot:
        await look(pilot)
        scene.clock.advance(minutes=1, seconds=5)  # the near-due order's sign-off passes
        await look(pilot)
        [(title, message)] = toasts(app)
        assert title == "工单超时" and scene.near.order_no in message and "签收超时" in message
        assert app.rang == 1


async def test_bell_day_is_quiet_at_night_but_the_toast_shows(scene) -> None:
    app = desk_app(scene, "department", dept="SCJG", bell="day", night=(time(9, 0), time(10, 0)))  # 09:30 now
    async with app.run_test(size=(80, 24)) as pilot:
        await look(pilot)
        taker(scene).dispatch(IntakeForm(phone="13800000009", town="SHH", description="卖假酒"), "B01")
        await look(pilot)
        assert app.rang == 0 and len(toasts(app)) == 1
    off = desk_app(scene, "department", dept="SCJG", bell="off")
    async with off.run_test(size=(80, 24)) as pilot:
        await look(pilot)
        taker(scene).dispatch(IntakeForm(phone="13800000008", town="SHH", description="卖假烟"), "B01")
        await look(pilot)
        assert off.rang == 0 and len(toasts(off)) == 1


def test_the_bell_rule_and_its_settings() -> None:
    night = parse_night("22:00-07:00")
    day, late = T0, T0.replace(hour=15)  # 09:30 and 23:30 in Shanghai
    assert bell_rings("on", late, night) and not bell_rings("off", day, night)
    assert bell_rings("day", day, night) and not bell_rings("day", late, night)
    assert check_bell(None) == "on" and check_bell("DAY") == "day"
    with pytest.raises(ValidationError, match="bell"):
        check_bell("loud")
    with pytest.raises(ValidationError, match="night"):
        parse_night("late")


def test_a_bad_bell_setting_is_refused_before_the_console_opens(tmp_path: Path, monkeypatch) -> None:
    from .test_cli import fails

    config = tmp_path / "c.toml"
    config.write_text('[desk]\nname = "x"\nbell = "loud"\n', encoding="utf-8")
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    assert "loud" in fails(tmp_path / "x.db", "run")


def test_the_first_scan_only_sets_the_starting_point(scene) -> None:
    desk = make_desk(scene.ref, "市场监管-9", "department", dept="SCJG")
    assert scan(scene.db, desk, scene.ref, scene.clock()).alerts == []
    taker(scene).dispatch(IntakeForm(phone="13800000009", town="SHH", description="卖假酒"), "B01")
    assert [a.reason for a in scan(scene.db, desk, scene.ref, scene.clock()).alerts] == ["new"]
    assert scan(scene.db, desk, scene.ref, scene.clock()).alerts == []


# ---- urges ----------------------------------------------------------------------------------------


async def test_u_urges_the_overdue_assignee_from_the_board(scene) -> None:
    app = desk_app(scene, "call_taker")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        await focus(pilot, board, scene.near.order_no)  # in time: nothing to urge
        await pilot.press("u")
        await settle(pilot)
        assert "urge" not in event_kinds(scene, scene.near.order_no)
        await focus(pilot, board, scene.overdue.order_no)
        await pilot.press("u")  # one key
        await settle(pilot)
        assert event_kinds(scene, scene.overdue.order_no)[-1] == "urge"
        await pilot.press("enter")
        await settle(pilot)
        assert "已催办 1 次" in str(app.screen.query_one("#detail-title").render())


async def test_u_in_the_repeat_call_panel_urges_the_highlighted_order(scene) -> None:
    from fengqiao.screens.repeat_panel import RepeatPanel

    app = desk_app(scene, "call_taker")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        panel = app.screen.query_one(RepeatPanel)
        phone = "13857512345"
        panel.show(app.store.recent_calls(phone), app.store.repeat_for(phone), phone, "", scene.clock())
        rows = [r.order_no for r in panel.rows]
        panel.table.focus()
        panel.table.move_cursor(row=rows.index(scene.overdue.order_no))
        await pilot.press("u")
        await settle(pilot)
        assert event_kinds(scene, scene.overdue.order_no)[-1] == "urge"
        assert any("已催办" in message for _, message in toasts(app))
        panel.table.move_cursor(row=rows.index(scene.repeat.order_no))  # not overdue: refused, said
        await pilot.press("u")
        await settle(pilot)
        assert "urge" not in event_kinds(scene, scene.repeat.order_no)
        assert any("无需催办" in message for _, message in toasts(app))


# ---- snapshots ----------------------------------------------------------------------------------------

SIZES = [((80, 24), "zh"), ((120, 40), "zh"), ((80, 24), "en"), ((120, 40), "en")]
SIZE_IDS = ["80x24-zh", "120x40-zh", "80x24-en", "120x40-en"]


@pytest.mark.parametrize(("size", "lang"), SIZES, ids=SIZE_IDS)
def test_alert_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int], lang: str) -> None:
    scene = build_scenario(tmp_path / "snap.db")
    app = desk_app(scene, "department", dept="SCJG", lang=lang)

    async def run_before(pilot) -> None:
        await open_board(pilot)
        await look(pilot)
        taker(scene).dispatch(IntakeForm(phone="13800000009", town="SHH", description="卖假酒"), "B01")
        await look(pilot)
        assert isinstance(app.screen, BoardScreen)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
    scene.db.close()
