"""Co-handling units between three desks: a call-taker dispatches a wage-arrears order with the town's centre and
the justice bureau as co-units; the justice bureau's desk and the township desk each report their part, the lead
bureau's desk completes it; all three desks and the server end in the same state, and a desk not on the order
cannot step on a co-unit's assignment."""

from __future__ import annotations

from dataclasses import replace

from fengqiao.models.machine import Action, Intent
from fengqiao.store.audit import verify

from .hub import FORM_HZ, Hub

WAGES = replace(FORM_HZ, phone="13857500009", description="工地老板拖欠三个月工资", address="黄泽镇工业园")


def picture(d: object) -> list[tuple[object, ...]]:
    return d.rows(  # type: ignore[attr-defined]
        "SELECT a.assignee, a.role, a.status, a.active, o.status FROM assignments a JOIN orders o ON o.id = a.order_id"
        " ORDER BY a.seq"
    )


def test_co_units_report_their_part_on_their_own_desks_and_the_lead_completes(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    sfj = hub.add("SFJ-1", "department", dept="SFJ")
    hz = hub.add("HZ-C", "township", town="HZ")
    rsj = hub.add("RSJ-1", "department", dept="RSJ")
    o = ct.store.dispatch(WAGES, "B03", mode="single", co=("ZZ", "SFJ"))
    hub.sync_all()
    for desk, who in ((sfj, "SFJ"), (hz, "ZZ-HZ")):
        desk.store.act(o.order_no, Intent(Action.SIGN, assignee=who))
        desk.store.act(o.order_no, Intent(Action.ARRIVE, assignee=who))
        desk.store.act(o.order_no, Intent(Action.FEEDBACK, assignee=who, result="resolved", note=f"{who} 协助调解"))
        hub.clock.advance(minutes=5)
    hub.sync_all()
    assert rsj.store.order(o.order_no).status == "dispatched"  # the co-units' feedback does not complete it
    rsj.store.act(o.order_no, Intent(Action.SIGN))
    rsj.store.act(o.order_no, Intent(Action.ARRIVE))
    rsj.store.act(o.order_no, Intent(Action.FEEDBACK, result="resolved", note="老板已结清工资"))
    hub.sync_all(rounds=3)
    assert not hub.server.refused()
    pictures = [picture(d) for d in (ct, sfj, hz, rsj)]
    assert pictures[0] == pictures[1] == pictures[2] == pictures[3]
    assert pictures[0] == [
        ("RSJ", "primary", "fed_back", 1, "fed_back"),
        ("ZZ-HZ", "co", "fed_back", 1, "fed_back"),
        ("SFJ", "co", "fed_back", 1, "fed_back"),
    ]
    for d in (ct, sfj, hz, rsj):
        assert verify(d.db).faults == [], d.name


def test_a_desk_not_on_the_order_cannot_step_on_a_co_units_assignment(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    mzj = hub.add("MZJ-1", "department", dept="MZJ")
    o = ct.store.dispatch(WAGES, "B03", mode="single", co=("SFJ",))
    hub.sync_all()
    co = next(a for a in o.assignments if a.role == "co")
    mzj.forge(o.id, "sign", {}, assignment_id=co.id)
    mzj.sync()
    assert [r["reason"] for r in hub.server.refused()] == ["role"]
    assert ct.store.order(o.order_no).assignment(co.id).status == "dispatched"
