"""Operators and shifts: sign-in (name, staff number, a PIN where the desk asks: only a salted hash stored),
every event carrying the operator, the handover screen (open orders, promises, notes) and its acknowledgement,
both in the hash-chained access log."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fengqiao.console.app import FengqiaoApp, desk_context
from fengqiao.models.errors import FengqiaoError, PermissionDenied, ValidationError
from fengqiao.models.machine import Action, Intent
from fengqiao.models.roles import make_desk
from fengqiao.screens.shift import HandoverScreen, SignInScreen
from fengqiao.store.audit import access_log, verify
from fengqiao.store.orders import OrderStore
from fengqiao.store.shifts import hand_over, on_shift, pending_handover, promises, shift_start, sign_in

from .test_board_ui import build_scenario, focus, open_board, settle


@pytest.fixture
def scene(tmp_path: Path):
    ns = build_scenario(tmp_path / "board.db")
    yield ns
    ns.db.close()


def shift_app(scene, *, pin: bool = False, lang: str | None = None) -> FengqiaoApp:
    desk = make_desk(scene.ref, "110-1", "call_taker", operator="配置里的名字")
    ctx = desk_context(scene.db, desk, clock=scene.clock, ref=scene.ref, lang=lang, sign_in=True)
    return FengqiaoApp(replace(ctx, pin_required=pin), watch_store=False)


async def sign(pilot, name: str, staff: str, pin: str | None = None) -> None:
    await pilot.press(*name, "enter", *staff, "enter")
    if pin is not None:
        await pilot.press(*pin, "enter")
    await settle(pilot)


def actors(scene, order_no: str) -> list[tuple[str, str]]:
    with scene.db.read() as conn:
        return [
            (r[0], r[1])
            for r in conn.exec_driver_sql(
                "SELECT e.kind, e.actor FROM events e JOIN orders o ON o.id = e.order_id WHERE o.order_no = ? "
                "ORDER BY e.seq",
                (order_no,),
            )
        ]


async def test_sign_in_first_then_every_event_carries_the_operator(scene) -> None:
    app = shift_app(scene, pin=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SignInScreen)
        await pilot.press("f6")  # nothing works before someone signs in
        await settle(pilot)
        assert isinstance(app.screen, SignInScreen)
        await sign(pilot, "张三", "1024", "12")  # a PIN is 4-12 digits
        assert isinstance(app.screen, SignInScreen)
        assert "4–12" in str(app.screen.query_one("#shift-error").render())
        await pilot.press(*"123456", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, SignInScreen)
        assert app.desk.actor == "张三(1024)" and app.store.desk.actor == "张三(1024)"
        board = await open_board(pilot)
        assert "张三(1024)" in str(board.query_one("#deskbar #desk").render())
        await focus(pilot, board, scene.near.order_no)
        await pilot.press("n", *"已回电", "enter", "enter")
        await settle(pilot)
    assert actors(scene, scene.near.order_no)[-1] == ("note", "张三(1024)")  # not the config's free text
    with scene.db.read() as conn:
        salt, digest = conn.exec_driver_sql("SELECT pin_salt, pin_hash FROM operators WHERE staff_no = '1024'").one()
    assert salt and digest and "123456" not in digest and len(digest) == 64
    log = [(r.action, r.actor) for r in reversed(access_log(scene.db))]
    assert log == [("enrol", "张三(1024)"), ("sign_in", "张三(1024)")]


def test_a_known_staff_number_needs_its_name_and_pin(scene) -> None:
    desk = make_desk(scene.ref, "110-1", "call_taker")
    sign_in(scene.db, desk, "张三", "1024", "1234", pin_required=True, clock=scene.clock)
    with pytest.raises(PermissionDenied, match="密码"):
        sign_in(scene.db, desk, "张三", "1024", "9999", pin_required=True, clock=scene.clock)
    with pytest.raises(PermissionDenied, match="姓名"):
        sign_in(scene.db, desk, "王五", "1024", "1234", pin_required=True, clock=scene.clock)
    with pytest.raises(ValidationError, match="密码"):
        sign_in(scene.db, desk, "张三", "1024", None, pin_required=True, clock=scene.clock)
    with pytest.raises(ValidationError, match="工号"):
        sign_in(scene.db, desk, "张三", "10 24", None, clock=scene.clock)
    with pytest.raises(FengqiaoError):
        sign_in(scene.db, desk, "张\x1b三", "1025", None, clock=scene.clock)
    op, acting = sign_in(scene.db, desk, "张三", "1024", "1234", pin_required=True, clock=scene.clock)
    assert acting.actor == op.actor == "张三(1024)"


async def test_handover_lists_open_work_and_promises_and_the_next_operator_acknowledges(scene) -> None:
    app = shift_app(scene)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await sign(pilot, "张三", "1024")
        board = await open_board(pilot)
        await focus(pilot, board, scene.near.order_no)
        await pilot.press("n", *"答应下午回电[b]", "enter", "down", "enter")  # for the caller
        await settle(pilot)
        await pilot.press("f12")
        await settle(pilot)
        give = app.screen
        assert isinstance(give, HandoverScreen) and give.mode == "give"
        assert give.total == 6 and scene.overdue.order_no in [r.order_no for r in give.rows]
        assert [(p.order_no, p.text) for p in give.promised] == [(scene.near.order_no, "答应下午回电[b]")]
        assert "答应下午回电[b]" in str(give.query_one("#shift-promised").render())
        await pilot.press("escape")  # not yet: the shift goes on
        await settle(pilot)
        assert app.desk.actor == "张三(1024)" and pending_handover(scene.db, app.desk) is None
        await pilot.press("f12")
        await settle(pilot)
        await pilot.press(*"0004 下午三点前回电", "enter")
        await settle(pilot)
        assert isinstance(app.screen, SignInScreen)  # the next operator signs in
        assert on_shift(scene.db, app.desk) is None
        await sign(pilot, "李四", "2048")
        take = app.screen
        assert isinstance(take, HandoverScreen) and take.mode == "take"
        shown = str(take.query_one(".shift-sub").render())
        assert "张三(1024)" in shown and "李四(2048)" in shown
        assert take.handover is not None and take.handover.notes == "0004 下午三点前回电"
        await pilot.press("escape")  # the incoming operator must acknowledge
        await settle(pilot)
        assert app.screen is take
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, HandoverScreen)
        assert app.desk.actor == "李四(2048)"
    log = list(reversed(access_log(scene.db)))
    assert [(r.action, r.actor) for r in log] == [
        ("enrol", "张三(1024)"),
        ("sign_in", "张三(1024)"),
        ("handover", "张三(1024)"),
        ("enrol", "李四(2048)"),
        ("sign_in", "李四(2048)"),
        ("handover_ack", "李四(2048)"),
    ]
    handover, ack = json.loads(log[2].detail), json.loads(log[5].detail)
    assert handover["open_count"] == 6 and handover["promised"] == [
        {"order_no": scene.near.order_no, "text": "答应下午回电[b]"}
    ]
    assert ack == {"handover": log[2].id, "from": "张三(1024)"}
    assert pending_handover(scene.db, make_desk(scene.ref, "110-1", "call_taker")) is None
    report = verify(scene.db, clock=scene.clock)
    assert report.ok and any(c.log == "access" and c.desk == "110-1" and c.held == 6 for c in report.chains)


def test_the_command_line_acts_as_the_operator_on_shift(scene, tmp_path: Path, monkeypatch) -> None:
    from .test_cli import ok

    config = tmp_path / "c.toml"
    config.write_text('[desk]\nname = "110-1"\nrole = "call_taker"\noperator = "配置名"\n', encoding="utf-8")
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    ok(scene.path, "note", scene.near.order_no, "无人值班时")
    sign_in(scene.db, make_desk(scene.ref, "110-1", "call_taker"), "张三", "1024", clock=scene.clock)
    ok(scene.path, "note", scene.near.order_no, "值班时")
    assert [a for k, a in actors(scene, scene.near.order_no) if k == "note"] == ["配置名", "张三(1024)"]


def test_promises_are_the_shifts_notes_for_callers(scene) -> None:
    desk = make_desk(scene.ref, "110-1", "call_taker")
    _op, acting = sign_in(scene.db, desk, "张三", "1024", clock=scene.clock)
    store = OrderStore(scene.db, ref=scene.ref, desk=acting, clock=scene.clock)
    store.act(scene.near.order_no, Intent(Action.NOTE, note="内部", visibility="internal"))
    store.act(scene.near.order_no, Intent(Action.NOTE, note="会回电", visibility="caller"))
    assert [p.text for p in promises(scene.db, acting.actor, shift_start(scene.db, acting))] == ["会回电"]
    hand_over(scene.db, acting, notes="x", open_orders=[], open_count=0, promised=[], clock=scene.clock)
    assert pending_handover(scene.db, desk) is not None and on_shift(scene.db, desk) is None


SIZES = [((80, 24), "zh"), ((120, 40), "zh"), ((80, 24), "en"), ((120, 40), "en")]
SIZE_IDS = ["80x24-zh", "120x40-zh", "80x24-en", "120x40-en"]


@pytest.mark.parametrize(("size", "lang"), SIZES, ids=SIZE_IDS)
def test_handover_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int], lang: str) -> None:
    scene = build_scenario(tmp_path / "snap.db")
    desk = make_desk(scene.ref, "110-1", "call_taker")
    _op, acting = sign_in(scene.db, desk, "张三", "1024", clock=scene.clock)
    store = OrderStore(scene.db, ref=scene.ref, desk=acting, clock=scene.clock)
    store.act(scene.near.order_no, Intent(Action.NOTE, note="答应下午回电", visibility="caller"))
    given = promises(scene.db, acting.actor, shift_start(scene.db, acting))
    hand_over(
        scene.db, acting, notes="0004 下午三点前回电", open_orders=[], open_count=6, promised=given, clock=scene.clock
    )
    app = shift_app(scene, lang=lang)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await sign(pilot, "李四", "2048")
        assert isinstance(app.screen, HandoverScreen)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
    scene.db.close()


async def test_a_burst_with_a_tab_fills_the_sign_in_field_by_field(scene) -> None:
    """Name, Tab, staff number arriving faster than the fields take them (tmux send-keys, a script, an IME
    committing the name): the Tab waits for the name field to take its keys, so the number goes to its own field."""
    from textual.widgets import Input

    from .intake_helpers import send_burst

    app = shift_app(scene)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SignInScreen)
        send_burst(app, "张三\t1024")
        await settle(pilot)
        screen = app.screen
        assert [screen.query_one(f"#shift-{f}", Input).value for f in ("name", "staff")] == ["张三", "1024"]
        assert app.focused is screen.query_one("#shift-staff", Input)
