"""The return rate (回退率), the redo rate (重办率) and the weight of 基本满意 in the satisfaction rate (issue 17 item 5).

Hand-built timelines through the real state machine, with exact expected values; rollups equal to the raw
computation; ``kpi --json`` keeps its old fields; a bad ``[kpi] basic_weight`` is one clear line; migration 0014
fills ``orders.redo_count`` from the event log and rebuilds the rollups.

The redo timeline (calls on 2026-11-21 from 09:00 Shanghai, clock at 2026-11-28 09:30; phones unique):

=====  ====================================================================================  ======  ====
order  story                                                                                 redo    base
=====  ====================================================================================  ======  ====
p1     SCJG B01: fed back, visit unsatisfied, reopened, fed back, visit satisfied, closed     yes     yes
p2     SCJG B01: visit unsatisfied, reopened, fed back again, not visited again               yes     yes
p3     SCJG B01: fed back unresolved, reopened (no visit: not a redo), visit basic            no      yes
p4     SCJG B01: visit unsatisfied, reopened, unresolved, reopened again, visit satisfied     yes     yes
p5     SCJG B01: fed back, never visited                                                      no      no
p6     dual B02 (ZJJ + 鹿山派出所): visit unsatisfied, reopened (ZJJ reworks), visit satisfied  ZJJ     ZJJ
p8     SCJG B01: visit unsatisfied, reopened, then cancelled (left out of every rate)         —       —
=====  ====================================================================================  ======  ====

SCJG: redo 3/4 = 0.75, return 0/5; satisfaction (p1, p4 satisfied, p3 basic) 3/3, with basic_weight 0.5
(2 + 0.5)/3. ZJJ: redo 1/1. 鹿山派出所: no redo base (a reopen does not send the police back), satisfaction 1/1.
Total: redo 4/5 = 0.8.

On the shared week (tests/kpi_timeline.py): SCJG returned o5, o6, o7 (judged unjustified, justified, not judged:
all are returns) of its 8 assignments, 3/8; ZJJ 0/2; SFJ 0/4; the police station cannot return (no return base);
the total 3/14. Redo: SCJG's visited orders o1, o2, o4, none reopened after a visit (o4's reopen followed an
unresolved feedback), 0/3.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fengqiao.console.cli import app
from fengqiao.models.clock import UTC, FixedClock
from fengqiao.models.errors import ValidationError
from fengqiao.models.kpi import Counts, KpiRow, Weights, Window, rates, satisfaction
from fengqiao.models.machine import Action
from fengqiao.store import migrations, rollups
from fengqiao.store.audit import verify
from fengqiao.store.db import Database
from fengqiao.store.kpi import KpiStore
from fengqiao.store.orders import OrderStore

from . import kpi_timeline as week

WEEK = Window(date(2026, 11, 20), date(2026, 11, 28))
RATES_STEP = next(v for v, name in migrations.steps() if name.endswith("_rates.py"))  # 0014 (after 0013_co_units)
T1 = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # 2026-11-21 09:00 Shanghai
M = timedelta(minutes=1)
H = timedelta(hours=1)


def build_redo(store: OrderStore, clock: FixedClock) -> dict[str, str]:
    """The redo timeline of the module docstring; leaves the clock at week.END."""
    clock.set(week.END)
    act, course = week.act, week.full_course
    o: dict[str, str] = {}

    t = T1
    o["p1"] = week.dispatch(store, "13900000101", "B01", t)
    course(store, o["p1"], t, sign=5, arrive=20, feedback=2 * H)
    act(store, o["p1"], t + 3 * H, Action.VISIT, satisfaction="unsatisfied")
    act(store, o["p1"], t + 4 * H, Action.REOPEN, note="群众不满意")
    act(store, o["p1"], t + 6 * H, Action.FEEDBACK, result="resolved", note="重新处置")
    act(store, o["p1"], t + 7 * H, Action.VISIT, satisfaction="satisfied")
    act(store, o["p1"], t + 8 * H, Action.CLOSE)

    t = T1 + 10 * M
    o["p2"] = week.dispatch(store, "13900000102", "B01", t)
    course(store, o["p2"], t, sign=5, arrive=20, feedback=2 * H)
    act(store, o["p2"], t + 3 * H, Action.VISIT, satisfaction="unsatisfied")
    act(store, o["p2"], t + 4 * H, Action.REOPEN, note="群众不满意")
    act(store, o["p2"], t + 6 * H, Action.FEEDBACK, result="resolved", note="重新处置")

    t = T1 + 20 * M
    o["p3"] = week.dispatch(store, "13900000103", "B01", t)
    course(store, o["p3"], t, sign=5, arrive=20, feedback=2 * H, result="unresolved")
    act(store, o["p3"], t + 3 * H, Action.REOPEN, note="未化解，重新办理")
    act(store, o["p3"], t + 5 * H, Action.FEEDBACK, result="resolved", note="已化解")
    act(store, o["p3"], t + 6 * H, Action.VISIT, satisfaction="basic")

    t = T1 + 30 * M
    o["p4"] = week.dispatch(store, "13900000104", "B01", t)
    course(store, o["p4"], t, sign=5, arrive=20, feedback=2 * H)
    act(store, o["p4"], t + 3 * H, Action.VISIT, satisfaction="unsatisfied")
    act(store, o["p4"], t + 4 * H, Action.REOPEN, note="群众不满意")
    act(store, o["p4"], t + 6 * H, Action.FEEDBACK, result="unresolved", note="仍未解决")
    act(store, o["p4"], t + 7 * H, Action.REOPEN, note="再次办理")
    act(store, o["p4"], t + 9 * H, Action.FEEDBACK, result="resolved", note="已化解")
    act(store, o["p4"], t + 10 * H, Action.VISIT, satisfaction="satisfied")

    t = T1 + 40 * M
    o["p5"] = week.dispatch(store, "13900000105", "B01", t)
    course(store, o["p5"], t, sign=5, arrive=20, feedback=2 * H)

    t = T1 + 50 * M
    o["p6"] = week.dispatch(store, "13900000106", "B02", t)
    for minutes, action, who in ((3, Action.SIGN, "GA"), (4, Action.SIGN, "ZJJ"), (12, Action.ARRIVE, "GA")):
        act(store, o["p6"], t + minutes * M, action, assignee=who)
    act(store, o["p6"], t + 20 * M, Action.ARRIVE, assignee="ZJJ")
    act(store, o["p6"], t + 2 * H, Action.FEEDBACK, assignee="GA", result="resolved", note="现场秩序正常")
    act(store, o["p6"], t + 3 * H, Action.FEEDBACK, assignee="ZJJ", result="resolved", note="已协调物业")
    act(store, o["p6"], t + 4 * H, Action.VISIT, satisfaction="unsatisfied")
    act(store, o["p6"], t + 5 * H, Action.REOPEN, note="群众不满意")
    act(store, o["p6"], t + 7 * H, Action.FEEDBACK, assignee="ZJJ", result="resolved", note="重新协调")
    act(store, o["p6"], t + 8 * H, Action.VISIT, satisfaction="satisfied")

    t = T1 + 60 * M
    o["p8"] = week.dispatch(store, "13900000108", "B01", t)
    course(store, o["p8"], t, sign=5, arrive=20, feedback=2 * H)
    act(store, o["p8"], t + 3 * H, Action.VISIT, satisfaction="unsatisfied")
    act(store, o["p8"], t + 4 * H, Action.REOPEN, note="群众不满意")
    act(store, o["p8"], t + 5 * H, Action.CANCEL, note="报警人撤回")
    return o


def _rows(table: Any) -> dict[str, dict[str, Any]]:
    return {r.key: r.to_json() for r in [*table.rows, table.total]}


def both(db: Database, clock: FixedClock, weights: Weights = Weights()) -> tuple[KpiStore, KpiStore]:
    return KpiStore(db, clock=clock, weights=weights), KpiStore(db, clock=clock, weights=weights, rollups=False)


# ---- pure -----------------------------------------------------------------------------------------------


def test_satisfaction_weighs_basic() -> None:
    c = Counts(visited=4, satisfied=3, basic_satisfied=2)  # 1 satisfied, 2 basic, 1 unsatisfied
    assert satisfaction(c) == 0.75 and satisfaction(c, 0.5) == 0.5 and satisfaction(c, 0.0) == 0.25
    assert satisfaction(Counts(), 0.5) is None
    assert rates(c)["satisfaction_rate"] == 0.75 and rates(c, Weights(basic_weight=0.5))["satisfaction_rate"] == 0.5
    assert KpiRow("X", "x", c, weights=Weights(basic_weight=0.5)).to_json()["satisfaction_rate"] == 0.5
    c = Counts(return_base=8, returned=3, redo_base=4, redone=3)
    r = rates(c)
    assert (r["return_rate"], r["redo_rate"]) == (0.375, 0.75)
    # outside the score: the score of a row is what it was before the two rates existed
    graded = Counts(sign_base=2, signed_on_time=1, return_base=8, returned=8, redo_base=1, redone=1)
    assert KpiRow("X", "x", graded).score == 50.0


def test_basic_weight_from_the_config() -> None:
    assert Weights.from_config({}).basic_weight == 1.0
    assert Weights.from_config({"basic_weight": 0.5}).basic_weight == 0.5
    assert Weights.from_config({"basic_weight": 0}).basic_weight == 0.0
    assert Weights.from_config({"basic_weight": 1, "weights": {"sign": 40}}) == Weights(sign=40)
    assert "basic_weight" not in Weights(basic_weight=0.5).as_dict()  # [kpi.weights] stays the five
    for bad in (1.5, -0.1, "half", True, float("nan"), [0.5]):
        with pytest.raises(ValidationError, match="basic_weight"):
            Weights.from_config({"basic_weight": bad})


# ---- the redo timeline -------------------------------------------------------------------------------------


@pytest.fixture
def redo(store: OrderStore, clock: FixedClock) -> dict[str, str]:
    return build_redo(store, clock)


def test_redo_rate_is_exact(db: Database, clock: FixedClock, redo: dict[str, str]) -> None:
    for ks in both(db, clock):
        rows = _rows(ks.table(WEEK, "department"))
        scjg, zjj, police, total = rows["SCJG"], rows["ZJJ"], rows["GA-LS"], rows["ALL"]
        # p1, p2, p4 reopened after a visit; p3 reopened after an unresolved feedback; p5 never visited; p8 cancelled
        assert (scjg["redone"], scjg["redo_base"], scjg["redo_rate"]) == (3, 4, 0.75)
        assert scjg["reopened"] == 4
        assert (zjj["redone"], zjj["redo_base"], zjj["redo_rate"]) == (1, 1, 1.0)
        assert (police["redone"], police["redo_base"], police["redo_rate"]) == (0, 0, None)  # not the lead
        assert (total["redone"], total["redo_base"], total["redo_rate"]) == (4, 5, 0.8)
        assert (scjg["returned"], scjg["return_base"], scjg["return_rate"]) == (0, 5, 0.0)
        assert (police["return_base"], police["return_rate"]) == (0, None)
        town = _rows(ks.table(WEEK, "town"))["LS"]
        assert (town["redone"], town["redo_base"]) == (4, 5)
        only = _rows(ks.table(WEEK, "department", dept="ZJJ"))["ALL"]
        assert (only["redone"], only["redo_base"]) == (1, 1)
    with db.read() as conn:
        counts = dict(conn.exec_driver_sql("SELECT order_no, redo_count FROM orders").all())
        assert rollups.differences(conn) == 0
    assert {k: counts[v] for k, v in redo.items()} == {"p1": 1, "p2": 1, "p3": 0, "p4": 1, "p5": 0, "p6": 1, "p8": 1}


def test_basic_weight_half_against_the_default(db: Database, clock: FixedClock, redo: dict[str, str]) -> None:
    default = [_rows(ks.table(WEEK, "department")) for ks in both(db, clock)]
    half = [_rows(ks.table(WEEK, "department")) for ks in both(db, clock, Weights(basic_weight=0.5))]
    for rows in default:
        scjg = rows["SCJG"]
        assert (scjg["satisfied"], scjg["basic_satisfied"], scjg["visited"]) == (3, 1, 3)
        assert scjg["satisfaction_rate"] == 1.0
        assert rows["GA-LS"]["satisfaction_rate"] == 1.0 and rows["ALL"]["satisfaction_rate"] == 1.0
    for rows in half:
        assert rows["SCJG"]["satisfaction_rate"] == round(2.5 / 3, 6) == 0.833333
        assert rows["ALL"]["satisfaction_rate"] == round(3.5 / 4, 6) == 0.875  # p1, p4, p6 satisfied; p3 basic
        assert rows["GA-LS"]["satisfaction_rate"] == 1.0
    for d, h in zip(default[0].values(), half[0].values(), strict=True):
        assert d["score"] == h["score"]  # the satisfaction rate is not in the score
        assert {k: v for k, v in d.items() if k != "satisfaction_rate"} == {
            k: v for k, v in h.items() if k != "satisfaction_rate"
        }


# ---- the shared week: returns -------------------------------------------------------------------------------


def test_return_rate_on_the_week(db: Database, store: OrderStore, clock: FixedClock) -> None:
    week.build(store, clock)
    for ks in both(db, clock):
        rows = _rows(ks.table(WEEK, "department"))
        scjg = rows["SCJG"]
        assert (scjg["returned"], scjg["return_base"], scjg["return_rate"]) == (3, 8, 0.375)
        assert (scjg["returned_justified"], scjg["returned_unjustified"], scjg["returned_unjudged"]) == (1, 1, 1)
        assert (rows["ZJJ"]["returned"], rows["ZJJ"]["return_base"], rows["ZJJ"]["return_rate"]) == (0, 2, 0.0)
        assert (rows["SFJ"]["return_base"], rows["SFJ"]["return_rate"]) == (4, 0.0)
        assert (rows["GA-LS"]["return_base"], rows["GA-LS"]["return_rate"]) == (0, None)  # police cannot return
        assert (rows["ALL"]["returned"], rows["ALL"]["return_base"]) == (3, 14)
        assert rows["ALL"]["return_rate"] == round(3 / 14, 6)
        assert (scjg["redone"], scjg["redo_base"], scjg["redo_rate"]) == (0, 3, 0.0)  # o4: reopened, no redo
        assert scjg["basic_satisfied"] == 1 and scjg["satisfaction_rate"] == round(2 / 3, 6)
        assert scjg["score"] == 58.0  # unchanged by the new rates
        first = _rows(ks.table(Window(date(2026, 11, 20), date(2026, 11, 20)), "department"))["SCJG"]
        assert (first["returned"], first["return_base"]) == (3, 7)  # o8 came in on the 28th


# ---- the command line ----------------------------------------------------------------------------------------

OLD_ROW_KEYS = (
    "key name rank dispatched sign_rate arrival_rate feedback_rate resolution_rate repeat_rate satisfaction_rate "
    "onsite_resolution_rate score sign_base signed_on_time arrival_base arrived_on_time feedback_base "
    "fed_back_on_time returned_justified returned_unjustified returned_unjudged extended orders orders_fed_back "
    "resolved repeat_orders repeat_base visited satisfied onsite_fed_back onsite_resolved reopened "
    "sign_minutes_n sign_minutes_p50 sign_minutes_p90 arrive_minutes_n arrive_minutes_p50 arrive_minutes_p90 "
    "feedback_minutes_n feedback_minutes_p50 feedback_minutes_p90 dual_gap_minutes_n dual_gap_minutes_p50 "
    "dual_gap_minutes_p90"
).split()
OLD_TOP_KEYS = ["from", "to", "by", "dept", "rows", "total", "weights", "generated_at", "answers"]
NEW_ROW_KEYS = ["return_rate", "redo_rate", "return_base", "returned", "basic_satisfied", "redo_base", "redone"]


def _cli(db_path: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--db", str(db_path), *args])


def test_kpi_json_keeps_its_shape_and_reads_basic_weight(
    db: Database, db_path: Path, clock: FixedClock, redo: dict[str, str], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr("fengqiao.console.commands.kpi.system_clock", clock)
    args = ("kpi", "--from", "2026-11-20", "--to", "2026-11-28", "--json")
    out = _cli(db_path, *args)
    assert out.exit_code == 0, out.output
    plain = json.loads(out.stdout)
    assert [k for k in plain if k in OLD_TOP_KEYS] == OLD_TOP_KEYS
    assert plain["basic_weight"] == 1.0 and list(plain["weights"]) == [
        "sign",
        "arrival",
        "feedback",
        "resolution",
        "repeat",
    ]
    for row in [*plain["rows"], plain["total"]]:
        missing = [k for k in [*OLD_ROW_KEYS, *NEW_ROW_KEYS] if k not in row]
        assert not missing, missing
    by_key = {r["key"]: r for r in plain["rows"]}
    assert (by_key["SCJG"]["redo_rate"], by_key["SCJG"]["satisfaction_rate"]) == (0.75, 1.0)

    config = tmp_path / "config.toml"
    config.write_text("[kpi]\nbasic_weight = 0.5\n", encoding="utf-8")
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    half = json.loads(_cli(db_path, *args).stdout)
    assert half["basic_weight"] == 0.5
    assert {r["key"]: r for r in half["rows"]}["SCJG"]["satisfaction_rate"] == 0.833333
    assert half["total"]["score"] == plain["total"]["score"]

    text = _cli(db_path, "kpi", "--from", "2026-11-20", "--to", "2026-11-28")
    assert text.exit_code == 0 and "回退率" in text.stdout and "重办率" in text.stdout and "75.0%" in text.stdout

    for bad in ("1.5", '"half"', "-1", "true"):
        config.write_text(f"[kpi]\nbasic_weight = {bad}\n", encoding="utf-8")
        result = _cli(db_path, *args)
        assert result.exit_code != 0 and "Traceback" not in result.output
        err = result.stderr.strip()
        assert len(err.splitlines()) == 1 and "basic_weight" in err, err


def test_reports_carry_the_new_rates(
    db: Database, db_path: Path, clock: FixedClock, redo: dict[str, str], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr("fengqiao.console.commands.kpi.system_clock", clock)
    config = tmp_path / "config.toml"
    config.write_text("[kpi]\nbasic_weight = 0.5\n", encoding="utf-8")
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    window = ("--from", "2026-11-20", "--to", "2026-11-28")
    for fmt in ("md", "json"):
        result = _cli(db_path, "report", *window, "--format", fmt, "-o", str(tmp_path / f"r.{fmt}"))
        assert result.exit_code == 0, result.output
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    scjg = next(line for line in md.splitlines() if line.startswith("| ") and "| SCJG |" in line)
    assert "| 75.0% |" in scjg and "| 83.3% |" in scjg  # redo 3/4; satisfaction (2 + 0.5)/3
    assert "回退率 = " in md and "重办率 = " in md and "基本满意权重 0.5" in md
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["basic_weight"] == 0.5
    dept = {r["key"]: r for r in report["views"]["department"]["rows"]}
    assert (dept["SCJG"]["redo_rate"], dept["ZJJ"]["redo_rate"], dept["GA-LS"]["return_rate"]) == (0.75, 1.0, None)


# ---- migration 0014 ---------------------------------------------------------------------------------------------


def test_migration_fills_redo_count_from_the_log(
    db: Database, db_path: Path, store: OrderStore, clock: FixedClock
) -> None:
    week.build(store, clock)
    build_redo(store, clock)
    want = [_rows(KpiStore(db, clock=clock).table(WEEK, by)) for by in ("department", "town", "tag")]
    with db.read() as conn:
        redo_counts = dict(conn.exec_driver_sql("SELECT id, redo_count FROM orders").all())
    db.close()
    # Back to the schema before this step: without its columns (their values gone), the version number of before.
    import sqlite3

    raw = sqlite3.connect(db_path)
    raw.execute("ALTER TABLE orders DROP COLUMN redo_count")
    for column in ("return_base", "returned", "basic_satisfied", "redo_base", "redone"):
        raw.execute(f"ALTER TABLE kpi_rollup DROP COLUMN {column}")
    raw.execute(f"PRAGMA user_version = {RATES_STEP - 1}")
    raw.commit()
    raw.close()

    new = Database(db_path)  # opening migrates: 0014 replays the orders with reopens, then rebuilds the rollups
    try:
        with new.read() as conn:
            assert dict(conn.exec_driver_sql("SELECT id, redo_count FROM orders").all()) == redo_counts
            assert sum(redo_counts.values()) == 5  # p1, p2, p4, p6, p8 (cancelled, still counted on the order)
            assert rollups.differences(conn) == 0
            assert conn.exec_driver_sql("SELECT count(*) FROM meta WHERE key = 'kpi.rollups'").scalar() == 0
        got = [_rows(KpiStore(new, clock=clock).table(WEEK, by)) for by in ("department", "town", "tag")]
        assert got == want
        assert not verify(new, clock=clock).faults
    finally:
        new.close()


def test_a_file_stopped_at_an_older_version_keeps_the_rebuild_for_later(db_path: Path) -> None:
    """Upgrading part of the way (target=10: the rollup tables, without this step's columns) leaves the rebuild
    marker for later instead of writing the newest code's counts into tables of an older shape; opening the file
    then migrates it to the newest and rebuilds (store/migrations/__init__.py)."""
    old = Database(db_path, migrate=False)
    with old.write() as conn:
        assert migrations.upgrade(conn, db_path, target=10) == 10
    with old.read() as conn:
        assert conn.exec_driver_sql("SELECT value FROM meta WHERE key = 'kpi.rollups'").scalar() == "rebuild"
    old.close()
    new = Database(db_path)
    try:
        assert new.schema_version() == migrations.head()
        with new.read() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM meta WHERE key = 'kpi.rollups'").scalar() == 0
    finally:
        new.close()


# ---- the cockpit -------------------------------------------------------------------------------------------------


async def test_cockpit_shows_the_return_and_redo_rates(db_path: Path, store: OrderStore, clock: FixedClock) -> None:
    """Both timelines in one store: over 30 days returns 3 of 20 assignments that may return (15.0%), redos 4 of 8 visited
    orders (50.0%); today (only o8) a return rate of 0/1 and no redo base. Shown at 80x24, lower is better (↓)."""
    from fengqiao.console.app import FengqiaoApp
    from fengqiao.models.reference import default_reference
    from fengqiao.models.roles import make_desk

    from .intake_helpers import settle

    week.build(store, clock)
    build_redo(store, clock)
    desk = make_desk(default_reference(), "指挥中心-督导台", "supervisor", operator="李四")
    app_ = FengqiaoApp(db=Database(db_path), desk=desk, clock=FixedClock(week.END), watch_store=False)
    async with app_.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = [strip.text for strip in app_.screen._compositor.render_strips()]  # noqa: SLF001
    found = {
        line.split()[0]: [w for w in line.split() if w.endswith("%") or w == "—"] for line in lines if "率↓" in line
    }
    assert found["回退率↓"][:3] == ["0.0%", "0.0%", "15.0%"], found
    assert found["重办率↓"][:3] == ["—", "—", "50.0%"], found


def test_console_uses_the_defaults_and_says_why(tmp_path: Path) -> None:
    """The console (and its cockpit) opens with a bad basic_weight: the defaults, and the one line it shows once."""
    from fengqiao.console.app import config_weights
    from fengqiao.console.config import load_config

    config = tmp_path / "config.toml"
    config.write_text("[kpi]\nbasic_weight = 2\n", encoding="utf-8")
    weights, problem = config_weights(load_config(config))
    assert weights == Weights() and problem is not None
    assert "basic_weight" in problem and "「2」" in problem and "\n" not in problem
    config.write_text("[kpi]\nbasic_weight = 0.5\n", encoding="utf-8")
    assert config_weights(load_config(config)) == (Weights(basic_weight=0.5), None)
