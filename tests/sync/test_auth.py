"""Who may do what through the server: tokens, role scope (the console's rules), forged desks, order numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fengqiao.console.cli import app
from fengqiao.models.errors import ValidationError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.store.sync import HttpTransport, SyncAuthError, SyncClient, SyncError
from fengqiao.store.wire import PushRequest

from .hub import FORM, FORM_HZ, Hub

runner = CliRunner()


def test_requests_need_a_valid_token(hub: Hub) -> None:
    a = hub.add("CT1", "call_taker", prefix="SZ")
    assert hub.http.get("/v1/hello").status_code == 401
    assert hub.http.get("/v1/pull", headers={"Authorization": "Bearer fq1_wrong"}).status_code == 401
    assert hub.http.get("/v1/health").json()["ok"] is True
    wrong = SyncClient(a.db, HttpTransport(None, "fq1_not-a-token", client=hub.http), desk=a.desk)
    with pytest.raises(SyncAuthError, match="拒绝了本台令牌"):
        wrong.sync_once()
    assert a.sync().waiting == 0
    hub.server.revoke_desk("CT1")
    with pytest.raises(SyncAuthError):
        a.sync()


def test_a_department_cannot_act_on_another_departments_order(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    scjg = hub.add("SCJG", "department", dept="SCJG")
    water = ct.store.dispatch(FORM, "C04")  # the water company's order
    hub.sync_all()
    assert scjg.rows("SELECT count(*) FROM orders") == [(0,)]  # never even sent to SCJG
    state = ct.store.order(water.order_no)
    scjg.forge(water.id, "sign", assignment_id=state.primary.id)  # a tampered desk signs it anyway
    report = scjg.sync()
    assert report.refused == 1 and report.waiting == 0  # reported per event; the queue goes on
    refused = hub.server.refused()
    assert [(r["desk"], r["reason"]) for r in refused] == [("SCJG", "role")]
    assert scjg.rows("SELECT status FROM event_state") == [("refused",)]
    ct.sync()
    assert ct.rows("SELECT status FROM orders") == [("dispatched",)]  # nobody else ever sees it


def test_role_rules_are_the_consoles(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    scjg = hub.add("SCJG", "department", dept="SCJG")
    o = ct.store.dispatch(FORM, "B01")  # SCJG's order
    hub.sync_all()
    state = scjg.store.order(o.order_no)
    scjg.forge(o.id, "close")  # a department may not close an order
    hub.clock.advance(minutes=1)
    scjg.store.act(o.order_no, Intent(Action.SIGN))  # but may sign its own assignment
    report = scjg.sync()
    assert (report.refused, report.pushed) == (1, 1)
    assert [r["reason"] for r in hub.server.refused()] == ["role"]
    ct.sync()
    assert ct.rows("SELECT status FROM orders") == [("signed",)]
    assert state.primary.assignee == "SCJG"
    timeline = {e.event.kind: e.status for e in scjg.store.timeline(o.order_no)[1]}
    assert timeline == {"dispatch": "applied", "sign": "applied", "close": "refused"}


def test_work_done_before_an_unseen_reassignment_is_kept(hub: Hub) -> None:
    """The township centre returns an order; the call-taker reassigns it to the county bureau; the centre, not
    yet aware of that, links a repeat call to it. The centre broke no rule: its event is kept, not refused.
    A department that never held the order is still refused (see the tests above)."""
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    town = hub.add("HZ", "township", town="HZ")
    o = town.store.dispatch(FORM_HZ, "B01")  # 黄泽镇's one team handles it
    town.store.act(o.order_no, Intent(Action.RETURN, assignee="ZZ-HZ", note="不属本镇"))
    hub.sync_all()
    ct.store.act(o.order_no, Intent(Action.REASSIGN, to="SCJG", note="改派县局"))
    ct.sync()
    hub.clock.advance(minutes=1)
    town.store.link(o.order_no, IntakeForm(phone="13900000001", town="HZ", description="又打来了"))
    report = town.sync()
    assert report.refused == 0 and hub.server.refused() == []
    assert [e["kind"] for e in hub.server.events()] == ["dispatch", "return", "reassign", "link"]
    ct.sync()
    assert ct.rows("SELECT count(*) FROM calls") == [(2,)]  # the repeat call is on the order
    assert ct.rows("SELECT status FROM orders") == [("dispatched",)]


def test_a_forged_desk_id_is_rejected(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    other = hub.add("CT2", "call_taker", prefix="SZB")
    ct.store.dispatch(FORM, "B01")
    stolen = ct.wire(1)  # CT1's event pushed with CT2's token
    body = hub.post("/v1/push", other.token, PushRequest(events=[stolen]).model_dump(mode="json")).json()
    assert body["results"][0]["status"] == "rejected" and body["results"][0]["reason"] == "forged_desk"
    assert hub.server.events() == []
    other.forge("order-x", "dispatch", desk="CT1")  # written in CT2's file under CT1's name: never pushed
    assert other.sync().pushed == 0
    assert ct.sync().pushed == 1  # CT1's own sequence is untouched


def test_a_token_is_for_one_desk(hub: Hub) -> None:
    a = hub.add("CT1", "call_taker", prefix="SZ")
    b = hub.add("CT2", "call_taker", prefix="SZB")
    swapped = SyncClient(a.db, HttpTransport(None, b.token, client=hub.http), desk=a.desk)
    with pytest.raises(SyncError, match="令牌属于台 CT2"):
        swapped.sync_once()


def test_order_numbers_cannot_collide(hub: Hub) -> None:
    a = hub.add("CT1", "call_taker", prefix="SZ")
    twin = hub.add("CT2", "call_taker", prefix="SZ", register=False)  # configured with CT1's prefix…
    with pytest.raises(ValidationError, match="已属于台 CT1"):
        hub.server.add_desk("CT2", "call_taker", prefix="SZ")  # …which the server will not register twice
    twin.token = hub.server.add_desk("CT2", "call_taker", prefix="SZB")
    o1 = a.store.dispatch(FORM, "B01")
    o2 = twin.store.dispatch(FORM, "B01")
    assert o1.order_no == o2.order_no == "SZ-20261128-0001"
    a.sync()
    report = twin.sync()
    assert report.refused == 1 and any("SZB" in p for p in report.problems)  # told to fix its prefix
    assert [r["reason"] for r in hub.server.refused()] == ["prefix"]
    assert twin.rows("SELECT order_no FROM orders") == [(o1.order_no,)]  # the shared picture, no clash
    marks = {r[0] for r in twin.rows("SELECT status FROM event_state")}
    assert "refused" in marks


def test_a_township_dispatches_only_in_its_town(hub: Hub) -> None:
    town = hub.add("HZ", "township", town="HZ")
    o = town.store.dispatch(FORM_HZ, "B01")
    town.forge("order-elsewhere", "dispatch", {"town": "SHH", "order_no": "HZ-20261128-0099"})
    report = town.sync()
    assert report.pushed == 1 and report.refused == 1
    assert [r["reason"] for r in hub.server.refused()] == ["role"]
    assert hub.server.events()[0]["order_id"] == o.id


def test_server_desk_commands(tmp_path: Path) -> None:
    url = str(tmp_path / "server.db")
    result = runner.invoke(app, ["server", "desk-add", "110-1", "--role", "call_taker", "--db", url])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("fq1_") and len(token) > 40
    result = runner.invoke(app, ["server", "desk-add", "SCJG-1", "--role", "department", "--dept", "SCJG", "--db", url])
    assert result.exit_code == 0
    bad = runner.invoke(app, ["server", "desk-add", "x", "--role", "boss", "--db", url])
    assert bad.exit_code != 0 and "Traceback" not in bad.output and len(bad.stderr.strip().splitlines()) == 1
    listing = runner.invoke(app, ["server", "desk-list", "--db", url, "--json"])
    desks = {d["name"]: d for d in __import__("json").loads(listing.stdout)["desks"]}
    assert desks["110-1"]["prefix"] == "SZ" and desks["SCJG-1"]["dept"] == "SCJG"
    assert token not in listing.stdout  # only the hash is stored
    assert runner.invoke(app, ["server", "desk-revoke", "110-1", "--db", url]).exit_code == 0
    again = runner.invoke(app, ["server", "desk-revoke", "110-1", "--db", url])
    assert again.exit_code == 1 and "没有在用的台" in again.stderr
    assert "已吊销" in runner.invoke(app, ["server", "desk-list", "--db", url]).stdout
