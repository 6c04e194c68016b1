"""Issue 11 item 3: how far an honest desk's clock may be off (``models.validate.CLOCK_SKEW``, ten minutes).

A sign-off dated before its dispatch by more than twice the skew is refused by the server with the reason; a
desk whose clock is that far off is told so at every sync, before its events are refused; and a desk that was
offline and arrived before another desk's sign-off of the same assignment reached the server is not refused
(steps after the dispatch are the state machine's to order)."""

from __future__ import annotations

from datetime import timedelta

from fengqiao.models.machine import Action, Intent
from fengqiao.models.validate import CLOCK_SKEW, ORDER_SKEW
from fengqiao.store.orders import OrderStore
from fengqiao.store.sync import HttpTransport, SyncClient

from .hub import FORM, FORM_HZ, Hub, HubDesk
from .sim import SkewedClock


def _skewed(hub: Hub, name: str, offset: timedelta, **kw: str) -> tuple[HubDesk, SyncClient]:
    d = hub.add(name, **kw)  # type: ignore[arg-type]
    clock = SkewedClock(hub.clock, offset)
    d.store = OrderStore(d.db, ref=hub.ref, desk=d.desk, clock=clock)
    client = SyncClient(d.db, HttpTransport(None, d.token, client=hub.http), desk=d.desk, clock=clock)
    return d, client


def test_a_sign_off_dated_before_its_dispatch_is_refused(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    scjg = hub.add("SCJG", "department", dept="SCJG")
    o = ct.store.dispatch(FORM, "B01")
    hub.sync_all()
    hub.clock.advance(minutes=1)
    early = o.created_at - ORDER_SKEW - timedelta(minutes=1)  # the desk's own rule stops this: forge it
    scjg.forge(o.id, "sign", {"note": ""}, assignment_id=o.assignments[0].id, at=early)
    report = scjg.sync()
    assert report.refused == 1
    refused = hub.server.refused()
    assert [(r["kind"], r["reason"]) for r in refused] == [("sign", "invalid")]
    assert "event_at" in refused[0]["message"]


def test_a_desk_with_its_clock_off_is_told_at_every_sync(sqlite_hub: Hub) -> None:
    _d, client = _skewed(sqlite_hub, "SCJG", timedelta(minutes=-42), role="department", dept="SCJG")
    report = client.sync_once()
    assert report.clock_skew == -42 * 60
    assert any("42" in p for p in report.problems), report.problems
    _ok, fine = _skewed(sqlite_hub, "ZJJ", CLOCK_SKEW / 4, role="department", dept="ZJJ")
    assert fine.sync_once().problems == []


def test_an_offline_desks_earlier_arrival_after_anothers_sign_off_is_kept(sqlite_hub: Hub) -> None:
    """A township centre offline for hours arrives; meanwhile the call-taker records the sign-off for it. When
    the centre comes back its arrival is dated hours before the sign-off the server holds: not refused.
    (Here the one team's own desk records the sign-off.)"""
    hub = sqlite_hub
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    town = hub.add("HZ", "township", town="HZ", prefix="HZ")
    o = ct.store.dispatch(FORM_HZ, "B01")  # 黄泽镇's one team
    hub.sync_all()
    assignee = o.assignments[0].assignee
    hub.clock.advance(minutes=10)
    town.store.act(o.order_no, Intent(Action.SIGN, assignee=assignee))
    hub.clock.advance(minutes=10)
    town.store.act(o.order_no, Intent(Action.ARRIVE, assignee=assignee))  # offline: not pushed yet
    hub.clock.advance(hours=3)
    team = hub.add("ZZHZ", "department", dept=assignee)
    team.sync()
    team.store.act(o.order_no, Intent(Action.SIGN, assignee=assignee))
    team.sync()
    report = town.sync()
    assert report.refused == 0, hub.server.refused()
