"""Outage and event notices (停水停电通知): calls about them are answered from the notice and recorded on it,
nothing dispatched; who may post; the intake's offer (Ctrl+G, Enter) and its snapshots."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fengqiao.console.cli import app as cli_app
from fengqiao.models.clock import FixedClock
from fengqiao.models.errors import PermissionDenied, ValidationError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.reference import Reference
from fengqiao.models.roles import make_desk
from fengqiao.screens.forms import ConfirmScreen
from fengqiao.screens.gov_banner import GovBanner
from fengqiao.store.audit import verify
from fengqiao.store.db import Database
from fengqiao.store.governance import GovernanceStore
from fengqiao.store.kpi import KpiStore

from .conftest import T0
from .intake_helpers import fill, make_app, settle

runner = CliRunner()
SIZES = [(80, 24), (120, 40)]


def gov(db: Database, ref: Reference, clock: FixedClock, role: str = "supervisor", **kw: str) -> GovernanceStore:
    return GovernanceStore(db, ref=ref, desk=make_desk(ref, f"{role}-desk", role, **kw), clock=clock)


def water_cut(db: Database, ref: Reference, clock: FixedClock, **kw: object) -> str:
    n = gov(db, ref, clock).post_notice(
        kind="water",
        title="黄泽镇计划停水",
        towns=["HZ", "GL"],
        starts=clock() - timedelta(hours=1),
        ends=clock() + timedelta(hours=8),
        script="今天 8 点到 17 点检修主管道，计划停水，17 点前恢复",
        keywords=["停水", "没水", "水压"],
        owner="ZJJ",
        **kw,  # type: ignore[arg-type]
    )
    return n.no


def test_a_notice_absorbs_ten_calls_and_dispatches_nothing(db: Database, ref: Reference, clock: FixedClock) -> None:
    no = water_cut(db, ref, clock)
    ct = gov(db, ref, clock, "call_taker")
    assert [n.no for n in ct.matching("HZ", "家里怎么没水了")] == [no]
    assert ct.matching("HZ", "楼上漏水") == [] and ct.matching("SHH", "没水") == []  # words, town
    for i in range(10):
        clock.advance(minutes=4)
        ct.take_call(no, IntakeForm(phone=f"138575123{i:02d}", town="HZ", description="没水了"))
    n = ct.notice(no)
    assert len(n.calls) == 10
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM calls WHERE order_id = ?", (n.id,)).scalar() == 10
    assert KpiStore(db, ref=ref, clock=clock).live().today.calls == 10  # they are calls the desk took
    assert verify(db).faults == []


def test_a_call_outside_the_towns_or_the_window_is_refused_and_nothing_is_written(
    db: Database, ref: Reference, clock: FixedClock
) -> None:
    no = water_cut(db, ref, clock)
    ct = gov(db, ref, clock, "call_taker")
    with pytest.raises(ValidationError, match=no):
        ct.take_call(no, IntakeForm(phone="13857512345", town="SHH", description="没水"))
    clock.advance(hours=9)
    with pytest.raises(ValidationError, match=no):
        ct.take_call(no, IntakeForm(phone="13857512345", town="HZ", description="没水"))
    assert ct.matching("HZ", "没水") == [] and len(ct.notice(no).calls) == 0


def test_who_may_post_and_end(db: Database, ref: Reference, clock: FixedClock) -> None:
    utility = gov(db, ref, clock, "department", dept="ZJJ")
    n = utility.post_notice(kind="water", title="停水", towns=["HZ"], starts=clock(), ends=clock() + timedelta(hours=2))
    assert n.owner == "ZJJ"  # its own desk's unit
    with pytest.raises(PermissionDenied):
        utility.post_notice(
            kind="power", title="停电", towns=["HZ"], starts=clock(), ends=clock() + timedelta(hours=2), owner="SCJG"
        )
    with pytest.raises(PermissionDenied):
        gov(db, ref, clock, "call_taker").post_notice(
            kind="power", title="停电", towns=["HZ"], starts=clock(), ends=clock() + timedelta(hours=2), owner="ZJJ"
        )
    with pytest.raises(PermissionDenied):
        gov(db, ref, clock, "call_taker").end_notice(n.no)
    assert utility.end_notice(n.no, "已恢复供水").status == "ended"
    assert gov(db, ref, clock).notices() == []


def cli(db_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli_app, ["--db", str(db_path), *args])
    return result.exit_code, result.output


def test_cli_post_take_list_and_bad_input(db_path: Path) -> None:
    from datetime import datetime

    now = datetime.now().astimezone()  # the CLI runs on the system clock
    start, end = (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=5)).isoformat()
    code, out = cli(
        db_path, "notice", "post", "--kind", "power", "--title", "城区停电", "--town", "SHH", "--from", start,
        "--to", end, "--owner", "ZJJ", "--keyword", "停电", "--role", "supervisor",
    )  # fmt: skip
    assert code == 0, out
    no = out.strip()
    for text in ("家里停电了", "整栋楼停电"):
        code, out = cli(db_path, "notice", "take", no, "--town", "SHH", "--phone", "13857512345", "--text", text)
        assert code == 0, out
    (shown,) = json.loads(cli(db_path, "notice", "list", "--all", "--json")[1])["notices"]
    assert (shown["no"], shown["calls"], shown["kind"]) == (no, 2, "power")
    for args, needle in (
        (["notice", "post", "--kind", "flood", "--title", "x", "--town", "SHH", "--from", "2026-11-28", "--to", "2026-11-29", "--role", "supervisor"], "flood"),
        (["notice", "take", "TZ-NOPE", "--town", "SHH", "--phone", "13857512345"], "TZ-NOPE"),
        (["notice", "take", no, "--town", "QQ", "--phone", "13857512345"], "QQ"),
    ):  # fmt: skip
        code, out = cli(db_path, *args)
        assert code != 0 and needle in out and len(out.strip().splitlines()) == 1, out


# ---- the console ---------------------------------------------------------------------------------------


async def test_a_matching_call_is_offered_the_notice_and_enter_records_it(db, ref) -> None:  # noqa: ANN001
    clock = FixedClock(T0)
    no = water_cut(db, ref, clock)
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "hz", "黄泽镇前岩村", "楼上怎么没水了，水压也没有")
        banner = app.screen.query_one(GovBanner)
        assert banner.notice is not None and banner.notice.no == no
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert any(no in str(n.message) for n in app._notifications)  # noqa: SLF001
    g = gov(db, ref, clock)
    assert len(g.notice(no).calls) == 1
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 0


async def test_words_not_about_the_notice_are_not_offered(db, ref) -> None:  # noqa: ANN001
    clock = FixedClock(T0)
    water_cut(db, ref, clock)
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "hz", "黄泽镇前岩村", "邻居家狗叫了一夜")
        assert app.screen.query_one(GovBanner).notice is None


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_intake_notice(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:  # noqa: ANN001
    clock = FixedClock(T0)
    water_cut(db, ref, clock)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await fill(pilot, "13857512345", "hz", "黄泽镇前岩村", "楼上怎么没水了")
        await settle(pilot)

    assert snap_compare(make_app(db, ref, clock, lang=lang), terminal_size=size, run_before=run_before)
