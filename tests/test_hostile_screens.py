"""Hostile caller text on the screens: the order detail (snapshot), the board row, the intake form and its
recent-calls panel show markup, ANSI/OSC escape sequences, emoji and rare CJK literally and keep their columns;
100 KB pasted into a field and a NUL get one clear message, nothing is stored and the form keeps what was typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.widgets import Input, Static, TextArea

from fengqiao.console.app import FengqiaoApp
from fengqiao.models.clock import FixedClock
from fengqiao.models.intake import IntakeForm
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import make_desk
from fengqiao.models.text import glyphs
from fengqiao.screens.detail import DetailScreen
from fengqiao.screens.dispatch_preview import DispatchPreview
from fengqiao.screens.intake import IntakeScreen
from fengqiao.screens.repeat_panel import RepeatPanel
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore
from tests.conftest import T0
from tests.intake_helpers import fill, make_app, paste, send_burst, settle, type_text
from tests.test_board_ui import open_board
from tests.test_hostile import HOSTILE, assert_inert

DESCRIPTION = "\n".join(HOSTILE)
ADDRESS = "[bold]人民路[/bold]\x1b[31m88号\x1b[0m \x1b]8;;http://e.example\x07链接\x1b]8;;\x07 😀𠀀𪚥 \x9b2J"
NAME = "[i]王[/i]\x1b[5m某\x1b]0;标题\x07👨‍👩‍👧𰻞"
PHONE = "13857512345"


def hostile_order(path: Path) -> str:
    db = Database(path)
    store = OrderStore(
        db, desk=make_desk(default_reference(), "110-1", "call_taker", operator="张三"), clock=FixedClock(T0)
    )
    state = store.dispatch(
        IntakeForm(phone=PHONE, town="SHH", description=DESCRIPTION, name=NAME, address=ADDRESS), "B01"
    )
    db.close()
    return state.order_no


def console(path: Path, role: str = "call_taker", **where: str) -> FengqiaoApp:
    desk = make_desk(default_reference(), "110-1", role, operator="张三", **where)
    return FengqiaoApp(db=Database(path), desk=desk, clock=FixedClock(T0), watch_store=False)


def lines(app: FengqiaoApp) -> list[tuple[str, int]]:
    """Every terminal line as (text, cells): what the compositor would write."""
    return [(strip.text, strip.cell_length) for strip in app.screen._compositor.render_strips()]  # noqa: SLF001


def assert_screen_inert_and_aligned(app: FengqiaoApp, width: int) -> str:
    shown = lines(app)
    text = "\n".join(t for t, _ in shown)
    assert_inert(text)  # no ESC, BEL, C1 or bidi control reaches the terminal
    assert {cells for _, cells in shown} == {width}, [(t, c) for t, c in shown if c != width]
    return text


# ---- the order detail: a snapshot (look at the SVG) and the same on screen -------------------------------


def test_detail_snapshot_of_a_hostile_call(snap_compare: Any, tmp_path: Path) -> None:
    path = tmp_path / "evil.db"
    order_no = hostile_order(path)
    app = console(path)

    async def open_detail(pilot: Any) -> None:
        await pilot.app.push_screen(DetailScreen(order_no))
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_detail)
    app.db.close()


async def test_detail_shows_the_hostile_call_literally(tmp_path: Path) -> None:
    path = tmp_path / "evil.db"
    order_no = hostile_order(path)
    app = console(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(DetailScreen(order_no))
        await settle(pilot)
        call = str(app.screen.query_one("#detail-call", Static).render())
        assert "[bold red]紧急[/bold red]" in call and "␛[2J" in call and "[link=https://evil.example]" in call
        assert "[i]王[/i]␛[5m某␛]0;标题\\x07" in call and "[bold]人民路[/bold]␛[31m88号" in call
        assert "😀𠀀𪚥" in call and "👨‍👩‍👧𰻞" in call and PHONE in call
        assert "[bold red]紧急" in assert_screen_inert_and_aligned(app, 80)
    app.db.close()


async def test_detail_masks_for_a_supervisor_with_the_one_rule(tmp_path: Path) -> None:
    path = tmp_path / "evil.db"
    order_no = hostile_order(path)
    app = console(path, "supervisor")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(DetailScreen(order_no))
        await settle(pilot)
        call = str(app.screen.query_one("#detail-call", Static).render())
        assert "138****2345" in call and PHONE not in call
    app.db.close()


# ---- the board row -------------------------------------------------------------------------------------


async def test_board_row_shows_hostile_text_literally_and_aligned(tmp_path: Path) -> None:
    path = tmp_path / "evil.db"
    hostile_order(path)
    db = Database(path)
    store = OrderStore(db, desk=make_desk(default_reference(), "110-1", "call_taker"), clock=FixedClock(T0))
    store.dispatch(
        IntakeForm(phone="13800000001", town="SHH", description="😀👨‍👩‍👧𠀀𪚥𰻞 普通的一行", address="普通地址"), "B01"
    )
    db.close()
    app = console(path, "department", dept="SCJG")
    async with app.run_test(size=(160, 30)) as pilot:  # from 110 columns the board shows address and words
        await open_board(pilot)
        text = assert_screen_inert_and_aligned(app, 160)
        assert "[bold]人民路[/bold]␛[31m88号␛[0m ␛]8;;http://e.exa" in text
        assert "普通地址 · 😀👨‍👩‍👧𠀀𪚥𰻞 普通的一行" in text
        rows = [t for t, _ in lines(app) if "人民路" in t or "普通地址" in t]
        assert len(rows) == 2
        # Both rows put the address at the same cell (the emoji and rare CJK do not push the columns).
        assert len({cell_len(r[: r.index("[bold]人民路" if "人民路" in r else "普通地址")]) for r in rows}) == 1
    app.db.close()


# ---- the intake form and its recent-calls panel --------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_recent_calls_panel_shows_emoji_rare_cjk_and_escapes_literally(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    path = tmp_path / "evil.db"
    db = Database(path)
    store = OrderStore(db, desk=make_desk(default_reference(), "110-1", "call_taker"), clock=FixedClock(T0))
    for text in ("😀🇨🇳👨‍👩‍👧❤️ 𠀀𪚥𰻞面 又来了", "\x1b[2J\x1b]0;标题\x07[blink]清屏[/blink]\x9b31m", "普通来电"):
        store.dispatch(IntakeForm(phone=PHONE, town="LS", description=text, address="鹿山街道"), "B02")
    app = make_app(db, default_reference(), FixedClock(T0))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await type_text(pilot, PHONE)
        await settle(pilot)
        panel = app.screen.query_one(RepeatPanel)
        assert len(panel.rows) == 3
        text = assert_screen_inert_and_aligned(app, size[0])
        wide = size[0] >= 110
        assert ("😀🇨🇳👨‍👩‍👧❤️ 𠀀𪚥𰻞面" if wide else "😀🇨🇳👨‍👩‍👧❤️ 𠀀") in text
        assert ("␛[2J␛]0;标题\\x07[blink]清屏[/blink]" if wide else "␛[2J␛]0;标") in text
        rows = [t for t, _ in lines(app) if "同号" in t]
        assert len(rows) == 3
        for column in ("SZ-" if wide else "1128-", "B02", "待签收"):  # the columns line up whatever the text holds
            assert len({cell_len(r[: r.index(column)]) for r in rows}) == 1, rows
    db.close()


async def test_control_characters_in_the_form_are_drawn_as_symbols(db, ref, clock) -> None:
    """Textual's own fields write their value raw (only BEL, BS, VT, FF and CR are dropped); ours draw ESC, C1
    and bidi controls as symbols. (A terminal paste reaches a field with bidi controls and DEL; ESC only from
    a program: a screen-pop, a default value. The form and the store keep them exactly.)"""
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(
            pilot,
            PHONE,
            "cl",
            "[b]路\x1b[31m红\x1b]0;标题\x07\x9b2J",
            "描述[red]x\x1b[2J\x1b]8;;http://e\x07链\u202e反",
        )
        text = assert_screen_inert_and_aligned(app, 80)
        assert "[b]路␛[31m红␛]0;标题␇�2J" in text and "描述[red]x␛[2J␛]8;;http://e␇链�反" in text
        assert app.screen.query_one("#address", Input).value == "[b]路\x1b[31m红\x1b]0;标题\x07\x9b2J"  # as pasted
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
    with db.read() as conn:
        stored = conn.exec_driver_sql("SELECT address, description FROM calls").one()
    assert tuple(stored) == ("[b]路\x1b[31m红\x1b]0;标题\x07\x9b2J", "描述[red]x\x1b[2J\x1b]8;;http://e\x07链\u202e反")


def message(app: FengqiaoApp) -> str:
    return str(app.screen.query_one("#msg", Static).render())


def nothing_stored(db: Database) -> None:
    with db.read() as conn:
        for table in ("orders", "calls", "events"):
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 0, table


@pytest.mark.parametrize(
    ("field", "label", "limit"), [("description", "警情描述", 4000), ("address", "地址", 200), ("name", "来电人", 50)]
)
async def test_100_kb_pasted_into_a_field(db, ref, clock, field: str, label: str, limit: int) -> None:
    app = make_app(db, ref, clock)
    pasted = ("粘贴" * 50 + "\x1b[31m") * 1000
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, PHONE, "cl", "长乐镇沿江路18号", "我在店里买到假货，老板不肯退款")
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        screen.query_one(f"#{field}").focus()
        await pilot.pause()
        await paste(pilot, pasted)
        await settle(pilot)
        said = message(app)
        assert said == f"粘贴的内容有 {len(pasted)} 字，「{label}」最多 {limit} 字：没有粘贴，已填的内容保留"
        assert screen.query_one("#address", Input).value == "长乐镇沿江路18号"
        assert screen.query_one("#name", Input).value == ""
        assert screen.query_one(TextArea).text == "我在店里买到假货，老板不肯退款"
        assert screen.query_one("#phone", Input).value == PHONE
        nothing_stored(db)
        assert_screen_inert_and_aligned(app, 80)
        # The form is intact: the call goes out as typed.
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, DispatchPreview)
        await pilot.press("enter")
        await settle(pilot)
    with db.read() as conn:
        assert tuple(conn.exec_driver_sql("SELECT address, description FROM calls").one()) == (
            "长乐镇沿江路18号",
            "我在店里买到假货，老板不肯退款",
        )


async def test_a_typed_description_over_the_limit_is_refused_on_sending(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, PHONE, "cl", "长乐镇沿江路18号", "假" * 3990)
        app.screen.query_one(TextArea).insert("货" * 20)  # typed on, past the limit (no paste involved)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, IntakeScreen)
        assert message(app) == "「警情描述」太长：4010 字，上限 4000 字"
        assert app.focused is app.screen.query_one(TextArea) and len(app.screen.query_one(TextArea).text) == 4010
        nothing_stored(db)


@pytest.mark.parametrize(("field", "label"), [("address", "地址"), ("name", "来电人"), ("description", "警情描述")])
async def test_nul_in_a_field(db, ref, clock, field: str, label: str) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, PHONE, "cl", "长乐镇沿江路18号", "买到假货")
        widget = app.screen.query_one(f"#{field}")
        widget.focus()
        if isinstance(widget, TextArea):
            widget.move_cursor(widget.document.end)
        else:
            widget.cursor_position = len(widget.value)
        await paste(pilot, "前\x00后")
        await settle(pilot)
        assert "前␀后" in assert_screen_inert_and_aligned(app, 80)  # the NUL is visible where it is
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, IntakeScreen)
        assert message(app) == f"「{label}」含有空字符（NUL），已拒绝"
        assert app.focused is widget and "前\x00后" in (widget.text if isinstance(widget, TextArea) else widget.value)
        assert app.screen.query_one("#phone", Input).value == PHONE
        nothing_stored(db)


def test_glyphs_keep_one_character_per_character() -> None:
    for text in [*HOSTILE, "a\tb\x00c\x7fd\ud800e\u2028"]:
        shown = glyphs(text)
        assert len(shown) == len(text)
        assert_inert(shown)
    assert glyphs("\x1b[31m\x00\t\x9b") == "␛[31m␀␉\ufffd" and glyphs("a\tb", keep_tab=True) == "a\tb"


async def test_a_burst_of_keys_lands_in_the_right_fields(db, ref, clock) -> None:
    """Keys arriving faster than the fields take them (a script, a key-wedge reader, tmux send-keys): each Enter
    waits for the field to take the keys typed before it, and the keys after it go to the next field."""
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        send_burst(app, "13857512345\nhz\n前岩村\n有人倒垃圾")
        await settle(pilot)
        screen = app.screen
        assert [screen.query_one(f"#{f}", Input).value for f in ("phone", "town", "address")] == [
            PHONE,
            "黄泽镇",
            "前岩村",
        ]
        assert screen.query_one(TextArea).text == "有人倒垃圾" and app.focused is screen.query_one(TextArea)


async def test_a_burst_with_tabs_lands_in_the_right_fields(db, ref, clock) -> None:
    """The same burst moving on with Tab (through the optional name) and back with Shift+Tab: each waits for the
    field to take the keys before it, so no key lands in the field being left."""
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        send_burst(app, "13857512345\t李先生\thz\t前岩村\t有人倒垃圾\b3号")
        await settle(pilot)
        screen = app.screen
        assert [screen.query_one(f"#{f}", Input).value for f in ("phone", "name", "town", "address")] == [
            PHONE,
            "李先生",
            "黄泽镇",
            "前岩村3号",
        ]
        assert screen.query_one(TextArea).text == "有人倒垃圾"
        assert app.focused is screen.query_one("#address", Input)
