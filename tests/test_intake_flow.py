"""Whole intake flows through Pilot: single, dual, override with reason, repeat link, validation errors.

Each test types a call the way a call-taker would and then checks the rows in the store.
"""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from textual.widgets import Input, OptionList, TextArea

from fengqiao.screens.dispatch_preview import DispatchPreview
from fengqiao.screens.intake import IntakeScreen
from fengqiao.screens.repeat_panel import RepeatPanel
from fengqiao.screens.tag_picker import TagPicker
from fengqiao.store.orders import OrderStore

from .intake_helpers import earlier_call, fill, make_app, paste, settle, type_text


def rows(db, sql: str, *params):  # noqa: ANN001, ANN201
    with db.read() as conn:
        return conn.exec_driver_sql(sql, params).all()


def after_earlier_call(db, ref, clock, *, hours: float):  # noqa: ANN001, ANN201
    """An order from 13857512345 ``hours`` ago, and a console opened now."""
    first = earlier_call(OrderStore(db, ref=ref, clock=clock))
    clock.advance(hours=hours)
    return first, make_app(db, ref, clock)


async def test_single_dispatch_with_the_first_suggestion(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "138 5751 2345", "cl", "长乐镇沿江路18号", "我在店里买到假货，老板不肯退款", typed=True)
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        assert screen.suggestions[0].code == "B01"
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, DispatchPreview)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, IntakeScreen)
        # The form is clear and the cursor is back on the phone for the next call.
        assert app.screen.query_one("#phone", Input).value == ""
        assert app.screen.query_one(TextArea).text == ""
        assert app.focused is app.screen.query_one("#phone")
        assert any("SZ-20261128-0001" in n.title for n in app._notifications)  # noqa: SLF001 - the toast
    (order,) = rows(
        db,
        "SELECT order_no, tag, town, mode, primary_assignee, police_assignee, status, phone, "
        "override_dept, repeat_of, call_id FROM orders",
    )
    assert tuple(order[:10]) == (
        "SZ-20261128-0001",
        "B01",
        "CL",
        "single",
        "SCJG",
        None,
        "dispatched",
        "13857512345",
        None,
        None,
    )
    (call,) = rows(db, "SELECT phone, town, address, description, order_id IS NOT NULL, linked FROM calls")
    assert tuple(call) == ("13857512345", "CL", "长乐镇沿江路18号", "我在店里买到假货，老板不肯退款", 1, 0)
    assert [r[0] for r in rows(db, "SELECT kind FROM events")] == ["dispatch"]
    assert [r[0] for r in rows(db, "SELECT assignee FROM assignments ORDER BY seq")] == ["SCJG"]


async def test_dual_dispatch_by_default_and_by_toggle(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        # A03 is a dual tag; 黄泽镇 is the one-team pilot: the town's centre plus its police station.
        await fill(pilot, "13857512345", "hz", "前岩村", "有人往河边倒建筑垃圾，已经堆了好几车了")
        await pilot.press("f2", "enter")
        await settle(pilot)
        # B01 is single by default; "m" in the preview makes it dual.
        await fill(pilot, "0575-83012345", "sanjie", "", "在超市买的东西是假货，商家不给退货")
        await pilot.press("f2")
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        assert app.screen.mode == "dual"
        await pilot.press("enter")
        await settle(pilot)
    got = rows(
        db,
        "SELECT order_no, tag, town, mode, primary_assignee, police_assignee, one_team FROM orders ORDER BY order_no",
    )
    assert [tuple(r) for r in got] == [
        ("SZ-20261128-0001", "A03", "HZ", "dual", "ZZ-HZ", "GA-HZ", 1),
        ("SZ-20261128-0002", "B01", "SJJ", "dual", "SCJG", "GA-SJJ", 0),
    ]
    assert len(rows(db, "SELECT 1 FROM assignments")) == 4
    assert rows(db, "SELECT phone FROM calls WHERE town = 'SJJ'")[0][0] == "0575-83012345"


async def test_override_needs_a_reason_and_stores_it(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "cl", "", "在店里买到假货，老板不肯退款")
        await pilot.press("f2")
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
        await type_text(pilot, "zz")
        await pilot.press("enter")  # choose 镇街综治中心
        await pilot.pause()
        assert app.screen.override_dept == "ZZ"
        await pilot.press("enter")  # no reason yet: refused, nothing written
        await pilot.pause()
        assert isinstance(app.screen, DispatchPreview)
        assert "理由" in str(app.screen.query_one("#preview-msg").render())
        assert rows(db, "SELECT count(*) FROM orders")[0][0] == 0
        await type_text(pilot, "商家在本镇，先由综治中心调解")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, IntakeScreen)
    (order,) = rows(db, "SELECT primary_assignee, override_dept, override_reason, mode FROM orders")
    assert tuple(order) == ("ZZ-CL", "ZZ-CL", "商家在本镇，先由综治中心调解", "single")


