"""Issue 11 item 7: `check` that never cries wolf, and sees what matters.

The false alarm: one event pushed for an order that exists nowhere (a broken desk that sees all orders sends
it; the server keeps it as a conflict) reached every call-taker and supervisor desk, whose `check` then
reported a deleted dispatch for good. It is now a note; a dispatch really deleted is still a fault."""

from __future__ import annotations

from fengqiao.models.events import new_id
from fengqiao.store.audit import verify

from .hub import FORM, Hub


def test_an_event_for_an_order_nobody_had_is_no_deleted_dispatch(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    broken = hub.add("CT-BROKEN", "call_taker", prefix="SZX")
    honest = hub.add("CT1", "call_taker", prefix="SZ")
    sup = hub.add("SUP", "supervisor")
    honest.store.dispatch(FORM, "B01")
    ghost = new_id()
    broken.forge(ghost, "sign", assignment_id=new_id())  # an order that does not exist anywhere
    hub.sync_all()
    for d in (honest, sup, broken):
        assert d.rows("SELECT count(*) FROM events WHERE order_id = ?", ghost) == [(1,)]
        report = verify(d.db)
        assert report.ok, (d.name, [f.message for f in report.faults])
        assert [n.kind for n in report.notes] == ["missing_order"]


def test_a_deleted_dispatch_is_still_found(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    sup = hub.add("SUP", "supervisor")
    o = ct.store.dispatch(FORM, "B01")
    hub.clock.advance(minutes=1)
    hub.sync_all()
    ct.store.link(o.order_no, FORM)  # a repeat call: applied by the server, so the server had the order
    hub.sync_all()
    with sup.db.write() as conn:  # someone removes the dispatch from the supervisor's copy
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_append_only_delete")
        conn.exec_driver_sql(
            "DELETE FROM event_state WHERE event_id IN (SELECT id FROM events WHERE kind = 'dispatch')"
        )
        conn.exec_driver_sql("DELETE FROM events WHERE kind = 'dispatch'")
    report = verify(sup.db)
    assert not report.ok
    assert "no_dispatch" in {f.kind for f in report.faults} and not report.notes


def _tamper(d, *sql: str) -> None:  # noqa: ANN001 - a HubDesk
    with d.db.write() as conn:
        for s in sql:
            conn.exec_driver_sql(s)


def _kinds(d) -> set[str]:  # noqa: ANN001
    return {f.kind for f in verify(d.db).faults}


def _world(hub: Hub):  # noqa: ANN202
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    sup = hub.add("SUP", "supervisor")
    o = ct.store.dispatch(FORM, "B01")
    hub.sync_all()
    assert verify(sup.db).ok and verify(ct.db).ok
    return ct, sup, o


def test_a_trigger_body_replaced_under_the_same_name_is_found(sqlite_hub: Hub) -> None:
    ct, _sup, _o = _world(sqlite_hub)
    _tamper(
        ct,
        "DROP TRIGGER events_append_only_update",
        "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events BEGIN SELECT 1; END",
    )
    assert "schema" in _kinds(ct)


def test_an_added_trigger_is_found(sqlite_hub: Hub) -> None:
    ct, _sup, _o = _world(sqlite_hub)
    _tamper(ct, "CREATE TRIGGER sneaky AFTER INSERT ON events BEGIN DELETE FROM kpi_repeats; END")
    assert "schema" in _kinds(ct)


def test_a_forged_repeat_call_row_is_found(sqlite_hub: Hub) -> None:
    _ct, sup, o = _world(sqlite_hub)
    _tamper(sup, f"INSERT INTO kpi_repeats (order_id, repeat_call_at) VALUES ('{o.id}', '2026-11-28T10:00:00.000000Z')")
    assert "derived" in _kinds(sup)


def test_an_order_removed_from_the_search_index_is_found(sqlite_hub: Hub) -> None:
    _ct, sup, _o = _world(sqlite_hub)
    _tamper(sup, "DELETE FROM order_search_docs")
    assert "derived" in _kinds(sup)


def test_another_desks_event_marked_refused_is_found(sqlite_hub: Hub) -> None:
    """Marking a pulled dispatch refused hides the order from the replay; with the projection rows removed to
    match, the projection check alone saw nothing."""
    _ct, sup, o = _world(sqlite_hub)
    _tamper(
        sup,
        f"UPDATE event_state SET status = 'refused' WHERE event_id IN "
        f"(SELECT id FROM events WHERE order_id = '{o.id}')",
    )
    assert "derived" in _kinds(sup)
