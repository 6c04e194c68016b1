"""Notes and urges (催办) travel like every other event: pushed, judged by the server, pulled, on the timeline."""

from __future__ import annotations

from fengqiao.models.machine import Action, Intent
from fengqiao.store.timeline import timeline

from .hub import FORM, Hub


def test_a_note_and_an_urge_sync_to_the_department_and_the_supervisor(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    o = ct.store.dispatch(FORM, "B01")
    dept = hub.add(o.primary.dept, "department", dept=o.primary.dept)
    sup = hub.add("SUP", "supervisor")
    hub.sync_all()
    ct.store.act(o.order_no, Intent(Action.NOTE, note="来电人说下午三点前在店里", visibility="caller"))
    hub.clock.advance(minutes=REF_SIGN_MIN(hub, o.tag) + 1)
    ct.store.act(o.order_no, Intent(Action.URGE, note="请尽快签收"))
    dept.store.act(o.order_no, Intent(Action.NOTE, note="已联系执法队[bold]"))
    hub.sync_all()
    kinds = [e["kind"] for e in hub.server.events()]
    assert kinds.count("note") == 2 and kinds.count("urge") == 1
    assert not hub.server.refused()
    for d in (ct, dept, sup):
        with d.db.read() as conn:
            entries = timeline(conn, o.id)
        notes = [e.event for e in entries if e.event.kind == "note"]
        assert [n.payload for n in notes] == [
            {"text": "来电人说下午三点前在店里", "visibility": "caller"},
            {"text": "已联系执法队[bold]", "visibility": "internal"},
        ], d.name
        assert all(e.status == "applied" for e in entries), d.name
        state = d.store.order(o.order_no)
        assert (state.status, state.notes, state.urges) == ("dispatched", 2, 1), d.name


def test_a_malformed_note_is_refused_by_the_server_naming_the_field(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    o = ct.store.dispatch(FORM, "B01")
    ct.sync()
    ct.forge(o.id, "note", {"text": "x", "visibility": "everyone"})
    ct.forge(o.id, "note", {"text": "长" * 2001, "visibility": "internal"})
    ct.sync()
    refused = hub.server.refused()
    assert len(refused) == 2
    assert [r["reason"] for r in refused] == ["invalid", "invalid"]
    assert "visibility" in refused[0]["message"] and "text" in refused[1]["message"]


def REF_SIGN_MIN(hub: Hub, tag: str) -> int:  # noqa: N802 - reads like a constant at the call
    return hub.ref.tags[tag].sign_min


def test_an_urge_before_the_deadline_is_refused_locally(hub: Hub) -> None:
    import pytest

    from fengqiao.models.errors import DomainError

    ct = hub.add("CT1", "call_taker", prefix="SZ")
    o = ct.store.dispatch(FORM, "B01")
    hub.clock.advance(minutes=1)
    with pytest.raises(DomainError, match="催办"):
        ct.store.act(o.order_no, Intent(Action.URGE))
