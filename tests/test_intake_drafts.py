"""A call being taken is never lost: the intake form is kept as a draft and restored at the next start.

Quit (Ctrl+Q twice, the palette's Quit), a closed SSH session (SIGHUP) and a crash (SIGKILL after the
debounce) are each followed by a new console on the same store, which must show the call again.
"""

from __future__ import annotations

import asyncio

from textual.widgets import Input, TextArea

from fengqiao.models.intake import Draft
from fengqiao.screens.intake import DRAFT_DELAY, DRAFT_MAX_WAIT, IntakeScreen
from fengqiao.screens.town_field import TownField
from fengqiao.store.drafts import load_draft, save_draft

from .intake_helpers import fill, make_app, settle, type_text


def rows(db, sql: str, *params):  # noqa: ANN001, ANN201
    with db.read() as conn:
        return conn.exec_driver_sql(sql, params).all()


def intake(app) -> IntakeScreen:  # noqa: ANN001
    screen = app.screen
    assert isinstance(screen, IntakeScreen)
    return screen


async def half_a_call(pilot) -> None:  # noqa: ANN001
    await fill(pilot, "13857512345", "cl", "长乐镇沿江路18号", "我在店里买到假货，老板不肯")


def test_a_draft_round_trips_any_text() -> None:
    draft = Draft(phone="138", description="[red]x\udc80\x00", town="cl", town_code="CL")
    back = Draft.from_json(draft.to_json())
    assert back == draft
    assert Draft.from_json("not json") == Draft()
    assert Draft.from_json('{"phone": 5, "town": "cl", "call_started": "bad"}') == Draft(town="cl")


def test_store_keeps_one_draft_per_desk(db, clock) -> None:  # noqa: ANN001
    save_draft(db, "110-1", Draft(phone="13857512345"), clock())
    save_draft(db, "110-1", Draft(phone="13857512345", description="又漏水"), clock())
    save_draft(db, "110-2", Draft(name="李四"), clock())
    kept = load_draft(db, "110-1")
    assert kept is not None and kept.description == "又漏水" and kept.saved_at == clock()
    save_draft(db, "110-1", Draft(), clock())  # an empty form deletes it
    assert load_draft(db, "110-1") is None
    assert load_draft(db, "110-2") is not None


async def test_quit_with_a_half_taken_call_asks_and_the_call_comes_back(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await half_a_call(pilot)
        started = intake(app).call_started
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert app.is_running  # the first Ctrl+Q only asks
        assert "Ctrl+Q" in str(intake(app).query_one("#msg").render())
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0
    (kept,) = rows(db, "SELECT desk FROM drafts")
    assert kept[0] == "110-1"
    assert rows(db, "SELECT count(*) FROM orders")[0][0] == 0

    clock.advance(minutes=3)
    again = make_app(db, ref, clock)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = intake(again)
        assert screen.query_one("#phone", Input).value == "13857512345"
        assert screen.query_one(TownField).code == "CL"
        assert screen.query_one("#address", Input).value == "长乐镇沿江路18号"
        assert screen.query_one(TextArea).text == "我在店里买到假货，老板不肯"
        assert screen.call_started == started  # the call came in when it came in, not at the restart
        assert "草稿" in str(screen.query_one("#msg").render())
        assert any("草稿" in n.title for n in again._notifications)  # noqa: SLF001 - the toast
        # Finish the call: the order is sent and the draft is gone with it (same transaction).
        await type_text(pilot, "退款")
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert rows(db, "SELECT count(*) FROM orders")[0][0] == 1, (
            str(screen.query_one("#msg").render()),
            again.screen,
            screen.suggestions,
            screen.query_one(TextArea).text,
        )
        assert rows(db, "SELECT count(*) FROM drafts")[0][0] == 0
        await asyncio.sleep(DRAFT_DELAY + 0.2)  # no late save brings the sent call back
        await settle(pilot)
    assert rows(db, "SELECT count(*) FROM drafts")[0][0] == 0
    (call_at,) = rows(db, "SELECT call_at FROM orders")[0]
    assert call_at.startswith(started.strftime("%Y-%m-%dT%H:%M"))


async def test_an_empty_form_quits_at_once(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert not app.is_running
    assert rows(db, "SELECT count(*) FROM drafts")[0][0] == 0


async def test_the_palette_quit_asks_too(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await half_a_call(pilot)
        await app.run_action("quit")  # what the palette's Quit command runs
        await settle(pilot)
        assert app.is_running
        await app.run_action("quit")
        await pilot.pause()
    assert not app.is_running
    assert load_draft(db, "110-1") is not None


async def test_hangup_saves_the_draft_and_exits(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await half_a_call(pilot)
        await type_text(pilot, "退")  # typed a moment ago: not yet saved by the debounce
        app.hang_up()  # what SIGHUP runs
        await pilot.pause()
    assert not app.is_running
    draft = load_draft(db, "110-1")
    assert draft is not None and draft.description.endswith("不肯退")


async def test_a_pause_in_typing_saves_the_draft(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await half_a_call(pilot)
        await asyncio.sleep(DRAFT_MAX_WAIT + 0.3)
        await settle(pilot)
        draft = load_draft(db, "110-1")  # while the console still runs: a crash now would lose nothing
        assert draft is not None and draft.phone == "13857512345" and draft.town_code == "CL"
        # Ctrl+N twice clears the form on purpose: the draft goes.
        await pilot.press("ctrl+n", "ctrl+n")
        await settle(pilot)
        assert load_draft(db, "110-1") is None


async def test_a_failed_dispatch_keeps_the_draft(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await half_a_call(pilot)
        screen = intake(app)
        screen.flush_draft()
        db.engine.dispose()
        broken = db.path.with_suffix(".gone")
        db.path.rename(broken)
        db.path.mkdir()  # the store cannot be opened: the dispatch fails
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one(TextArea).text  # nothing typed is lost on screen
        db.path.rmdir()
        broken.rename(db.path)
        db.engine.dispose()
    assert load_draft(db, "110-1") is not None


async def test_the_draft_keeps_the_chosen_tag(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await half_a_call(pilot)
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        tag = intake(app).tag_code
        assert tag
    again = make_app(db, ref, clock)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert intake(again).tag_code == tag
