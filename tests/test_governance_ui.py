"""The console's side of warnings and cases: the intake banner (danger words, an open warning, a case offered,
Ctrl+G to join it), the F11 panel (sign, measure, close, escalate) and a case; snapshots at 80x24 and 120x40 in
Chinese and English."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fengqiao.models.clock import FixedClock
from fengqiao.models.intake import IntakeForm
from fengqiao.models.roles import make_desk
from fengqiao.screens.dispatch_preview import DispatchPreview
from fengqiao.screens.forms import ActionForm
from fengqiao.screens.gov_banner import GovBanner
from fengqiao.screens.warnings import WarningsScreen
from fengqiao.store.governance import GovernanceStore
from fengqiao.store.orders import OrderStore

from .conftest import T0
from .intake_helpers import fill, make_app, paste, settle

pytestmark = pytest.mark.warning_rules
SIZES = [(80, 24), (120, 40)]
LANGS = ["zh", "en"]
ADDRESS = "黄泽镇前岩村3号"


def seed(db, ref, *, case: bool = True) -> str:  # noqa: ANN001
    """Three calls about one address in three days (a yellow warning, signed) and, with ``case``, a case for it."""
    past = FixedClock(T0 - timedelta(days=3))
    store = OrderStore(db, ref=ref, desk=make_desk(ref, "110-1", "call_taker"), clock=past)
    for i, words in enumerate(["楼上装修天天很吵", "楼上又在砸墙", "楼上装修[bold]吵[/bold]得孩子睡不着"]):
        store.dispatch(IntakeForm(phone=f"1390000000{i}", town="HZ", address=ADDRESS, description=words), "B04")
        past.advance(hours=20)
    hz = GovernanceStore(db, ref=ref, desk=make_desk(ref, "HZ-centre", "township", town="HZ"), clock=past)
    (w,) = hz.warnings()
    hz.sign(w.no, "已转村调委会")
    if case:
        hz.open_case(title="前岩村3号装修扰民专班", town="HZ", address=ADDRESS, members=["SFJ"], follow_up="2026-12-05")
    return w.no


def township_app(db, ref, lang: str = "zh"):  # noqa: ANN001, ANN201
    from fengqiao.console.app import FengqiaoApp

    desk = make_desk(ref, "HZ-centre", "township", town="HZ", operator="李四")
    return FengqiaoApp(db=db, desk=desk, clock=FixedClock(T0), ref=ref, lang=lang, watch_store=False)


async def fourth_call(pilot, words: str = "楼上装修太吵了，他还扬言要砸我家门") -> None:  # noqa: ANN001
    await fill(pilot, "13857512345", "hz", "黄泽镇 前岩村3号", words)
    await settle(pilot)


# ---- Pilot ---------------------------------------------------------------------------------------------


async def test_the_banner_shows_danger_words_the_warning_and_the_case_and_ctrl_k_joins_it(db, ref) -> None:  # noqa: ANN001
    seed(db, ref)
    app = make_app(db, ref, FixedClock(T0))
    async with app.run_test(size=(100, 30)) as pilot:
        await fourth_call(pilot)
        banner = app.screen.query_one(GovBanner)
        assert banner.words == ["扬言"]
        assert [w.rule for w in banner.touching.warnings] == ["address"]
        assert [c.title for c in banner.touching.cases] == ["前岩村3号装修扰民专班"]
        assert banner.case_no is None  # offered, not chosen
        await pilot.press("ctrl+g")
        case_no = banner.case_no
        assert case_no is not None
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, DispatchPreview)
        await pilot.press("enter")
        await settle(pilot)
        assert not banner.has_class("-shown")  # the form is clear for the next call
        titles = [n.title for n in app._notifications]  # noqa: SLF001 - the toasts
        assert any("YJ-" in title for title in titles), titles  # the danger words raised a red warning
    gov = GovernanceStore(db, ref=ref, desk=make_desk(ref, "sup", "supervisor"), clock=FixedClock(T0))
    assert len(gov.case(case_no).orders) == 1
    assert [w.rule for w in gov.warnings()] == ["danger", "address"]


async def test_ctrl_k_without_a_case_says_so(db, ref) -> None:  # noqa: ANN001
    app = make_app(db, ref, FixedClock(T0))
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "hz", "黄泽镇某路1号", "门口有人吵架")
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert "专班" in str(app.screen.query_one("#msg").render())


async def test_the_township_signs_measures_and_closes_a_warning_from_the_panel(db, ref) -> None:  # noqa: ANN001
    no = seed(db, ref, case=False)
    hz = GovernanceStore(db, ref=ref, desk=make_desk(ref, "HZ-centre", "township", town="HZ"), clock=FixedClock(T0))
    app = township_app(db, ref)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f11")
        await settle(pilot)
        assert isinstance(app.screen, WarningsScreen)
        assert [w.no for w in app.screen.warnings] == [no]
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, ActionForm)
        await paste(pilot, "网格员上门劝导")
        await pilot.press("enter")
        await settle(pilot)
        assert hz.warning(no).timeline[-1].text == "网格员上门劝导"
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("enter")  # an empty reason: refused, the form stays
        await settle(pilot)
        assert isinstance(app.screen, ActionForm)
        await paste(pilot, "施工方调整作业时间，来电人满意")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, WarningsScreen)
        assert app.screen.warnings == []
    assert hz.warning(no).status == "closed"


async def test_escalating_from_the_panel_opens_a_case_with_the_orders(db, ref) -> None:  # noqa: ANN001
    no = seed(db, ref, case=False)
    app = township_app(db, ref, lang="en")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f11")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await paste(pilot, "Qianyan No.3 task force")
        await pilot.press("enter")
        await paste(pilot, "2026-12-20")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WarningsScreen)
        assert [(c.title, c.orders, c.follow_up) for c in screen.cases] == [
            ("Qianyan No.3 task force", 3, "2026-12-20")
        ]
    gov = GovernanceStore(db, ref=ref, desk=make_desk(ref, "sup", "supervisor"), clock=FixedClock(T0))
    assert gov.warning(no).status == "escalated"


# ---- snapshots ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_intake_banner(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:  # noqa: ANN001
    seed(db, ref)
    assert snap_compare(make_app(db, ref, FixedClock(T0), lang=lang), terminal_size=size, run_before=fourth_call)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_warnings_panel(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:  # noqa: ANN001
    seed(db, ref)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.press("f11")
        await settle(pilot)

    assert snap_compare(township_app(db, ref, lang), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_a_case(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:  # noqa: ANN001
    seed(db, ref)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.press("f11")
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)

    assert snap_compare(township_app(db, ref, lang), terminal_size=size, run_before=run_before)
