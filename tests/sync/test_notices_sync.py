"""Notices travel like every other subject: posted on a supervisor desk, calls recorded on a call-taker desk and a
township desk, the same state everywhere; the owner gets one summary per so many calls."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fengqiao.models.intake import IntakeForm
from fengqiao.server.webhooks import WebhookConfig, pending
from fengqiao.store.governance import GovernanceStore

from .hub import Hub


def g(d: object) -> GovernanceStore:
    return GovernanceStore(d.db, ref=d.hub.ref, desk=d.desk, clock=d.hub.clock)  # type: ignore[attr-defined]


def test_a_notice_syncs_between_three_desks_and_its_owner_gets_one_summary_per_five_calls(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('[webhooks]\nmsgtype = "markdown"\nZJJ = "https://robot.example/zjj"\n', encoding="utf-8")
    hub = Hub(f"sqlite:///{tmp_path / 'server.db'}", tmp_path, hooks=WebhookConfig.load(path))
    try:
        sup = hub.add("SUP", "supervisor")
        ct = hub.add("CT1", "call_taker", prefix="SZ")
        hz = hub.add("HZ-C", "township", town="HZ")
        other = hub.add("SHH-C", "township", town="SHH")
        clock = hub.clock
        n = g(sup).post_notice(
            kind="water", title="停水", towns=["HZ"], starts=clock(), ends=clock() + timedelta(hours=6),
            owner="ZJJ", keywords=["没水"], every=5,
        )  # fmt: skip
        hub.sync_all()
        for i in range(11):
            clock.advance(minutes=2)
            desk = ct if i % 2 else hz
            g(desk).take_call(n.no, IntakeForm(phone=f"1385751230{i % 10}", town="HZ", description="没水"))
        g(sup).end_notice(n.no, "已恢复")
        hub.sync_all(rounds=3)
        assert not hub.server.refused()
        rows = [d.rows("SELECT id, status, calls FROM notices") for d in (sup, ct, hz)]
        assert rows[0] == rows[1] == rows[2] == [(n.id, "ended", 11)]
        calls = [d.rows("SELECT count(*) FROM calls WHERE order_id = ?", n.id) for d in (sup, ct, hz)]
        assert calls == [[(11,)]] * 3
        assert other.rows("SELECT count(*) FROM notices") == [(0,)]  # another town's desk never gets it
        hooks = [h for h in pending(hub.server) if h["order_id"] == n.id]
        assert len(hooks) == 2 and all(h["assignee"] == "ZJJ" for h in hooks)  # after the 5th and the 10th call
        assert "10" in hooks[1]["body"]
    finally:
        hub.close()


def test_a_call_answered_on_the_spot_syncs_and_stays_out_of_other_towns(tmp_path: Path) -> None:
    hub = Hub(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)
    try:
        ct = hub.add("CT1", "call_taker", prefix="SZ")
        sup = hub.add("SUP", "supervisor")
        rsj = hub.add("RSJ", "department", dept="RSJ")
        other = hub.add("SHH-C", "township", town="SHH")
        done = g(ct).answer_call(IntakeForm(phone="13857512345", town="HZ", description="社保卡丢了"), "KB001")
        hub.sync_all()
        assert not hub.server.refused()
        want = [(done.id, "KB001", "D02", "RSJ")]
        for d in (ct, sup, rsj):  # the answer's owner sees the calls its answers settled
            assert d.rows("SELECT id, answer_id, tag, owner FROM answered") == want, d.name
            assert d.rows("SELECT count(*) FROM calls WHERE order_id = ?", done.id) == [(1,)], d.name
        assert other.rows("SELECT count(*) FROM answered") == [(0,)]
    finally:
        hub.close()
