"""Merge and split between three desks through the sync server: the new event kinds travel, every desk replays
them to the same state, and two desks merging or splitting the same orders offline converge by the rule of
models/machine.py ("merge and split"): the first step to reach the server takes."""

from __future__ import annotations

import json
from typing import Any

from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.store.audit import verify

from .hub import FORM, Hub, HubDesk

FORM_B = IntakeForm(phone="13900000002", town="SHH", description="同一家店，我也买到假货", address="人民路1号")
FORM_C = IntakeForm(phone="13900000003", town="SHH", description="人民路那家店卖假货", address="人民路1号")


def world(hub: Hub) -> tuple[HubDesk, HubDesk, HubDesk, list[str]]:
    ct1 = hub.add("CT1", "call_taker", prefix="SZ")
    ct2 = hub.add("CT2", "call_taker", prefix="SZB")
    scjg = hub.add("SCJG", "department", dept="SCJG")
    nos = []
    for form in (FORM, FORM_B, FORM_C):
        nos.append(ct1.store.dispatch(form, "B01").order_no)
        hub.clock.advance(minutes=1)
    hub.sync_all()
    return ct1, ct2, scjg, nos


def dump(d: HubDesk) -> list[Any]:
    return [d.rows(f"SELECT * FROM {table} ORDER BY 1") for table in ("orders", "assignments", "calls")]


def outcomes(d: HubDesk) -> dict[str, str]:
    return dict(d.rows("SELECT event_id, status FROM event_state WHERE status IS NOT NULL"))


def converged(hub: Hub, *desks: HubDesk) -> None:
    hub.sync_all(rounds=3)
    first = dump(desks[0])
    for d in desks[1:]:
        assert dump(d) == first, d.name
    for d in (*desks, *hub.desks.values()):
        assert verify(d.db, clock=hub.clock).faults == [], d.name