async def test_escape_from_override_keeps_the_routed_department(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "cl", "", "在店里买到假货，老板不肯退款")
        await pilot.press("f2", "o")
        await type_text(pilot, "scjg")
        await pilot.press("escape")  # leave the override
        await pilot.pause()
        assert app.screen.override_dept is None
        await pilot.press("escape")  # back to the form: nothing lost
        await pilot.pause()
        assert isinstance(app.screen, IntakeScreen)
        assert app.screen.query_one(TextArea).text == "在店里买到假货，老板不肯退款"
        assert app.screen.tag_code == "B01"
        await pilot.press("f9", "enter")  # F9 reopens the preview for the chosen tag
        await settle(pilot)
    assert rows(db, "SELECT primary_assignee, override_dept FROM orders")[0] == ("SCJG", None)


async def test_repeat_call_is_marked_and_linked_to_the_open_order(db, ref, clock) -> None:
    first, app = after_earlier_call(db, ref, clock, hours=5)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "ls", "鹿山街道金桂苑3幢", "又打电话了，门禁还是进不去，物业没人管")
        panel = app.screen.query_one(RepeatPanel)
        assert panel.repeat is not None and panel.repeat.order_no == first.order_no
        assert panel.target().order_no == first.order_no
        assert "⚠" in str(panel.query_one("#recent-title").render())
        await pilot.press("f10")
        await settle(pilot)
        assert app.screen.query_one("#phone", Input).value == ""
    assert rows(db, "SELECT count(*) FROM orders")[0][0] == 1  # no duplicate order
    linked = rows(db, "SELECT order_id, linked, repeat_of, description FROM calls ORDER BY received_at")
    assert [tuple(r) for r in linked][1] == (first.id, 1, first.id, "又打电话了，门禁还是进不去，物业没人管")
    assert rows(db, "SELECT linked_calls FROM orders")[0][0] == 1
    assert [r[0] for r in rows(db, "SELECT kind FROM events ORDER BY seq")] == ["dispatch", "link"]


async def test_a_new_order_from_a_repeat_caller_records_the_repeat(db, ref, clock) -> None:
    first, app = after_earlier_call(db, ref, clock, hours=30)
    async with app.run_test(size=(120, 40)) as pilot:
        await fill(pilot, "13857512345", "ls", "", "楼上漏水到我家天花板，跟他说了也不管")
        assert app.screen.query_one(RepeatPanel).repeat is not None
        await pilot.press("f2")
        await pilot.pause()
        assert "72" in app.screen.summary and first.order_no in app.screen.summary
        await pilot.press("enter")
        await settle(pilot)
    got = rows(db, "SELECT tag, repeat_of FROM orders WHERE order_no != ?", first.order_no)
    assert tuple(got[0]) == ("B04", first.id)


