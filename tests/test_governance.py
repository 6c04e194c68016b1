"""Risk warnings (预警) and task-force cases (专班): rules, lifecycle, roles, `check`, the CLI and the console.

These tests run with the shipped rules (``warning_rules``); elsewhere they are off (tests/conftest.py).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fengqiao.console.cli import app as cli_app
from fengqiao.models import governance as gov
from fengqiao.models.clock import FixedClock
from fengqiao.models.errors import DomainError, NotFound, PermissionDenied, ValidationError
from fengqiao.models.governance import RecentCall, WarningRules
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Event
from fengqiao.models.reference import Reference
from fengqiao.models.roles import make_desk
from fengqiao.models.validate import validate_event
from fengqiao.store.audit import verify
from fengqiao.store.db import Database
from fengqiao.store.governance import GovernanceStore, parse_rules
from fengqiao.store.orders import OrderStore

from .conftest import T0

pytestmark = pytest.mark.warning_rules
runner = CliRunner()
ADDRESS = "黄泽镇前岩村3号"
PHONES = ["13857512345", "13900001111", "13700002222", "13600003333", "13500004444"]
WORDS = ["楼上装修天天很吵", "邻居家狗叫一夜", "隔壁占了我家的路", "楼上漏水到我家", "邻居堆放杂物"]


def call_taker(db: Database, ref: Reference, clock: FixedClock) -> OrderStore:
    return OrderStore(db, ref=ref, desk=make_desk(ref, "110-1", "call_taker", operator="张三"), clock=clock)


def township(db: Database, ref: Reference, clock: FixedClock, town: str = "HZ") -> GovernanceStore:
    return GovernanceStore(db, ref=ref, desk=make_desk(ref, f"{town}-centre", "township", town=town), clock=clock)


def take(store: OrderStore, i: int, *, address: str = ADDRESS, tag: str = "B04", town: str = "HZ") -> list[Event]:
    store.dispatch(IntakeForm(phone=PHONES[i], town=town, address=address, description=WORDS[i]), tag)
    return store.raised


# ---- the rules ----------------------------------------------------------------------------------------


def test_third_call_about_one_address_in_a_week_raises_a_yellow_warning_and_the_second_does_not(
    db: Database, ref: Reference, clock: FixedClock
) -> None:
    store = call_taker(db, ref, clock)
    assert take(store, 0) == []
    clock.advance(days=2)
    assert take(store, 1, address="黄泽镇 前岩村 3 号") == []  # spaces do not make it another address
    clock.advance(days=3)
    raised = take(store, 2)
    assert [(e.payload["rule"], e.payload["level"]) for e in raised] == [("address", "yellow")]
    assert len(raised[0].payload["calls"]) == 3 and len(raised[0].payload["orders"]) == 3
    rows = township(db, ref, clock).warnings()
    assert [(r.rule, r.level, r.calls, r.status) for r in rows] == [("address", "yellow", 3, "open")]
    clock.advance(hours=1)
    assert take(store, 3) == []  # the open warning holds the problem: no second one


def test_calls_spread_over_more_than_seven_days_raise_nothing(db: Database, ref: Reference, clock: FixedClock) -> None:
    store = call_taker(db, ref, clock)
    for i in range(3):
        assert take(store, i) == []
        clock.advance(days=4)


def test_same_address_in_another_town_is_another_place(db: Database, ref: Reference, clock: FixedClock) -> None:
    store = call_taker(db, ref, clock)
    take(store, 0)
    take(store, 1)
    assert take(store, 2, town="SHH") == []


def test_danger_words_raise_a_red_warning_at_once(db: Database, ref: Reference, clock: FixedClock) -> None:
    store = call_taker(db, ref, clock)
    store.dispatch(IntakeForm(phone=PHONES[0], town="HZ", address="", description="他扬言要拿刀砍人"), "B04")
    assert [(e.payload["rule"], e.payload["level"]) for e in store.raised] == [("danger", "red")]
    assert "扬言" in store.raised[0].payload["summary"]


def test_a_second_call_on_an_unresolved_dispute_raises_an_orange_warning(
    db: Database, ref: Reference, clock: FixedClock
) -> None:
    store = call_taker(db, ref, clock)
    first = store.dispatch(IntakeForm(phone=PHONES[0], town="HZ", address="", description="工地拖欠工资"), "B03")
    assert store.raised == []
    clock.advance(hours=2)
    store.link(first.order_no, IntakeForm(phone=PHONES[0], town="HZ", description="还是没人来"))
    assert [(e.payload["rule"], e.payload["level"]) for e in store.raised] == [("dispute", "orange")]


def test_similar_words_from_three_callers_raise_one_orange_warning() -> None:
    rules = WarningRules()
    at = T0
    history = [
        RecentCall(
            f"c{i}", f"o{i}", PHONES[i], "HZ", f"地址{i}", "村口自来水管爆了水漫到路上", at - timedelta(hours=i + 1)
        )
        for i in range(2)
    ]
    new = RecentCall("c9", "o9", PHONES[4], "HZ", "另一处", "村口自来水管爆了水漫路上", at)
    trig = gov.evaluate(rules, new, history)
    assert [(t.rule, t.level, t.detail) for t in trig] == [("similar", "orange", "3")]
    assert gov.evaluate(rules, new, history[:1]) == []  # two callers are not enough


def test_config_rules_change_the_threshold_and_bad_ones_are_one_line(ref: Reference) -> None:
    rules = parse_rules(ref, {"address_calls": 2, "address_level": "orange"})
    assert (rules.address_calls, rules.address_level) == (2, "orange")
    with pytest.raises(ValidationError, match="address_level"):
        parse_rules(ref, {"address_level": "purple"})
    with pytest.raises(ValidationError, match="adress_calls"):
        parse_rules(ref, {"adress_calls": 2})


# ---- the lifecycle -------------------------------------------------------------------------------


def three_calls(db: Database, ref: Reference, clock: FixedClock) -> str:
    store = call_taker(db, ref, clock)
    for i in range(3):
        take(store, i)
        clock.advance(hours=5)
    (row,) = township(db, ref, clock).warnings()
    return row.no


def test_a_warning_is_signed_acted_on_and_closed_and_check_agrees(
    db: Database, ref: Reference, clock: FixedClock
) -> None:
    no = three_calls(db, ref, clock)
    hz = township(db, ref, clock)
    with pytest.raises(DomainError, match="先签收"):
        hz.close(no, "已化解")
    assert hz.sign(no).status == "signed"
    hz.measure(no, "村调委会上门调解")
    w = hz.close(no, "双方签订调解协议")
    assert (w.status, w.close_note) == ("closed", "双方签订调解协议")
    assert [e.kind for e in w.timeline] == ["warn_raise", "warn_sign", "warn_measure", "warn_close"]
    assert hz.warnings() == [] and [r.no for r in hz.warnings(status="closed")] == [no]
    with pytest.raises(DomainError):
        hz.measure(no, "再做点什么")
    report = verify(db)
    assert report.faults == []


def test_other_towns_and_departments_neither_see_nor_act(db: Database, ref: Reference, clock: FixedClock) -> None:
    no = three_calls(db, ref, clock)
    other = township(db, ref, clock, town="SHH")
    assert other.warnings() == []
    with pytest.raises(NotFound):
        other.sign(no)
    dept = GovernanceStore(db, ref=ref, desk=make_desk(ref, "scjg", "department", dept="SCJG"), clock=clock)
    with pytest.raises(NotFound):
        dept.sign(no)
    station = ref.towns["HZ"].station_code
    police = GovernanceStore(db, ref=ref, desk=make_desk(ref, "hz-pcs", "department", dept=station), clock=clock)
    assert police.sign(no).status == "signed"  # the town's police station signs too
    ct = GovernanceStore(db, ref=ref, desk=make_desk(ref, "110-1", "call_taker"), clock=clock)
    with pytest.raises(PermissionDenied):
        ct.close(no, "x")


def test_check_finds_a_warning_edited_by_hand(db: Database, ref: Reference, clock: FixedClock) -> None:
    no = three_calls(db, ref, clock)
    with db.write() as conn:
        conn.exec_driver_sql("UPDATE warnings SET status = 'closed' WHERE no = ?", (no,))
    faults = [f for f in verify(db).faults if f.kind == "subject"]
    assert len(faults) == 1 and no in faults[0].message and "status" in faults[0].message


def test_a_case_opened_from_a_warning_is_offered_two_later_calls_and_closes_them(
    db: Database, ref: Reference, clock: FixedClock
) -> None:
    no = three_calls(db, ref, clock)
    hz = township(db, ref, clock)
    hz.sign(no)
    w, case = hz.escalate(no, title="前岩村3号邻里矛盾专班", members=["SFJ"], follow_up="2026-12-20")
    assert w.status == "escalated" and w.case_id == case.id
    assert len(case.orders) == 3 and case.owner == "ZZ-HZ" and case.members == ["SFJ"]
    store = call_taker(db, ref, clock)
    ct_gov = GovernanceStore(db, ref=ref, desk=store.desk, clock=clock)
    offered = []
    for i in (3, 4):
        clock.advance(hours=3)
        touching = ct_gov.touching("HZ", "黄泽镇 前岩村3号", PHONES[i])
        offered.append([c.no for c in touching.cases])
        assert take(store, i) == []  # the place's problem is a case: no new warning
        order_no = store.list_orders(limit=1)[0].order_no
        ct_gov.add_to_case(case.no, order_no)
    assert offered == [[case.no], [case.no]]
    assert ct_gov.touching("HZ", "", PHONES[0]).cases[0].no == case.no  # a caller of one of its orders, too
    case = hz.case(case.no)
    assert len(case.orders) == 5
    with pytest.raises(PermissionDenied):
        ct_gov.close_case(case.no, "x")
    closed_case, closed = hz.close_case(case.no, "物业与业主达成协议")
    assert closed_case.status == "closed" and closed == []  # none of its orders was waiting to be closed
    assert [e.kind for e in closed_case.timeline] == ["case_open", "case_add", "case_add", "case_close"]
    assert verify(db).faults == []


def test_bad_case_input_is_one_line_and_writes_nothing(db: Database, ref: Reference, clock: FixedClock) -> None:
    hz = township(db, ref, clock)
    with db.read() as conn:
        before = conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
    for kwargs, match in (
        ({"title": "x", "town": "HZ", "owner": "NOPE"}, "NOPE"),
        ({"title": "x", "town": "HZ", "follow_up": "2026-13-01"}, "2026-13-01"),
        ({"title": "", "town": "HZ"}, "."),
        ({"title": "x", "town": "HZ", "order_nos": ["SZ-20990101-0001"]}, "SZ-20990101-0001"),
    ):
        with pytest.raises((ValidationError, NotFound), match=match):
            hz.open_case(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        hz.open_case(title="x", town="SHH")  # another town's
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == before


def test_subject_events_are_validated_like_order_events(ref: Reference) -> None:
    def ev(kind: str, payload: dict[str, object], subject: str = "warn-1") -> Event:
        return Event("e1", subject, kind, T0, T0, "d", "a", payload=payload)

    good = {
        "no": "YJ-SZ-20261128-001",
        "rule": "address",
        "level": "yellow",
        "town": "HZ",
        "key": "k",
        "summary": "s",
        "calls": ["c1"],
        "orders": ["o1"],
    }
    assert validate_event(ev("warn_raise", good), ref=ref, now=T0) is None
    assert validate_event(ev("warn_raise", {**good, "level": "purple"}), ref=ref, now=T0).field == "level"  # type: ignore[union-attr]
    assert validate_event(ev("warn_raise", {**good, "town": "QQ"}), ref=ref, now=T0).field == "town"  # type: ignore[union-attr]
    assert validate_event(ev("warn_raise", good, subject="0190-order"), ref=ref, now=T0).field == "order_id"  # type: ignore[union-attr]
    assert validate_event(ev("sign", {"note": ""}, subject="warn-1"), ref=ref, now=T0).field == "order_id"  # type: ignore[union-attr]
    bad_day = {"resolution": "r", "follow_up": "someday"}
    assert validate_event(ev("case_close", bad_day, "case-1"), ref=ref, now=T0).field == "follow_up"  # type: ignore[union-attr]


# ---- the CLI -----------------------------------------------------------------------------------------


def cli(db_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli_app, ["--db", str(db_path), *args])
    return result.exit_code, result.output


def test_cli_warnings_and_cases_round_trip(db_path: Path) -> None:
    for i in range(3):
        code, out = cli(
            db_path,
            "dispatch",
            "--town",
            "HZ",
            "--tag",
            "B04",
            "--text",
            WORDS[i],
            "--address",
            ADDRESS,
            "--phone",
            PHONES[i],
        )
        assert code == 0, out
    code, out = cli(db_path, "warnings", "--json")
    (w,) = json.loads(out)["warnings"]
    assert (w["rule"], w["level"], w["calls"]) == ("address", "yellow", 3)
    hz = ["--role", "township", "--desk-town", "HZ", "--desk", "hz"]
    assert cli(db_path, "warning", "sign", w["no"], *hz)[0] == 0
    code, out = cli(db_path, "warning", "escalate", w["no"], "--title", "前岩村专班", "--member", "SFJ", *hz)
    assert code == 0 and "ZB-" in out, out
    case_no = out.split("→")[-1].strip()
    code, out = cli(db_path, "case", "show", case_no, "--json")
    shown = json.loads(out)
    assert shown["title"] == "前岩村专班" and len(shown["orders"]) == 3 and shown["members"] == ["SFJ"]
    code, out = cli(db_path, "case", "list", "--json")
    assert [c["no"] for c in json.loads(out)["cases"]] == [case_no]
    code, out = cli(db_path, "case", "close", case_no, "--resolution", "达成协议", *hz)
    assert code == 0, out
    assert cli(db_path, "case", "list", "--json")[1].count(case_no) == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["warning", "sign", "YJ-NOPE"], "YJ-NOPE"),
        (["case", "open", "--title", "x", "--town", "QQ"], "QQ"),
        (["case", "open", "--title", "x", "--town", "HZ", "--follow-up", "soon"], "soon"),
        (["case", "close", "ZB-NOPE", "--resolution", "x"], "ZB-NOPE"),
    ],
)
def test_cli_bad_input_is_one_clear_line(db_path: Path, args: list[str], needle: str) -> None:
    code, out = cli(db_path, *args)
    assert code != 0
    assert needle in out and "Traceback" not in out and len(out.strip().splitlines()) == 1, out


def test_the_demo_shows_warnings_at_every_stage_and_a_case(db_path: Path) -> None:
    code, out = cli(db_path, "demo", "--orders", "60", "--days", "10")
    assert code == 0, out
    rows = json.loads(cli(db_path, "warnings", "--all", "--json")[1])["warnings"]
    assert {r["status"] for r in rows} == {"open", "signed", "closed", "escalated"}
    assert {r["level"] for r in rows} >= {"red", "yellow"}
    (case,) = json.loads(cli(db_path, "case", "list", "--json")[1])["cases"]
    assert case["orders"] == 3 and case["members"] == ["SFJ", "ZJJ"]
    code, out = cli(db_path, "check")
    assert code == 0, out
