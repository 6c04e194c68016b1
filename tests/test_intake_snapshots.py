"""Snapshots of the intake form, the tag picker and the dispatch preview: 80x24 and 120x40, Chinese and English.

The store holds two earlier calls from the same number (one within 72 hours, its order still open), so the
recent-calls panel and the repeat warning show; the caller's text contains markup that must stay literal.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from fengqiao.models.clock import FixedClock
from fengqiao.store.orders import OrderStore

from .conftest import T0
from .intake_helpers import earlier_call, fill, make_app, settle, type_text

SIZES = [(80, 24), (120, 40)]
LANGS = ["zh", "en"]


def seeded_app(db, ref, lang: str):  # noqa: ANN001, ANN201
    past = FixedClock(T0 - timedelta(days=6))
    store = OrderStore(db, ref=ref, clock=past)
    earlier_call(store, tag="B02", text="物业把门禁停了，业主进不了门")
    past.set(T0 - timedelta(hours=20))
    earlier_call(store, tag="B02", text="门禁卡还是用不了，[bold]物业[/bold]说要交钱")
    return make_app(db, ref, FixedClock(T0), lang=lang)


async def take_call(pilot) -> None:  # noqa: ANN001
    await fill(
        pilot,
        "13857512345",
        "ls",
        "鹿山街道金桂苑3幢",
        "小区物业把门禁停了，业主进不了门，[red]第三次[/red]打电话了，物业一直不管",
    )


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_intake_form(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:
    assert snap_compare(seeded_app(db, ref, lang), terminal_size=size, run_before=take_call)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_tag_picker(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:  # noqa: ANN001
        await take_call(pilot)
        await pilot.press("f8")
        await type_text(pilot, "jf" if lang == "zh" else "noise")
        await settle(pilot)

    assert snap_compare(seeded_app(db, ref, lang), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_dispatch_preview(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:  # noqa: ANN001
        await take_call(pilot)
        await pilot.press("f2")
        await settle(pilot)

    assert snap_compare(seeded_app(db, ref, lang), terminal_size=size, run_before=run_before)


def restored_app(db, ref, lang: str):  # noqa: ANN001, ANN201
    """A console whose last session quit with a call half taken: the draft comes back with a notice."""
    from fengqiao.models.intake import Draft
    from fengqiao.store.drafts import save_draft

    app = seeded_app(db, ref, lang)
    draft = Draft(
        phone="13857512345",
        town="鹿山街道",
        town_code="LS",
        address="鹿山街道金桂苑3幢",
        description="小区物业把门禁停了，业主进不了门，[red]第三次[/red]打电话了",
        call_started=T0 - timedelta(minutes=4),
    )
    save_draft(db, "110-1", draft, T0 - timedelta(minutes=2))
    return app


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_draft_restored(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        pilot.app.clear_notifications()  # the toast would cover the form; the status line keeps the notice

    assert snap_compare(restored_app(db, ref, lang), terminal_size=size, run_before=run_before)


def test_a_big_screen_gives_the_words_and_the_history_room(snap_compare, db, ref) -> None:
    assert snap_compare(seeded_app(db, ref, "zh"), terminal_size=(160, 50), run_before=take_call)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_next_caller_waiting(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:  # noqa: ANN001
        await take_call(pilot)
        pilot.app.screen_pop("13911112222")  # the telephony system pops a second call while this one is taken
        pilot.app.screen_pop("0575-83012345")
        await settle(pilot)
        pilot.app.clear_notifications()

    assert snap_compare(seeded_app(db, ref, lang), terminal_size=size, run_before=run_before)
