"""The town the call-taker highlights is the town that is used: one test per colliding town code.

A town's code can also be another town's initials or pinyin prefix (`gl` is 甘霖镇's code and 谷来镇's initials;
`sj` is 三江街道's code and 三界镇's initials). The list is generated from the reference data: every town code
for which the town field shows more than one match. For each, every match shown is highlighted with ↓ and
taken with Enter (and the last with Tab, leaving the field), and must be the town chosen, with its own police
station.
"""

from __future__ import annotations

import pytest

from fengqiao.models.finder import town_finder
from fengqiao.models.reference import default_reference
from fengqiao.screens.intake import IntakeScreen
from fengqiao.screens.town_field import CANDIDATES, TownField

from .intake_helpers import make_app, settle, type_text


def collisions() -> list[tuple[str, list[str]]]:
    """(typed code, the towns shown for it in order) for each town code that matches other towns too."""
    ref = default_reference()
    finder = town_finder(ref)
    out = []
    for code in sorted(ref.towns):
        shown = [e.code for e, _ in finder.search(code.lower(), limit=CANDIDATES)]
        if len(shown) > 1:
            out.append((code.lower(), shown))
    return out


COLLISIONS = collisions()


def test_the_known_collisions_are_among_them() -> None:
    typed = {q: shown for q, shown in COLLISIONS}
    assert "GLL" in typed["gl"] and "SJJ" in typed["sj"]  # 谷来镇 under gl, 三界镇 under sj


@pytest.mark.parametrize(("typed", "shown"), COLLISIONS, ids=[q for q, _ in COLLISIONS])
async def test_the_highlighted_town_wins(db, ref, clock, typed: str, shown: list[str]) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        town = screen.query_one(TownField)
        # Enter on every match shown; Tab (leaving the field) on the last one, which takes the most ↓
        for leave, picks in (("enter", list(enumerate(shown))), ("tab", [(len(shown) - 1, shown[-1])])):
            for downs, want in picks:
                town.clear_town()
                screen.set_focus(town)
                await pilot.pause()
                await type_text(pilot, typed)
                assert [m.code for m in town.matches] == shown
                for _ in range(downs):
                    await pilot.press("down")
                highlighted = town.matches[town.index].code
                assert highlighted == want
                await pilot.press(leave)
                await pilot.pause()
                assert town.code == want, f"{typed!r} + {downs}×↓ + {leave}: {town.code} instead of {want}"
                assert town.value == ref.towns[want].name_zh
                assert screen.form().town == want  # what the dispatch is given


async def test_gl_down_enter_dispatches_to_gulai_and_its_station(db, ref, clock) -> None:  # noqa: ANN001
    """The reported case: `gl`, ↓ onto 谷来镇, Enter, and a dual order goes to 谷来派出所, not 甘霖's station."""
    from fengqiao.store.orders import OrderStore

    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_text(pilot, "13857512345")
        await pilot.press("enter")
        await type_text(pilot, "gl")
        await pilot.press("down", "enter")
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        form = screen.form()
    assert form.town == "GLL"
    state = OrderStore(db, ref=ref, clock=clock).dispatch(
        form.__class__(phone=form.phone, town=form.town, description="有人往河边倒建筑垃圾"), "A03", mode="dual"
    )
    police = [a.assignee for a in state.assignments if a.role == "police"]
    assert police == [ref.towns["GLL"].station_code]
    assert police != [ref.towns["GL"].station_code]