async def test_validation_errors_say_what_is_wrong_and_store_nothing(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await type_text(pilot, "1385751234")
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is screen.query_one("#phone")  # stays on the bad field
        assert "11 位" in str(screen.query_one("#msg").render())
        await pilot.press("5")
        await pilot.press("enter")
        await type_text(pilot, "qq")  # no town matches
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is screen.query_one("#town")
        assert "qq" in str(screen.query_one("#msg").render())
        await pilot.press("backspace", "backspace", "c", "l", "enter", "enter")
        # No description yet: F8, choose B01, and the form says the description is missing.
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, TagPicker)
        await type_text(pilot, "B01")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, IntakeScreen)
        assert app.focused is screen.query_one("#description")
        assert "警情描述" in str(screen.query_one("#msg").render())
        # F10 with no earlier order: nothing to link.
        await pilot.press("f10")
        await pilot.pause()
        assert "没有可关联" in str(screen.query_one("#msg").render())
        # Everything typed is still there.
        assert screen.query_one("#phone", Input).value == "13857512345"
        assert screen.query_one("#town", Input).value == "长乐镇"
        assert screen.tag_code == "B01"
    assert rows(db, "SELECT count(*) FROM orders")[0][0] == 0
    assert rows(db, "SELECT count(*) FROM calls")[0][0] == 0


async def test_landline_without_area_code_and_the_tag_picker(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "83012345", "黄泽", "", "小区里有人私搭乱建")
        await pilot.press("f8")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, TagPicker)
        await type_text(pilot, "xfjf")
        await pilot.pause()
        options = picker.query_one("#tag-results", OptionList)
        assert options.get_option_at_index(0).id == "B01"
        await pilot.press("ctrl+u")  # empty filter: browse the categories
        await pilot.pause()
        await pilot.press("down", "enter", "down", "enter")  # A 行政服务类 → first tag A01
        await pilot.pause()
        assert isinstance(app.screen, DispatchPreview)
        assert app.screen.tag == "A01"
        await pilot.press("enter")
        await settle(pilot)
    assert tuple(rows(db, "SELECT phone, town, tag FROM orders")[0]) == ("0575-83012345", "HZ", "A01")


async def test_screen_pop_fills_the_phone(db, ref, clock) -> None:
    store = OrderStore(db, ref=ref, clock=clock)
    earlier_call(store, phone="0575-83012345")
    app = make_app(db, ref, clock, caller="0575-83012345")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#phone", Input).value == "0575-83012345"
        assert app.focused is screen.query_one("#town")
        assert screen.query_one(RepeatPanel).rows  # the caller's history is already listed


async def test_screen_pop_from_the_command_palette(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f6")  # on another screen when the phone rings
        await pilot.press("ctrl+p")
        await pilot.pause()
        await type_text(pilot, "13857512345")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, IntakeScreen)
        assert app.screen.query_one("#phone", Input).value == "13857512345"


async def test_the_palettes_search_hints_are_in_the_desks_language(db, ref, clock) -> None:
    from textual.command import CommandInput

    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.query_one(CommandInput).placeholder == "搜索命令…"  # Textual's own is English
        await pilot.press("escape")
        await pilot.pause()
        app.search_themes()  # the palette's 主题 entry
        await pilot.pause()
        assert app.screen.query_one(CommandInput).placeholder == "搜索配色…"


