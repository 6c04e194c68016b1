"""The knowledge base (知识库) and calls answered on the spot (直接办结): validation of the data file, matching,
recording without dispatch, the call back within 72 hours that shows a poor answer, the CLI and the console."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fengqiao.console.cli import app as cli_app
from fengqiao.models.answers import best_answers, default_answers, load_answers
from fengqiao.models.clock import FixedClock
from fengqiao.models.errors import PermissionDenied, ReferenceDataError, ValidationError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.reference import Reference
from fengqiao.models.roles import make_desk
from fengqiao.screens.answers import AnswerReader
from fengqiao.store.audit import verify
from fengqiao.store.db import Database
from fengqiao.store.governance import GovernanceStore, answer_figures
from fengqiao.store.orders import OrderStore

from .conftest import T0
from .intake_helpers import fill, make_app, settle

runner = CliRunner()
GOOD = """
[[answer]]
id = "KB1"
tags = ["D02"]
title = "社保卡补办"
text = "带身份证到窗口补办"
source = "指南"
owner = "RSJ"
expires = "2027-12-31"
keywords = ["社保卡"]
"""


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (('tags = ["D02"]', 'tags = ["Q99"]'), "Q99"),
        (('owner = "RSJ"', 'owner = "NOPE"'), "NOPE"),
        (('expires = "2027-12-31"', 'expires = "someday"'), "someday"),
        (('source = "指南"', 'source = "指南"\ncolour = "red"'), "colour"),
        (('title = "社保卡补办"', 'title = ""'), "title"),
    ],
)
def test_a_bad_entry_is_named_with_its_field(
    tmp_path: Path, ref: Reference, change: tuple[str, str], needle: str
) -> None:
    path = tmp_path / "answers.toml"
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=needle) as info:
        load_answers(path, ref)
    assert "answers.toml" in str(info.value) and "1" in str(info.value)


def test_a_duplicate_id_is_refused(tmp_path: Path, ref: Reference) -> None:
    path = tmp_path / "answers.toml"
    path.write_text(GOOD + GOOD, encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="KB1"):
        load_answers(path, ref)


def test_the_shipped_answers_load_and_match_their_callers(ref: Reference) -> None:
    answers = default_answers(ref)
    assert len(answers) >= 10
    today = date(2026, 11, 28)
    assert [a.id for a in best_answers(answers, "我的社保卡丢了怎么补办", ["D02"], today)][:1] == ["KB001"]
    assert [a.id for a in best_answers(answers, "异地看病怎么备案报销", ["D03"], today)][:1] == ["KB004"]
    assert best_answers(answers, "楼上邻居太吵了", ["B04"], today) == []  # no answer's words: nothing offered
    # an expired answer is hidden (KB005 expires 2026-12-31)
    assert "KB005" not in [a.id for a in best_answers(answers, "医保什么时候交", ["D03"], date(2027, 1, 5))]


def test_a_call_answered_on_the_spot_and_a_call_back_two_hours_later_counts_against_the_answer(
    db: Database, ref: Reference, clock: FixedClock
) -> None:
    desk = make_desk(ref, "110-1", "call_taker")
    g = GovernanceStore(db, ref=ref, desk=desk, clock=clock)
    form = IntakeForm(phone="13857512345", town="HZ", description="社保卡丢了怎么补办")
    done = g.answer_call(form, "KB001")
    assert (done.tag, done.answer_id, done.owner) == ("D02", "KB001", "RSJ")
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 0
        assert conn.exec_driver_sql("SELECT order_id FROM calls").scalar() == done.id
    window = (clock() - timedelta(hours=1), clock() + timedelta(days=3))
    (before,) = answer_figures(db, ref, *window)
    assert (before.answered, before.called_back, before.spot_rate) == (1, 0, 1.0)
    clock.advance(hours=2)
    OrderStore(db, ref=ref, desk=desk, clock=clock).dispatch(
        IntakeForm(phone="13857512345", town="HZ", description="还是不会补办社保卡"), "D02"
    )
    (after,) = answer_figures(db, ref, *window)
    assert (after.answered, after.called_back, after.dispatched_same_tags) == (1, 1, 1)
    assert after.callback_rate == 1.0 and after.spot_rate == 0.5
    assert verify(db).faults == []


def test_a_call_after_72_hours_is_not_a_call_back(db: Database, ref: Reference, clock: FixedClock) -> None:
    desk = make_desk(ref, "110-1", "call_taker")
    g = GovernanceStore(db, ref=ref, desk=desk, clock=clock)
    g.answer_call(IntakeForm(phone="13857512345", town="HZ", description="社保卡"), "KB001")
    clock.advance(hours=73)
    g.answer_call(IntakeForm(phone="13857512345", town="HZ", description="社保卡"), "KB001")
    (f,) = answer_figures(db, ref, clock() - timedelta(days=5), clock() + timedelta(hours=1))
    assert (f.answered, f.called_back) == (2, 0)


def test_refusals_are_one_line_and_write_nothing(db: Database, ref: Reference, clock: FixedClock) -> None:
    g = GovernanceStore(db, ref=ref, desk=make_desk(ref, "110-1", "call_taker"), clock=clock)
    form = IntakeForm(phone="13857512345", town="HZ", description="x")
    with pytest.raises(ValidationError, match="KB999"):
        g.answer_call(form, "KB999")
    with pytest.raises(ValidationError, match="B04"):
        g.answer_call(form, "KB001", tag="B04")
    clock.set(T0.replace(year=2027, month=1, day=5))
    with pytest.raises(ValidationError, match="KB005"):
        g.answer_call(form, "KB005")  # expired
    dept = GovernanceStore(db, ref=ref, desk=make_desk(ref, "rsj", "department", dept="RSJ"), clock=clock)
    with pytest.raises(PermissionDenied):
        dept.answer_call(form, "KB001")
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == 0


def test_cli_answer_answers_and_kpi(db_path: Path) -> None:
    result = runner.invoke(cli_app, ["--db", str(db_path), "answer", "KB001", "--town", "HZ", "--phone", "13857512345", "--text", "社保卡丢了"])  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(runner.invoke(cli_app, ["--db", str(db_path), "kpi", "--json"]).output)["answers"]
    assert [(a["owner"], a["answered"]) for a in shown] == [("RSJ", 1)]
    listed = json.loads(runner.invoke(cli_app, ["--db", str(db_path), "answers", "--owner", "RSJ", "--json"]).output)
    assert {a["id"] for a in listed["answers"]} >= {"KB001", "KB003"}
    bad = runner.invoke(cli_app, ["--db", str(db_path), "answer", "KB999", "--town", "HZ", "--phone", "13857512345"])
    assert bad.exit_code != 0 and "KB999" in bad.output and len(bad.output.strip().splitlines()) == 1


def test_the_reports_carry_the_calls_answered_on_the_spot(db_path: Path, tmp_path: Path) -> None:
    from datetime import timedelta

    from openpyxl import load_workbook

    base = ["--db", str(db_path)]
    result = runner.invoke(cli_app, [*base, "answer", "KB001", "--town", "HZ", "--phone", "13857512345", "--text", "社保卡丢了"])  # fmt: skip
    assert result.exit_code == 0, result.output
    from fengqiao.models.clock import local, system_clock

    today = local(system_clock()).date()
    window = ["--from", (today - timedelta(days=7)).isoformat(), "--to", today.isoformat()]
    for fmt in ("json", "md", "xlsx"):
        out = tmp_path / f"r.{fmt}"
        done = runner.invoke(cli_app, [*base, "report", *window, "--format", fmt, "-o", str(out)])
        assert done.exit_code == 0, done.output
    answers = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["answers"]
    assert [(a["owner"], a["answered"], a["spot_rate"]) for a in answers if a["answered"]] == [("RSJ", 1, 1.0)]
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "## 直接办结（知识库当场答复）" in md and "| RSJ | 人力资源和社会保障局 | 1 | 100.0% |" in md
    sheet = load_workbook(tmp_path / "r.xlsx")["直接办结（知识库当场答复）"]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert ["RSJ", "人力资源和社会保障局", 1, 1.0, 0.0] in rows


# ---- the console ---------------------------------------------------------------------------------------


async def test_ctrl_r_reads_the_answer_and_enter_answers_on_the_spot(db, ref) -> None:  # noqa: ANN001
    app = make_app(db, ref, FixedClock(T0))
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "hz", "黄泽镇前岩村", "我的社保卡丢了，想问下怎么补办")
        assert "KB001" in str(app.screen.query_one("#kb-line").render())
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert isinstance(app.screen, AnswerReader)
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, AnswerReader)
        assert app.screen.query_one("#phone").value == ""  # the form is ready for the next call
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT answer_id, tag FROM answered").all() == [("KB001", "D02")]
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 0


async def test_ctrl_r_with_no_fitting_answer_says_so(db, ref) -> None:  # noqa: ANN001
    app = make_app(db, ref, FixedClock(T0))
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "hz", "黄泽镇前岩村", "楼上邻居半夜吵闹")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert not isinstance(app.screen, AnswerReader)
        assert "答复" in str(app.screen.query_one("#msg").render())


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_answer_reader(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await fill(pilot, "13857512345", "hz", "黄泽镇前岩村", "社保卡丢了怎么补办，还有工资被拖欠怎么投诉")
        await pilot.press("ctrl+r")
        await settle(pilot)

    assert snap_compare(make_app(db, ref, FixedClock(T0), lang=lang), terminal_size=size, run_before=run_before)


async def test_a_knowledge_base_synced_while_the_console_runs_is_offered_at_once(db, ref) -> None:  # noqa: ANN001
    """No restart: the next words the call-taker types are matched against the version the sync just kept."""
    from importlib import resources

    from fengqiao.store.kb import keep_synced

    shipped = (Path(str(resources.files("fengqiao.fixtures"))) / "answers.toml").read_text(encoding="utf-8")
    extra = (
        '\n[[answer]]\nid = "KB900"\ntags = ["C03"]\ntitle = "黄泽镇计划停水"\n'
        'text = "12月3日黄泽镇区管网检修停水，请提前储水。"\nsource = "县水务集团停水公告"\nowner = "SW"\n'
        'expires = "2027-01-31"\nkeywords = ["停水", "没水"]\n'
    )
    app = make_app(db, ref, FixedClock(T0))
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "hz", "黄泽镇前岩村", "家里怎么停水了")
        assert "KB900" not in [a.id for a in app.screen.fitting_answers()]
        keep_synced(db, ref, shipped + extra, T0)  # what a sync round does with the server's new version
        await pilot.press("space")
        await settle(pilot)
        assert "KB900" in [a.id for a in app.screen.fitting_answers()]
