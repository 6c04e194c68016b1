"""Lead and co-handling units (主办 / 协办, issue 17 item 1): an order has one lead unit and up to three co-units
(the police station of a dual dispatch is one of them), each with its own deadlines and steps; a co-unit's
feedback reports its part and does not complete the order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fengqiao.models.errors import DomainError, ValidationError
from fengqiao.models.i18n import using
from fengqiao.models.machine import Action, Status, legal_actions
from fengqiao.models.reference import default_reference
from fengqiao.models.routing import route
from fengqiao.models.validate import validate

from .test_cli import count, fails, ok

WAGES = ("--phone", "13857512345", "--town", "HZ", "--tag", "B03", "--text", "工地老板拖欠三个月工资，二十几个工人讨薪")


def test_route_takes_co_units_and_refuses_bad_ones() -> None:
    ref = default_reference()
    plan = route(ref, "B03", "HZ", mode="single", co=("zz", "SFJ"))
    assert [(a.code, a.role) for a in plan.assignees] == [("RSJ", "primary"), ("ZZ-HZ", "co"), ("SFJ", "co")]
    dual = route(ref, "B03", "HZ", co=("ZZ",))
    assert [(a.code, a.role) for a in dual.assignees] == [("RSJ", "primary"), ("GA-HZ", "police"), ("ZZ-HZ", "co")]
    with using("zh"):
        with pytest.raises(ValidationError, match="最多 3 个协办单位.*现在是 4 个"):
            route(ref, "B03", "HZ", co=("ZZ", "SFJ", "MZJ"))  # the police station of a dual dispatch counts
        with pytest.raises(ValidationError, match="不能是派出所"):
            route(ref, "B03", "HZ", mode="single", co=("GA",))
        with pytest.raises(ValidationError, match="已在这张工单上"):
            route(ref, "B03", "HZ", co=("RSJ",))  # the lead unit itself
        with pytest.raises(ValidationError, match="已在这张工单上"):
            route(ref, "B03", "HZ", co=("ZZ", "zz"))
        with pytest.raises(ValidationError):
            route(ref, "B03", "HZ", co=("NOSUCH",))
    assert len(route(ref, "B03", "HZ", mode="single", co=("ZZ", "SFJ", "MZJ")).co) == 3
    # a grassroots unit of the town may co-handle; one of another town may not
    plan = route(ref, "B03", "HZ", mode="single", co=("TJ-HZ-QY",))
    assert [(a.code, a.dept, a.role) for a in plan.co] == [("TJ-HZ-QY", "TJ", "co")]
    with using("zh"), pytest.raises(ValidationError, match="TJ-SHH-GS 不在黄泽镇"):
        route(ref, "B03", "HZ", co=("TJ-SHH-GS",))


def test_a_lead_and_two_co_units_where_the_co_units_feedback_does_not_complete_the_order(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    sent = json.loads(ok(db, "dispatch", *WAGES, "--single", "--with", "ZZ", "--with", "SFJ", "--json"))
    assert sent["assignees"] == ["RSJ", "ZZ-HZ", "SFJ"] and sent["co"] == ["ZZ-HZ", "SFJ"]
    no = sent["order_no"]
    order = json.loads(ok(db, "order", no, "--json"))
    roles = [(a["assignee"], a["role"]) for a in order["assignments"]]
    assert roles == [("RSJ", "primary"), ("ZZ-HZ", "co"), ("SFJ", "co")]
    assert all(a["sign_due"] and a["feedback_due"] for a in order["assignments"])  # each its own deadlines
    # The co-units sign, arrive and report their part; the order waits for the lead.
    for unit in ("ZZ-HZ", "SFJ"):
        ok(db, "act", no, "sign", "--assignee", unit)
        ok(db, "act", no, "arrive", "--assignee", unit)
        ok(db, "act", no, "feedback", "--assignee", unit, "--result", "resolved", "--note", f"{unit} 已协助调解")
    state = json.loads(ok(db, "order", no, "--json"))
    assert state["status"] == "dispatched"  # the lead has not even signed
    assert [a["status"] for a in state["assignments"]] == ["dispatched", "fed_back", "fed_back"]
    ok(db, "act", no, "sign")
    ok(db, "act", no, "arrive")
    assert json.loads(ok(db, "order", no, "--json"))["status"] == "arrived"
    ok(db, "act", no, "feedback", "--result", "resolved", "--note", "已督促老板结清工资")
    assert json.loads(ok(db, "order", no, "--json"))["status"] == "fed_back"
    text = ok(db, "order", no)
    assert "协办" in text


def test_the_lead_completes_while_a_co_unit_still_works_and_reports_later(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", *WAGES, "--with", "ZZ")  # dual: RSJ lead, the police station, the town as co-unit
    for who in ("RSJ", "GA-HZ"):
        ok(db, "act", no, "sign", "--assignee", who)
        ok(db, "act", no, "arrive", "--assignee", who)
        ok(db, "act", no, "feedback", "--assignee", who, "--result", "resolved", "--note", "已处理")
    state = json.loads(ok(db, "order", no, "--json"))
    assert state["status"] == "fed_back"  # the co-unit has not signed, the order is fed back all the same
    ok(db, "act", no, "sign", "--assignee", "ZZ-HZ")  # its part may come after the lead's feedback
    ok(db, "act", no, "visit", "--satisfaction", "satisfied")
    ok(db, "act", no, "arrive", "--assignee", "ZZ-HZ")
    ok(db, "act", no, "feedback", "--assignee", "ZZ-HZ", "--result", "resolved", "--note", "镇里跟进工地整改")
    ok(db, "act", no, "close")
    state = json.loads(ok(db, "order", no, "--json"))
    assert state["status"] == "closed"
    assert [a["status"] for a in state["assignments"]] == ["fed_back", "fed_back", "fed_back"]


def test_a_co_unit_returns_its_part_and_the_order_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", *WAGES, "--single", "--with", "SFJ")
    ok(db, "act", no, "return", "--assignee", "SFJ", "--note", "不涉及人民调解")
    state = json.loads(ok(db, "order", no, "--json"))
    assert state["status"] == "dispatched"  # not returned: only the lead's return waits for a reassignment
    sfj = next(a for a in state["assignments"] if a["assignee"] == "SFJ")
    assert (sfj["status"], sfj["active"]) == ("returned", False)
    ok(db, "act", no, "sign")
    ok(db, "act", no, "arrive")
    ok(db, "act", no, "feedback", "--result", "resolved", "--note", "已结清")
    assert json.loads(ok(db, "order", no, "--json"))["status"] == "fed_back"


def test_bad_with_gets_one_line_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    ok(db, "init")
    assert "最多 3 个协办单位" in fails(db, "dispatch", *WAGES, "--with", "ZZ", "--with", "SFJ", "--with", "MZJ")
    assert "不能是派出所" in fails(db, "dispatch", *WAGES, "--with", "GA")
    assert "已在这张工单上" in fails(db, "dispatch", *WAGES, "--with", "RSJ")
    assert "NOPE" in fails(db, "dispatch", *WAGES, "--with", "NOPE")
    assert "at most 3 co-handling units" in fails(
        db, "dispatch", *WAGES, "--with", "ZZ", "--with", "SFJ", "--with", "MZJ", lang="en"
    )
    for table in ("events", "orders", "calls", "assignments"):
        assert count(db, table) == 0, table


def test_kpis_count_each_units_own_steps(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", *WAGES, "--single", "--with", "SFJ")
    ok(db, "act", no, "sign", "--assignee", "SFJ")  # the co-unit signs in time; the lead never does
    rows = {r["key"]: r for r in json.loads(ok(db, "kpi", "--json"))["rows"]}
    assert rows["SFJ"]["signed_on_time"] == 1
    assert rows["RSJ"]["signed_on_time"] == 0
    assert rows["SFJ"]["orders"] == rows["RSJ"]["orders"] == 1


def _dispatch_payload(roles: list[tuple[str, str]]) -> dict:
    from fengqiao.models.machine import CallInfo, dispatch_payload

    ref = default_reference()
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    plan = route(ref, "B03", "HZ", mode="single")
    call = CallInfo("c1", "13857512345", "", "HZ", "", "拖欠工资", at)
    p = dispatch_payload(ref, order_no="T-1", route=plan, call=call, at=at, assignment_ids=["a1"])
    first = p["assignments"][0]
    p["assignments"] = [
        {
            **first,
            "id": f"a{i}",
            "role": role,
            "assignee": code,
            "dept": code.split("-")[0],
            "town": "HZ" if "-" in code else None,
        }
        for i, (code, role) in enumerate(roles)
    ]
    return p


def test_the_server_refuses_a_dispatch_with_too_many_or_repeated_units() -> None:
    ref = default_reference()
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

    def problem(roles: list[tuple[str, str]]) -> object:
        p = _dispatch_payload(roles)
        return validate("dispatch", p, ref=ref, event_at=at, recorded_at=at, now=at)

    assert problem([("RSJ", "primary"), ("GA-HZ", "police"), ("ZZ-HZ", "co"), ("SFJ", "co")]) is None
    for roles in (
        [("RSJ", "primary"), ("GA-HZ", "police"), ("ZZ-HZ", "co"), ("SFJ", "co"), ("MZJ", "co")],  # four helpers
        [("RSJ", "primary"), ("ZZ-HZ", "co"), ("ZZ-HZ", "co")],  # one unit twice
        [("ZZ-HZ", "co"), ("RSJ", "primary")],  # the lead first
        [("RSJ", "primary"), ("SFJ", "primary")],
        [("RSJ", "primary"), ("SFJ", "helper")],  # a role nobody knows
    ):
        assert problem(roles) is not None, roles


def test_legal_actions_offer_the_co_units_steps_after_the_lead_fed_back(tmp_path: Path) -> None:
    from fengqiao.models.machine import apply

    ref = default_reference()
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    p = _dispatch_payload([("RSJ", "primary"), ("SFJ", "co")])
    from fengqiao.models.machine import Event

    ev = Event("e1", "o1", "dispatch", at, at, "d", "x", payload=p)
    o = apply(None, ev)
    lead, co = o.assignments
    for i, (kind, asg, extra) in enumerate(
        [("sign", lead.id, {}), ("arrive", lead.id, {}), ("feedback", lead.id, {"result": "resolved", "text": "ok"})]
    ):
        o = apply(o, Event(f"s{i}", "o1", kind, at + timedelta(minutes=i + 1), at, "d", "x", asg, extra))
    assert o.status == Status.FED_BACK
    offered = legal_actions(o, at + timedelta(minutes=10))
    assert (Action.SIGN, co.id) in offered and (Action.VISIT, None) in offered
    assert (Action.SIGN, lead.id) not in offered
    o = apply(o, Event("v", "o1", "visit", at + timedelta(minutes=11), at, "d", "x", None, {"satisfaction": "basic"}))
    o = apply(o, Event("c", "o1", "close", at + timedelta(minutes=12), at, "d", "x", None, {}))
    with pytest.raises(DomainError):
        apply(o.clone(), Event("late", "o1", "sign", at + timedelta(minutes=13), at, "d", "x", co.id, {}))
    assert ref.tags["B03"].onsite


# ---- the dispatch preview: W adds a co-unit, Backspace takes the last off ----------------------------------


async def test_the_preview_adds_co_units_in_a_few_keys(db, ref, clock) -> None:  # noqa: ANN001
    from fengqiao.screens.dispatch_preview import DispatchPreview
    from fengqiao.screens.intake import IntakeScreen

    from .intake_helpers import fill, make_app, settle, type_text

    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "hz", "黄泽镇工业园", "工地老板拖欠三个月工资，二十几个工人讨薪")
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DispatchPreview)
        await pilot.press("w")
        await type_text(pilot, "zz")
        await pilot.press("enter")  # 镇街综治中心 → the town's centre
        await pilot.pause()
        await pilot.press("w")
        await type_text(pilot, "sfj")
        await pilot.press("enter")
        await pilot.pause()
        assert screen.co == ["ZZ", "SFJ"]
        assert "黄泽镇综治中心" in screen.summary and "司法局" in screen.summary
        await pilot.press("w")  # a third helper with the police station of a dual dispatch: refused, said why
        await type_text(pilot, "mzj")
        await pilot.press("enter")
        await pilot.pause()
        assert screen.co == ["ZZ", "SFJ"]
        assert "最多 3 个协办单位" in str(screen.query_one("#preview-msg").render())
        await pilot.press("escape")  # closes the co-unit field, not the preview
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("backspace")  # takes SFJ off
        await pilot.pause()
        assert screen.co == ["ZZ"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, IntakeScreen)
    with db.read() as conn:
        got = conn.exec_driver_sql("SELECT assignee, role FROM assignments ORDER BY seq").all()
    assert [tuple(r) for r in got] == [("RSJ", "primary"), ("GA-HZ", "police"), ("ZZ-HZ", "co")]


SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_snapshot_the_preview_with_co_units(snap_compare, db, ref, lang: str, size: tuple[int, int]) -> None:  # noqa: ANN001
    from fengqiao.models.clock import FixedClock

    from .conftest import T0
    from .intake_helpers import fill, make_app, settle, type_text

    async def run_before(pilot) -> None:  # noqa: ANN001
        await fill(pilot, "13857512345", "hz", "黄泽镇工业园", "工地老板拖欠三个月工资，二十几个工人讨薪")
        await pilot.press("f2")
        await settle(pilot)
        for query in ("zz", "sfj"):
            await pilot.press("w")
            await type_text(pilot, query)
            await pilot.press("enter")
            await pilot.pause()
        await pilot.press("w")
        await type_text(pilot, "mzj")  # the field open with its matches, and the limit said
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(db, ref, FixedClock(T0), lang=lang), terminal_size=size, run_before=run_before)


def test_a_co_units_desk_sees_the_order_until_it_returns_its_part(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", *WAGES, "--single", "--with", "SFJ", "--with", "ZZ")

    def listed(*desk: str) -> list[str]:
        return [o["order_no"] for o in json.loads(ok(db, "orders", *desk, "--json"))["orders"]]

    assert listed("--role", "department", "--desk-dept", "SFJ") == [no]
    assert listed("--role", "township", "--desk-town", "HZ") == [no]  # the town's centre is a co-unit
    assert listed("--role", "department", "--desk-dept", "MZJ") == []
    assert listed("--role", "township", "--desk-town", "SHH") == []
    assert no in fails(db, "act", no, "sign", "--role", "department", "--dept", "MZJ")
    ok(
        db,
        "act",
        no,
        "return",
        "--assignee",
        "SFJ",
        "--note",
        "不涉及人民调解",
        "--role",
        "department",
        "--dept",
        "SFJ",
    )
    assert listed("--role", "department", "--desk-dept", "SFJ") == []
