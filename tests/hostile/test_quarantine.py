"""Poison already stored on a server from before there was a validation (simulated by a server that skips
it): a desk that pulls it quarantines each such event, moves its cursor, keeps syncing, shows it as a
conflict, and its views and `check` stay up and clean."""

from __future__ import annotations

import json

import pytest

from fengqiao.models.errors import FengqiaoError
from fengqiao.models.machine import Action

from ..sync.hub import FORM, Hub
from .cases import base_payload
from .world import World, cli, runner

POISON = [
    (Action.EXTEND, lambda p: {**p, "hours": 2**63}),
    (Action.FEEDBACK, lambda p: {**p, "text": {"an": "object"}}),
    (Action.FEEDBACK, lambda p: {**p, "result": 7}),
    (Action.DISPATCH, lambda p: {**p, "tag": "Z99", "mode": "triple"}),
    (Action.DISPATCH, lambda p: {**p, "assignments": "none"}),
    (Action.SIGN, lambda p: {**p, "note": ["x"]}),
]


def test_pulled_poison_is_quarantined_and_nothing_freezes(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    w = World.make(hub)
    honest_events = len(hub.server.events())
    monkeypatch.setattr("fengqiao.server.store.validate_event", lambda *a, **kw: None)  # an old server
    at = hub.clock()
    for kind, spoil in POISON:
        d = w.sender(kind)
        w.append(d, kind, spoil(base_payload(kind, hub.ref, w.order, at, d.desk.prefix or "EV")), at)
    far = base_payload(Action.SIGN, hub.ref, w.order, at, "EV")
    w.append(w.sender(Action.SIGN), Action.SIGN, far, at.replace(year=2099))  # a far-future time
    for d in w.hostile:
        try:
            d.sync()
        except FengqiaoError:
            pass  # a hostile desk may choke on its own garbage; the server stored it all the same
    monkeypatch.undo()
    stored = len(hub.server.events()) - honest_events
    assert stored >= len(POISON), "the old server stored the poison"  # (it refused the unreadable dispatch)
    later = w.ct.store.dispatch(FORM, "B01")
    for d in w.honest:
        report = d.sync()
        honest_pulled = 0 if d is w.ct else 1  # `later`, pushed by the call-taker
        assert report.quarantined == report.pulled - honest_pulled >= len(POISON) - 1, report
        assert any("quarantined" in p or "隔离" in p for p in report.problems)
        assert d.sync().quarantined == 0  # quarantined once; the cursor moved past it
        assert later.order_no in cli(d, "orders")
        detail = json.loads(cli(d, "order", w.order.order_no, "--json"))
        assert detail["order_no"] == w.order.order_no
        cli(d, "order", w.order.order_no)
        marks = d.rows("SELECT count(*) FROM event_state WHERE status = 'quarantined'")
        assert marks == [(report.quarantined,)]
        result = runner.invoke(
            __import__("fengqiao.console.cli", fromlist=["app"]).app, ["--db", str(d.db.path), "check"]
        )
        assert result.exit_code == 0, result.stdout
    # the order itself is untouched by the poison
    state = w.dept.store.get(w.order.order_no) if hasattr(w.dept.store, "get") else None
    if state is not None:
        assert state.status == w.order.status
