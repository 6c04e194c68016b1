"""The cockpit (F7, ``fengqiao dashboard``): Pilot tests and snapshots at 80x24 and 160x50 on fixed data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from console.app import FengqiaoApp, StoreChanged
from console.dashboard import DashboardApp, make_read_only
from models.clock import FixedClock
from models.errors import StoreError
from models.intake import IntakeForm
from models.reference import default_reference
from models.roles import Desk, make_desk
from screens.cockpit import CockpitScreen
from store.db import Database
from store.demo import generate
from store.orders import OrderStore

from . import kpi_timeline as week
from .conftest import T0


def fill(path: Path) -> None:
    """Fixed data: 600 demo orders over 40 days up to T0, and a caller who rang four times in three days."""
    db = Database(path)
    clock = FixedClock(T0)
    generate(db, orders=600, days=40, seed=3, clock=clock)
    store = OrderStore(db, desk=Desk(name="test"), clock=clock)
    for hours in (1, 20, 40, 60):
        week.dispatch(store, "13857512345", "B02", T0 - timedelta(hours=hours), address="鹿山街道东湖小区3幢")
    db.close()


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cockpit") / "demo.db"
    fill(path)
    return path


def cockpit_app(path: Path, *, lang: str | None = None, cls: type[FengqiaoApp] = FengqiaoApp,
                **kw: Any) -> FengqiaoApp:
    db = Database(path)
    desk = make_desk(default_reference(), "指挥中心-督导台", "supervisor", operator="李四")
    return cls(db=db, desk=desk, clock=FixedClock(T0), lang=lang, watch_store=False, **kw)


async def settle(pilot: Pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: FengqiaoApp) -> str:
    """What the terminal shows, as plain lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())  # noqa: SLF001


def test_cockpit_80x24(snap_compare: Any, demo_path: Path) -> None:
    assert snap_compare(cockpit_app(demo_path), terminal_size=(80, 24), run_before=settle)


def test_cockpit_160x50(snap_compare: Any, demo_path: Path) -> None:
    assert snap_compare(cockpit_app(demo_path), terminal_size=(160, 50), run_before=settle)


def test_cockpit_80x24_addresses_in_english(snap_compare: Any, demo_path: Path) -> None:
    async def before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("a")

    assert snap_compare(cockpit_app(demo_path, lang="en"), terminal_size=(80, 24), run_before=before)


async def test_supervisor_opens_on_the_cockpit_with_masked_phones(demo_path: Path) -> None:
    app = cockpit_app(demo_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CockpitScreen)
        text = screen_text(app)
        assert "138****2345" in text and "13857512345" not in text
        assert "签收率" in text and "超时" in text and "待回访" in text
        callers = app.screen.query_one("#cp-callers", DataTable)
        assert str(callers.get_row_at(0)[0]) == "138****2345" and str(callers.get_row_at(0)[1]) == "4"
        await pilot.press("a")
        assert app.screen.has_class("-addresses")
        assert app.screen.query_one("#cp-addresses").display
        await pilot.press("s")
        await pilot.press("f1")
        await pilot.press("escape")
        await pilot.press("f5")  # the intake screen, then back: the cockpit catches up
        await pilot.pause()
        assert not isinstance(app.screen, CockpitScreen)
        await pilot.press("f7")
        await settle(pilot)
        assert isinstance(app.screen, CockpitScreen) and "鹿山街道东湖" in screen_text(app)  # addresses shown


async def test_refreshes_on_store_changes_and_only_redraws_what_changed(demo_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    path.write_bytes(demo_path.read_bytes())
    app = cockpit_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CockpitScreen)
        before = screen._live.today  # type: ignore[union-attr]
        updates: list[str] = []
        original = Static.update

        def spy(self: Static, *args: Any, **kwargs: Any) -> None:
            updates.append(self.id or "")
            original(self, *args, **kwargs)

        Static.update = spy  # type: ignore[method-assign]
        try:
            screen.post_message(StoreChanged(1))  # nothing changed: nothing redrawn
            await settle(pilot)
            assert updates == []
            store = OrderStore(app.db, desk=Desk(name="110-2"), clock=app.clock)
            store.dispatch(IntakeForm(phone="13900001111", town="LS", description="楼上漏水"), "C04")
            screen.post_message(StoreChanged(2))
            await settle(pilot)
        finally:
            Static.update = original  # type: ignore[method-assign]
        after = screen._live.today  # type: ignore[union-attr]
        assert (after.calls, after.orders, after.awaiting_sign) == (before.calls + 1, before.orders + 1,
                                                                    before.awaiting_sign + 1)
        assert "cp-counts" in updates and "cp-feedback" not in updates


async def test_dashboard_is_read_only_and_cockpit_only(demo_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    path.write_bytes(demo_path.read_bytes())
    app = cockpit_app(path, cls=DashboardApp)
    make_read_only(app.db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CockpitScreen)
        await pilot.press("f5")
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, CockpitScreen) and app.current_mode == "cockpit"
        with pytest.raises(StoreError):
            OrderStore(app.db, desk=Desk(name="x")).dispatch(
                IntakeForm(phone="13900001111", town="LS", description="楼上漏水"), "C04")


async def test_no_color_keeps_the_meaning(demo_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = cockpit_app(demo_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.no_color
        text = screen_text(app)
        assert any(arrow in text for arrow in ("▲", "▼", "=0.0"))  # the change reads without colour
        assert "!" in text  # overdue counts are marked, not only red
