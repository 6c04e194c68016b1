"""The cockpit (F7, ``fengqiao dashboard``): Pilot tests and snapshots at 80x24 and 160x50 on fixed data."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from fengqiao.console.app import FengqiaoApp, StoreChanged
from fengqiao.console.dashboard import DashboardApp, make_read_only
from fengqiao.models.clock import FixedClock
from fengqiao.models.errors import StoreError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import Desk, make_desk
from fengqiao.screens.cockpit import CockpitScreen
from fengqiao.store.db import Database
from fengqiao.store.demo import generate
from fengqiao.store.orders import OrderStore

from . import kpi_timeline as week
from .conftest import T0
from .intake_helpers import settle


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


def cockpit_app(path: Path, *, lang: str | None = None, cls: type[FengqiaoApp] = FengqiaoApp, **kw: Any) -> FengqiaoApp:
    db = Database(path)
    desk = make_desk(default_reference(), "指挥中心-督导台", "supervisor", operator="李四")
    return cls(db=db, desk=desk, clock=FixedClock(T0), lang=lang, watch_store=False, **kw)


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
        assert (after.calls, after.orders, after.awaiting_sign) == (
            before.calls + 1,
            before.orders + 1,
            before.awaiting_sign + 1,
        )
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
                IntakeForm(phone="13900001111", town="LS", description="楼上漏水"), "C04"
            )


async def test_no_color_keeps_the_meaning(demo_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = cockpit_app(demo_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.no_color
        text = screen_text(app)
        assert any(arrow in text for arrow in ("▲", "▼", "=0.0"))  # the change reads without colour
        assert "!" in text  # overdue counts are marked, not only red


# ---- full numbers: supervisors only, recorded in the access log before they are shown -------------------


def access_lines(db: Database) -> list[tuple[str, str, str, dict[str, Any]]]:
    from fengqiao.store.audit import access_log

    return [(r.desk, r.role, r.target, json.loads(r.detail)) for r in reversed(access_log(db))]


def callers_first_cell(app: FengqiaoApp) -> str:
    return str(app.screen.query_one("#cp-callers", DataTable).get_row_at(0)[0])


async def test_u_records_the_numbers_then_shows_them(
    demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "u.db"
    path.write_bytes(demo_path.read_bytes())
    app = cockpit_app(path)
    seen_at_recording: list[str] = []
    import fengqiao.store.audit as store_audit

    real = store_audit.record_access

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen_at_recording.append(callers_first_cell(app))  # what the screen shows while the line is written
        return real(*args, **kwargs)

    monkeypatch.setattr(store_audit, "record_access", spy)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert callers_first_cell(app) == "138****2345" and access_lines(app.db) == []
        await pilot.press("f1")
        assert "完整号码" in screen_text(app)  # listed in the help (not in the footer: a rare key)
        await pilot.press("escape")
        await pilot.press("u")
        await settle(pilot)
        assert seen_at_recording == ["138****2345"]  # recorded first, while still masked
        assert callers_first_cell(app) == "13857512345" and "完整号码" in screen_text(app)
        lines = access_lines(app.db)
        assert [(d, r, tg) for d, r, tg, _ in lines] == [("指挥中心-督导台", "supervisor", "cockpit")]
        assert lines[0][3]["phones"] == ["13857512345"]
        # A caller who rings a third time joins the list: recorded before the number appears in full.
        store = OrderStore(app.db, desk=Desk(name="110-2"), clock=app.clock)
        for minutes in (10, 20, 30):
            week.dispatch(store, "13900001111", "C04", T0 - timedelta(minutes=minutes), address="新地址")
        app.screen.post_message(StoreChanged(2))
        await settle(pilot)
        lines = access_lines(app.db)
        assert len(lines) == 2 and lines[1][3]["phones"] == ["13900001111"]
        assert "13900001111" in screen_text(app)
        app.screen.post_message(StoreChanged(3))  # nothing new: nothing recorded again
        await settle(pilot)
        assert len(access_lines(app.db)) == 2
        await pilot.press("u")  # masked again
        await settle(pilot)
        assert callers_first_cell(app) == "138****2345" and "13900001111" not in screen_text(app)
        assert len(access_lines(app.db)) == 2
        await pilot.press("u")  # a new look is a new line with every number shown
        await settle(pilot)
        lines = access_lines(app.db)
        assert len(lines) == 3 and set(lines[2][3]["phones"]) == {"13857512345", "13900001111"}


async def test_no_access_line_no_full_numbers(demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.db"
    path.write_bytes(demo_path.read_bytes())
    app = cockpit_app(path)

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise StoreError("数据库文件只读")

    monkeypatch.setattr("fengqiao.store.audit.record_access", refuse)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert callers_first_cell(app) == "138****2345" and "13857512345" not in screen_text(app)
        assert not app.screen._want_full  # noqa: SLF001 - back to masked: the next refresh shows no numbers


@pytest.mark.parametrize("role", ["call_taker", None])
async def test_other_desks_have_no_unmask_key(demo_path: Path, role: str | None) -> None:
    db = Database(demo_path)
    desk = make_desk(default_reference(), "110-1", role)
    app = FengqiaoApp(db=db, desk=desk, clock=FixedClock(T0), watch_store=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f7")
        await settle(pilot)
        assert isinstance(app.screen, CockpitScreen)
        await pilot.press("u")
        await settle(pilot)
        assert callers_first_cell(app) == "138****2345" and access_lines(db) == []
        await pilot.press("f1")
        assert "完整号码" not in screen_text(app)


async def test_dashboard_unmasked_records_through_its_own_writer(demo_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "dash.db"
    path.write_bytes(demo_path.read_bytes())
    writer = Database(path)
    app = cockpit_app(path, cls=DashboardApp, unmasked=True, access_db=writer)
    make_read_only(app.db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert callers_first_cell(app) == "13857512345"
        assert [(d, tg) for d, _, tg, _ in access_lines(app.db)] == [("指挥中心-督导台", "cockpit")]
        with pytest.raises(StoreError):  # the store itself stays read-only
            OrderStore(app.db, desk=Desk(name="x")).dispatch(
                IntakeForm(phone="13900001111", town="LS", description="楼上漏水"), "C04"
            )
    writer.close()


async def test_dashboard_opens_the_cockpit_for_any_desk(demo_path: Path) -> None:
    db = Database(demo_path)
    make_read_only(db)
    app = DashboardApp(
        db=db, desk=make_desk(default_reference(), "110-1", "call_taker"), clock=FixedClock(T0), watch_store=False
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CockpitScreen) and callers_first_cell(app) == "138****2345"
    db.close()


@pytest.mark.parametrize("ahead_fails", [False, True])
async def test_the_dashboard_draws_the_figures_read_while_it_started(
    demo_path: Path, monkeypatch: pytest.MonkeyPatch, ahead_fails: bool
) -> None:
    # `fengqiao dashboard` reads today's figures in a thread while Textual starts (console/dashboard.py,
    # read_ahead): the cockpit draws them as it mounts, without reading them again; if that read failed, the
    # cockpit's live worker reads them (and would say what is wrong).
    from concurrent.futures import Future
    from dataclasses import replace

    from fengqiao.console.dashboard import dashboard_context

    reads: list[int] = []
    fetch = CockpitScreen._fetch_live

    def noting_fetch(self: CockpitScreen, *args: Any) -> Any:
        reads.append(1)
        return fetch(self, *args)

    monkeypatch.setattr(CockpitScreen, "_fetch_live", noting_fetch)
    db = Database(demo_path)
    make_read_only(db)
    desk = make_desk(default_reference(), "110-1", "call_taker")
    ctx = dashboard_context(db, desk, clock=FixedClock(T0))
    ahead: Future[Any] = Future()
    if ahead_fails:
        ahead.set_exception(StoreError("the store is busy"))
    else:
        ahead.set_result(ctx.kpi.live())
    app = DashboardApp(replace(ctx, live_ahead=ahead), watch_store=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CockpitScreen)
        if ahead_fails:
            assert reads == [1]
        else:
            assert reads == [] and screen._live is ahead.result()  # noqa: SLF001
            assert "考核指标" in screen_text(app)  # before any worker has run
        await settle(pilot)
        assert "考核指标" in screen_text(app)
    db.close()


async def test_the_dashboard_mounts_its_tables_after_the_first_frame(demo_path: Path) -> None:
    # `fengqiao dashboard` opens on the cockpit: its first frame is the counts and the KPIs, the department and
    # frequent-caller tables are mounted once that frame is out (and the department table takes the focus); a key
    # pressed before they are there changes nothing it should not. The console's F7 composes the cockpit whole.
    frames: list[tuple[bool, str]] = []

    class Noting(DashboardApp):
        def on_ready(self) -> None:  # the first frame is on the terminal
            frames.append((bool(self.screen.query("#cp-depts")), screen_text(self)))
            super().on_ready()

    from dataclasses import replace

    from fengqiao.console.dashboard import dashboard_context, read_ahead

    db = Database(demo_path)
    make_read_only(db)
    ctx = dashboard_context(db, make_desk(default_reference(), "110-1", "call_taker"), clock=FixedClock(T0))
    app = Noting(replace(ctx, live_ahead=read_ahead(ctx)), watch_store=False)  # as run_dashboard opens it
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")  # the sort key, before or just as the tables come
        await settle(pilot)
        assert len(frames) == 1 and frames[0][0] is False and "考核指标" in frames[0][1]
        depts = app.screen.query_one("#cp-depts", DataTable)
        assert app.focused is depts and depts.row_count > 0
        assert callers_first_cell(app) == "138****2345"
    db.close()
    app = cockpit_app(demo_path)  # a supervisor's console: the cockpit is its home, composed after the first frame
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.switch_mode("board")
        await settle(pilot)
        app.switch_mode("cockpit")
        await settle(pilot)
        assert app.screen.query_one("#cp-depts", DataTable).row_count > 0


def test_dashboard_unmasked_needs_a_supervisor(
    demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from fengqiao.console.cli import app as cli

    calls: list[dict[str, Any]] = []

    def fake_run(db: Database, desk: Desk, **kw: Any) -> None:
        calls.append({"desk": desk, **kw})
        db.close()
        if kw.get("access_db") is not None:
            kw["access_db"].close()

    monkeypatch.setattr("fengqiao.console.dashboard.run_dashboard", fake_run)
    runner = CliRunner()
    for role in ([], ["--role", "call_taker"]):
        result = runner.invoke(cli, ["--db", str(demo_path), "dashboard", "--unmasked", *role])
        assert result.exit_code != 0 and "只有督办席位" in result.stderr and "Traceback" not in result.output
    assert calls == []
    result = runner.invoke(cli, ["--db", str(demo_path), "dashboard", "--unmasked", "--role", "supervisor"])
    assert result.exit_code == 0, result.output
    assert calls[-1]["unmasked"] is True and calls[-1]["access_db"] is not None
    config = tmp_path / "config.toml"
    config.write_text('[desk]\nname = "督办-3"\nrole = "supervisor"\n', encoding="utf-8")
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    assert runner.invoke(cli, ["--db", str(demo_path), "dashboard", "--unmasked"]).exit_code == 0
    assert calls[-1]["desk"].name == "督办-3"
    monkeypatch.setenv("FENGQIAO_CONFIG", str(tmp_path / "none.toml"))
    assert runner.invoke(cli, ["--db", str(demo_path), "dashboard"]).exit_code == 0  # masked: any desk
    assert calls[-1]["unmasked"] is False and calls[-1]["access_db"] is None
