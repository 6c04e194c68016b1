"""Warnings and cases travel like orders: every new event kind between a call-taker desk, a township desk and a
supervisor desk, ending in the same state on all three; the server refuses a step from a desk not holding it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fengqiao.store.audit import verify
from fengqiao.store.governance import GovernanceStore

from .hub import FORM_HZ, Hub

pytestmark = pytest.mark.warning_rules
PHONES = ["13857500001", "13857500002", "13857500003", "13857500004"]


def gov_of(d: object) -> GovernanceStore:
    return GovernanceStore(d.db, ref=d.hub.ref, desk=d.desk, clock=d.hub.clock)  # type: ignore[attr-defined]


def tables(d: object) -> tuple[list[tuple[object, ...]], ...]:
    return (
        d.rows("SELECT id, no, rule, level, status, calls, orders, measures, case_id FROM warnings ORDER BY id"),  # type: ignore[attr-defined]
        d.rows("SELECT id, no, title, owner, status, resolution, follow_up FROM cases ORDER BY id"),  # type: ignore[attr-defined]
        d.rows("SELECT case_id, order_id FROM case_orders ORDER BY 1, 2"),  # type: ignore[attr-defined]
    )


def test_every_warning_and_case_event_syncs_to_the_same_state_on_three_desks(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    hz = hub.add("HZ-C", "township", town="HZ")
    sup = hub.add("SUP", "supervisor")
    for phone in PHONES[:3]:
        ct.store.dispatch(replace(FORM_HZ, phone=phone), "A04")
        hub.clock.advance(hours=6)
    assert [e.payload["rule"] for e in ct.store.raised] == ["address"]
    hub.sync_all()
    (w,) = gov_of(hz).warnings()
    gov_of(hz).sign(w.no, "收到")
    gov_of(hz).measure(w.no, "网格员巡查")
    hub.sync_all()
    assert gov_of(sup).warning(w.no).status == "signed"
    _w, case = gov_of(hz).escalate(w.no, title="前岩村倾倒专班", members=["STHJ"], follow_up="2026-12-20")
    hub.sync_all()
    assert gov_of(ct).touching("HZ", FORM_HZ.address, "").cases[0].no == case.no
    ct.store.dispatch(replace(FORM_HZ, phone=PHONES[3]), "A04")
    fourth = ct.store.list_orders(limit=1)[0].order_no
    gov_of(ct).add_to_case(case.no, fourth)
    hub.sync_all()
    gov_of(sup).note_case(case.no, "督导：本周内拿出方案")
    hub.sync_all()
    gov_of(hz).close_case(case.no, "清运完毕，设置监控", follow_up="2026-12-31")
    hub.sync_all(rounds=3)
    assert not hub.server.refused()
    kinds = {e["kind"] for e in hub.server.events()}
    assert {
        "warn_raise",
        "warn_sign",
        "warn_measure",
        "warn_escalate",
        "case_open",
        "case_add",
        "case_note",
        "case_close",
    } <= kinds
    states = [tables(d) for d in (ct, hz, sup)]
    assert states[0] == states[1] == states[2]
    warnings, cases, links = states[0]
    assert [(r[4], r[7]) for r in warnings] == [("escalated", 1)]
    assert [(r[4], r[5], r[6]) for r in cases] == [("closed", "清运完毕，设置监控", "2026-12-31")]
    assert len(links) == 4
    for d in (ct, hz, sup):
        assert verify(d.db).faults == [], d.name
        statuses = d.rows("SELECT status, count(*) FROM event_state GROUP BY status")
        assert all(s in ("applied", None) for s, _n in statuses), (d.name, statuses)


def test_the_server_refuses_a_warning_step_from_a_desk_that_does_not_hold_it(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    other = hub.add("SHH-C", "township", town="SHH")
    for phone in PHONES[:3]:
        ct.store.dispatch(replace(FORM_HZ, phone=phone), "A04")
        hub.clock.advance(hours=6)
    hub.sync_all()
    assert gov_of(other).warnings() == []  # another town's warning never reaches its desk
    (w,) = gov_of(ct).warnings()
    other.forge(w.id, "warn_sign", {"note": ""})
    other.forge(w.id, "sign", {"note": ""})  # an order's step on a warning
    other.sync()
    refused = hub.server.refused()
    assert [r["reason"] for r in refused] == ["role", "malformed"]
    assert gov_of(ct).warning(w.no).status == "open"


def test_two_desks_offline_raise_one_problem_twice_and_every_desk_shows_the_later_as_its_twin(hub: Hub) -> None:
    a = hub.add("CT1", "call_taker", prefix="SZ")
    b = hub.add("CT2", "call_taker", prefix="SY")
    hz = hub.add("HZ-C", "township", town="HZ")
    for desk, phones in ((a, PHONES[:3]), (b, ["13857500011", "13857500012", "13857500013"])):
        for phone in phones:
            desk.store.dispatch(replace(FORM_HZ, phone=phone), "A04")
            hub.clock.advance(hours=1)
    hub.sync_all()
    views = [[(w.no, w.twin_of) for w in gov_of(d).warnings()] for d in (a, b, hz)]
    assert views[0] == views[1] == views[2]
    (first, none), (second, twin) = sorted(views[0], key=lambda x: x[1] is not None)
    assert none is None and twin == first and first.startswith("YJ-SZ")  # CT1's came first
    assert all(sum(gov_of(d).counts()[lvl] for lvl in ("red", "orange", "yellow")) == 1 for d in (a, b, hz))
    gov_of(hz).sign(second, "")
    gov_of(hz).close(second, f"与 {first} 重复")
    hub.sync_all()
    assert [(w.no, w.twin_of) for w in gov_of(a).warnings()] == [(first, None)]