def test_merge_and_split_travel_to_every_desk(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    ct1, ct2, scjg, (a, b, c) = world(hub)
    scjg.store.act(b, Intent(Action.SIGN))
    hub.sync_all()
    ct1.store.merge(a, [b], reason="同一家店")
    hub.clock.advance(minutes=1)
    hub.sync_all()
    ct2.store.split(c, ["ZJJ", "SW"], reason="两个单位")
    converged(hub, ct1, ct2)
    for d in (ct1, ct2, scjg):
        gone = d.store.order(b)
        assert gone.merge is not None and gone.merge.into_no == a and not gone.active_assignments
        assert [x.order_no for x in d.store.merged_calls(d.store.order(a))] == [b]
    # the department was told: its assignment on b is withdrawn, the merge is on the order's timeline
    _state, entries = scjg.store.timeline(b)
    assert [(e.event.kind, e.status) for e in entries][-1] == ("merge-into", "applied")
    parent = ct1.store.order(c)
    children = ct1.store.children(parent)
    assert [(unit, st) for _no, unit, st in children] == [("ZJJ", "dispatched"), ("SW", "dispatched")]
    assert all(no.startswith("SZB-") for no, _u, _s in children)
    hub.clock.advance(minutes=1)
    ct2.store.unmerge(b, reason="不是一件事")
    converged(hub, ct1, ct2)
    assert ct1.store.order(b).status == "signed" and ct1.store.merged_calls(ct1.store.order(a)) == []
    assert scjg.store.order(b).primary.active


def test_two_desks_merge_the_same_order_into_different_targets_offline(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    ct1, ct2, _scjg, (a, b, c) = world(hub)
    ct1.store.merge(b, [a], reason="desk 1")  # offline: A into B
    ct2.store.merge(c, [a], reason="desk 2")  # offline: A into C
    ct2.sync()  # desk 2 reaches the server first: its merge takes
    converged(hub, ct1, ct2)
    for d in (ct1, ct2):
        assert d.store.order(a).merge.into_no == c
        assert [x.order_no for x in d.store.merged_calls(d.store.order(c))] == [a]
        assert d.store.merged_calls(d.store.order(b)) == []  # recorded on B, but A's merge into B never took
    ids = {e.event.id: e for e in ct1.store.timeline(a)[1]}
    lost = [e for e in ids.values() if e.event.kind == "merge-into" and e.event.desk == "CT1"]
    assert [e.status for e in lost] == ["conflict"] and outcomes(ct1)[lost[0].event.id] == "conflict"
    # the losing merge is a conflict in `fengqiao order A --json` on every desk, with the reason
    from typer.testing import CliRunner

    from fengqiao.console.cli import app

    for d in (ct1, ct2):
        out = CliRunner().invoke(app, ["--db", str(hub.workdir / f"{d.name}.db"), "order", a, "--json"])
        assert out.exit_code == 0, out.output
        conflicts = json.loads(out.stdout)["conflicts"]
        assert [(x["kind"], x["desk"]) for x in conflicts] == [("merge-into", "CT1")]
        assert c in conflicts[0]["reason"]  # 已并入 C
    # B holds a merge that never took: merging B later lets that go first, in the same step
    ct1.store.merge(c, [b], reason="B too")
    converged(hub, ct1, ct2)
    assert ct2.store.order(b).merge.into_no == c


def test_two_desks_merge_a_into_b_and_b_into_a_offline(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    ct1, ct2, _scjg, (a, b, _c) = world(hub)
    ct1.store.merge(b, [a])  # A into B
    ct2.store.merge(a, [b])  # B into A
    ct1.sync()
    converged(hub, ct1, ct2)
    for d in (ct1, ct2):
        sa, sb = d.store.order(a), d.store.order(b)
        assert sa.merge is not None and sa.merge.into_no == b and sb.merge is None  # desk 1 first: A into B
        assert sb.status == "dispatched"


def test_a_merge_and_a_split_of_one_order_offline(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    ct1, ct2, _scjg, (a, b, _c) = world(hub)
    ct1.store.split(a, ["ZJJ"])
    ct2.store.merge(b, [a])
    ct2.sync()  # the merge first: A is merged, the split still made its child (an order of its own)
    converged(hub, ct1, ct2)
    for d in (ct1, ct2):
        sa = d.store.order(a)
        assert sa.merge is not None and sa.merge.into_no == b
        assert [unit for _no, unit, st in d.store.children(sa)] == ["ZJJ"]
    assert {st for st in outcomes(ct1).values()} <= {"applied", "redundant", "conflict"}


def test_the_units_of_a_merged_order_are_told(tmp_path) -> None:  # noqa: ANN001
    """The notice of a withdrawal: the webhook of each unit whose assignment a merge withdrew, and again when the
    merge is undone; a split's children are announced like any new order."""
    import httpx

    from fengqiao.server.webhooks import Deliverer, WebhookConfig

    path = tmp_path / "server.toml"
    path.write_text(
        '[webhooks]\nmsgtype = "text"\nSCJG = "https://robot.example/scjg"\nZJJ = "https://robot.example/zjj"\n'
    )
    hub = Hub(f"sqlite:///{tmp_path / 'server.db'}", tmp_path, hooks=WebhookConfig.load(path))
    sent: list[dict[str, Any]] = []

    def robot(request: httpx.Request) -> httpx.Response:
        sent.append({"url": str(request.url), **json.loads(request.content)})
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    def delivered() -> list[tuple[str, str]]:
        deliverer = Deliverer(hub.server, clock=hub.clock, client=httpx.Client(transport=httpx.MockTransport(robot)))
        while deliverer.deliver_due():
            pass
        out = [(m["url"].rsplit("/", 1)[1], m["text"]["content"].splitlines()[0]) for m in sent]
        sent.clear()
        return out

    try:
        ct1, _ct2, _scjg, (a, b, _c) = world(hub)
        assert len(delivered()) == 3  # three new orders for SCJG
        ct1.store.merge(a, [b], reason="同一家店")
        ct1.sync()
        assert delivered() == [("scjg", f"工单 {b} 已并入 {a}：市场监督管理局 的任务已撤回，无需再办")]
        hub.clock.advance(minutes=1)
        ct1.store.unmerge(b)
        ct1.store.split(a, ["ZJJ"])
        ct1.sync()
        got = delivered()
        assert got[0] == ("scjg", f"【新派单】{b}") and got[1][0] == "zjj"
    finally:
        hub.close()


def test_end_to_end_with_real_processes(tmp_path) -> None:  # noqa: ANN001
    """``fengqiao server run`` and two call-taker desks using only the command line: offline, each merges the same
    order into another one and one splits an order; after ``fengqiao sync --once`` all round, both desks show the
    same orders, the losing merge as a conflict, and ``fengqiao check`` is clean on both."""
    from .test_e2e import World

    w = World(tmp_path)
    try:
        a_cfg = w.desk("110-1", "call_taker", "SZ", timeout=5)
        b_cfg = w.desk("110-2", "call_taker", "SZB", timeout=5)
        a_db, b_db = tmp_path / "a.db", tmp_path / "b.db"
        w.start_server()
        nos = [
            w.run(
                "dispatch",
                "--phone",
                f"1390000000{i}",
                "--town",
                "SHH",
                "--tag",
                "B01",
                "--text",
                "假货",
                config=a_cfg,
                db=a_db,
            ).strip()
            for i in range(3)
        ]
        w.run("sync", "--once", config=a_cfg, db=a_db)
        w.run("sync", "--once", config=b_cfg, db=b_db)
        # offline: both merge the first order, into different ones; desk B also splits the third
        w.run("merge", nos[1], nos[0], "--reason", "desk A", config=a_cfg, db=a_db)
        w.run("merge", nos[2], nos[0], "--reason", "desk B", config=b_cfg, db=b_db)
        w.run("split", nos[2], "--to", "ZJJ", config=b_cfg, db=b_db)
        for cfg, db in ((b_cfg, b_db), (a_cfg, a_db), (b_cfg, b_db)):  # desk B reaches the server first
            w.run("sync", "--once", config=cfg, db=db)
        views = []
        for cfg, db in ((a_cfg, a_db), (b_cfg, b_db)):
            first = json.loads(w.run("order", nos[0], "--json", config=cfg, db=db))
            assert first["merged_into"]["order_no"] == nos[2]
            assert [(c["kind"], c["desk"]) for c in first["conflicts"]] == [("merge-into", "110-1")]
            third = json.loads(w.run("order", nos[2], "--json", config=cfg, db=db))
            assert [c["assignee"] for c in third["children"]] == ["ZJJ"]
            assert "未发现问题" in w.run("check", config=cfg, db=db)
            views.append(w.run("orders", "--json", "--limit", "100", config=cfg, db=db))
        assert views[0] == views[1]
    finally:
        w.close()