async def test_alt_backspace_deletes_the_word_on_the_left_as_in_a_shell(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_text(pilot, "13857512345 87")
        await pilot.press("alt+backspace")  # Textual's Input would delete the word on the right: nothing here
        phone = app.screen.query_one("#phone", Input)
        assert phone.value == "13857512345 "
        await pilot.press("home", "alt+d")
        assert phone.value == ""


async def test_screen_pop_never_overwrites_a_call_being_taken(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "cl", "", "买到假货")
        app.screen.pop_caller("13900000000")
        await pilot.pause()
        assert app.screen.query_one("#phone", Input).value == "13857512345"


async def test_caller_text_is_shown_literally(db, ref, clock) -> None:
    store = OrderStore(db, ref=ref, clock=clock)
    earlier_call(store, text="[red]假[/red]货\x1b[2J 退款")
    clock.advance(minutes=30)
    app = make_app(db, ref, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await fill(pilot, "13857512345", "ls", "[bold]金桂苑[/bold]", "[red]又[/red]买到假货")
        await paste(pilot, "\x1b[31m")  # an escape can only be pasted
        await settle(pilot)
        table = app.screen.query_one(RepeatPanel).table
        cell = table.get_cell_at((0, 5))
        assert isinstance(cell, Text) and "[red]假[/red]货␛[2J" in cell.plain
        await pilot.press("f2")
        await pilot.pause()
        body = app.screen.summary
        assert "[bold]金桂苑[/bold]" in body and "[red]又[/red]买到假货␛[31m" in body


async def test_ctrl_n_asks_before_clearing_a_filled_form(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "cl", "", "买到假货")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.query_one("#phone", Input).value == "13857512345"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.query_one("#phone", Input).value == ""


async def test_the_desk_learns_from_its_own_choice(db, ref, clock) -> None:
    """A new kind of wording: the desk files e-bikes charged from a cable out of a window under C02."""
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "shh", "", "有人从五楼窗户吊了个插排下来给电瓶车充电")
        screen = app.screen
        assert "C02" not in [s.code for s in screen.suggestions]
        await pilot.press("f8")
        await type_text(pilot, "C02")
        await pilot.press("enter", "enter")
        await settle(pilot)
        await fill(pilot, "13900001111", "shh", "", "三楼窗口又吊插排给电瓶车充电")
        assert screen.suggestions[0].code == "C02"
    clock.advance(minutes=1)
    # A new session reads the desk's history from the store.
    app2 = make_app(db, ref, clock)
    async with app2.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13900002222", "shh", "", "隔壁楼窗户吊插排下来给电瓶车充电")
        assert app2.screen.suggestions[0].code == "C02"


async def test_english_screen(db, ref, clock) -> None:
    app = make_app(db, ref, clock, lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "huangze", "", "有人往河边倒建筑垃圾")
        await pilot.press("f2")
        await pilot.pause()
        assert "Huangze Town Governance Centre" in app.screen.summary
        descriptions = {b.description for _, b, _, _ in app.screen.active_bindings.values()}
        assert "Dispatch" in descriptions


async def test_a_store_error_loses_nothing(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "cl", "", "买到假货，商家不退款")
        clock.set(clock.now - timedelta(days=1))  # harmless; then break the store
        from fengqiao.models.errors import StoreError

        def broken(*a, **k):  # noqa: ANN002, ANN003, ANN202
            raise StoreError("数据库被占用")

        app.store.dispatch = broken  # type: ignore[method-assign]
        await pilot.press("f2", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        assert "数据库被占用" in str(screen.query_one("#msg").render())
        assert screen.query_one(TextArea).text == "买到假货，商家不退款"
        assert not screen.busy


async def test_recent_calls_follow_the_store(db, ref, clock) -> None:
    """When another desk signs the earlier order, the list shows its new state (on the app's StoreChanged)."""
    from fengqiao.console.app import StoreChanged
    from fengqiao.models.machine import Action, Intent

    first, app = after_earlier_call(db, ref, clock, hours=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "ls", "", "还是没人来")
        panel = app.screen.query_one(RepeatPanel)
        assert panel.rows[0].status == "dispatched"
        other_desk = OrderStore(db, ref=ref, clock=clock)
        other_desk.act(first.order_no, Intent(Action.SIGN))
        other_desk.act(first.order_no, Intent(Action.SIGN, assignee="GA"))  # B02 is dual: both sign
        app.screen.post_message(StoreChanged(2))
        await settle(pilot)
        assert panel.rows[0].status == "signed"


async def test_a_township_centre_starts_in_its_own_town(db, ref, clock) -> None:
    """黄泽镇's centre: the town is filled in, Enter after the phone goes to the address, another town is refused
    at the field (the store would refuse the dispatch too), and a new call starts in 黄泽镇 again."""
    from fengqiao.console.app import FengqiaoApp
    from fengqiao.models.roles import make_desk
    from fengqiao.screens.town_field import TownField

    desk = make_desk(ref, "黄泽镇综治中心", "township", town="HZ")
    app = FengqiaoApp(db=db, desk=desk, clock=clock, ref=ref, watch_store=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        town = screen.query_one(TownField)
        assert (town.code, town.value) == ("HZ", "黄泽镇")
        await type_text(pilot, "13857512345")
        await pilot.press("enter")
        assert app.focused is screen.query_one("#address", Input)
        town.focus()
        town.value = ""
        await type_text(pilot, "shh")
        await pilot.press("enter")
        assert app.focused is town and "不能在剡湖街道（SHH）派单" in str(screen.query_one("#msg").render())
        town.value = ""
        await type_text(pilot, "hz")
        await pilot.press("enter")
        await paste(pilot, "前岩村5号")
        await pilot.press("enter")
        await paste(pilot, "楼上酒吧天天半夜放音乐")
        await settle(pilot)
        await pilot.press("f2", "f9")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert rows(db, "SELECT town, primary_assignee FROM orders") == [("HZ", "ZZ-HZ")]
        assert (town.code, screen.query_one("#phone", Input).value) == ("HZ", "")


async def test_f10_links_with_the_phone_alone_and_the_words_reach_the_timeline(db, ref, clock) -> None:
    """A repeat caller: the phone, then the new words, F10. Town and address are the linked order's."""
    first, app = after_earlier_call(db, ref, clock, hours=5)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_text(pilot, "13857512345")
        await settle(pilot)
        screen = app.screen
        assert screen.query_one(RepeatPanel).target().order_no == first.order_no
        screen.set_focus(screen.query_one(TextArea))
        await paste(pilot, "还是没人来，门禁一直坏着")
        await pilot.press("f10")
        await settle(pilot)
        assert screen.query_one("#phone", Input).value == ""  # linked: the form is ready for the next call
    (call,) = rows(db, "SELECT town, address, description, linked FROM calls WHERE linked = 1")
    assert tuple(call) == ("LS", "鹿山街道金桂苑3幢", "还是没人来，门禁一直坏着", 1)
    state, entries = OrderStore(db, ref=ref, clock=clock).timeline(first.order_no)
    link = [e.event for e in entries if e.event.kind == "link"]
    assert link and link[0].payload["call"]["description"] == "还是没人来，门禁一直坏着"
    assert state.linked_calls[0].town == "LS"


async def test_f10_with_nothing_but_the_phone_links_too(db, ref, clock) -> None:
    first, app = after_earlier_call(db, ref, clock, hours=5)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_text(pilot, "13857512345")
        await settle(pilot)
        await pilot.press("f10")  # straight from the phone field
        await settle(pilot)
    assert rows(db, "SELECT count(*) FROM calls WHERE linked = 1")[0][0] == 1
    assert rows(db, "SELECT count(*) FROM orders")[0][0] == 1


async def test_errors_from_the_phone_field_stay_until_the_next_action(db, ref, clock) -> None:
    """F10, F9 and F2 pressed straight from the phone field: the error shows and is not overwritten by the
    phone's own status line when the cursor leaves the field."""
    from fengqiao.models.i18n import t

    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        msg = screen.query_one("#msg")
        phone = screen.query_one("#phone")
        missing_town = t("error.required", field=t("field.town"))
        await type_text(pilot, "13857512345")
        await settle(pilot)
        await pilot.press("f10")  # nothing to link to
        await settle(pilot)
        assert str(msg.render()) == t("intake.no_link_target")
        screen.set_tag("B01")
        await pilot.press("f9")  # the town is missing: the cursor goes there and the error stays
        await settle(pilot)
        assert app.focused is screen.query_one("#town")
        assert str(msg.render()) == missing_town
        screen.set_focus(screen.query_one(TextArea))
        await paste(pilot, "我在店里买到假货，老板不肯退款")
        await settle(pilot)
        screen.set_focus(phone)
        await pilot.pause()
        await pilot.press("f2")  # a suggestion, but still no town
        await settle(pilot)
        assert app.focused is screen.query_one("#town")
        assert str(msg.render()) == missing_town
        screen.set_focus(phone)
        await pilot.pause()
        await type_text(pilot, "6")  # the next action: typing in the phone, Enter
        await pilot.press("enter")
        await settle(pilot)
        assert "12" in str(msg.render())  # the phone's own error now (12 digits)
