"""Desk roles for the board: shared police stations, returned orders, the CLI's --role, and the desk config file."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fengqiao.console.cli import app
from fengqiao.models.errors import NotFound, PermissionDenied
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.models.roles import make_desk
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore

runner = CliRunner()


def desk_store(db: Database, ref, clock, role: str | None, **where: str) -> OrderStore:
    return OrderStore(
        db, ref=ref, desk=make_desk(ref, f"{role}-{'-'.join(where.values())}", role, **where), clock=clock
    )


def test_a_shared_station_is_split_by_town(db: Database, ref, clock) -> None:
    """谷来派出所 (GA-GLL) serves 谷来镇 and 贵门乡: each township centre sees only its own town's share."""
    taker = desk_store(db, ref, clock, "call_taker")
    gm = taker.dispatch(IntakeForm(phone="13857512345", town="GM", description="邻居吵架"), "B04")  # dual
    gll = taker.dispatch(IntakeForm(phone="13857512346", town="GLL", description="邻居吵架"), "B04")
    assert gm.police is not None and gm.police.assignee == gll.police.assignee == "GA-GLL"
    gm_desk = desk_store(db, ref, clock, "township", town="GM")
    gll_desk = desk_store(db, ref, clock, "township", town="GLL")
    station = desk_store(db, ref, clock, "department", dept="GA-GLL")
    assert [o.order_no for o in gm_desk.list_orders()] == [gm.order_no]
    assert [o.order_no for o in gll_desk.list_orders()] == [gll.order_no]
    assert {o.order_no for o in station.list_orders()} == {gm.order_no, gll.order_no}
    with pytest.raises(NotFound):
        gll_desk.act(gm.order_no, Intent(Action.SIGN, assignee="GA"))
    clock.advance(minutes=1)
    assert gm_desk.act(gm.order_no, Intent(Action.SIGN, assignee="GA")).police.status == "signed"
    clock.advance(minutes=1)
    # The centre holds both halves of the dual order; with the station's signed, "sign" means its own.
    assert gm_desk.act(gm.order_no, Intent(Action.SIGN)).primary.status == "signed"


def test_a_returned_order_leaves_the_department_once_reassigned(db: Database, ref, clock) -> None:
    taker = desk_store(db, ref, clock, "call_taker")
    o = taker.dispatch(IntakeForm(phone="13857512345", town="SHH", description="买到假货"), "B01")  # SCJG
    scjg = desk_store(db, ref, clock, "department", dept="SCJG")
    clock.advance(minutes=1)
    scjg.act(o.order_no, Intent(Action.RETURN, note="属于合同纠纷"))
    assert [r.order_no for r in scjg.list_orders()] == [o.order_no]  # still theirs while it waits
    clock.advance(minutes=1)
    taker.act(o.order_no, Intent(Action.REASSIGN, to="SFJ", note="转司法调解"))
    assert scjg.list_orders() == []
    with pytest.raises(NotFound):
        scjg.order(o.order_no)
    sfj = desk_store(db, ref, clock, "department", dept="SFJ")
    assert {a for a, _ in sfj.allowed(sfj.order(o.order_no))} == {Action.SIGN, Action.RETURN, Action.NOTE}
    sup = desk_store(db, ref, clock, "supervisor")
    assert {a for a, _ in sup.allowed(sup.order(o.order_no))} == {Action.JUDGE_RETURN, Action.NOTE}


def test_each_role_is_offered_only_its_actions(db: Database, ref, clock) -> None:
    taker = desk_store(db, ref, clock, "call_taker")
    o = taker.dispatch(IntakeForm(phone="13857512345", town="SHH", description="买到假货"), "B01")
    scjg = desk_store(db, ref, clock, "department", dept="SCJG")
    sup = desk_store(db, ref, clock, "supervisor")
    # every desk may add a note to what it sees; an urge once a deadline has passed
    assert {a for a, _ in taker.allowed(taker.order(o.order_no))} == {Action.CANCEL, Action.NOTE}
    assert {a for a, _ in scjg.allowed(scjg.order(o.order_no))} == {Action.SIGN, Action.RETURN, Action.NOTE}
    assert [a for a, _ in sup.allowed(sup.order(o.order_no))] == [Action.NOTE]
    clock.set(o.primary.sign_due + timedelta(minutes=1))
    assert {a for a, _ in sup.allowed(sup.order(o.order_no))} == {Action.ESCALATE, Action.NOTE, Action.URGE}
    assert {a for a, _ in taker.allowed(taker.order(o.order_no))} == {Action.CANCEL, Action.NOTE, Action.URGE}
    assert {a for a, _ in scjg.allowed(scjg.order(o.order_no))} == {Action.SIGN, Action.RETURN, Action.NOTE}
    with pytest.raises(PermissionDenied):
        sup.act(o.order_no, Intent(Action.CANCEL, note="x"))


# ---- the command line ----------------------------------------------------------------------------------


def run(db: Path, *args: str):
    return runner.invoke(app, ["--db", str(db), *args])


def test_act_applies_the_role_rules(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = run(
        db, "dispatch", "--phone", "13857512345", "--town", "SHH", "--tag", "B01", "--text", "买到假货"
    ).stdout.strip()
    refused = run(db, "act", no, "sign", "--role", "department", "--dept", "ZJJ")
    assert refused.exit_code != 0 and f"没有工单 {no}" in refused.stderr  # not theirs: not even visible
    refused = run(db, "act", no, "sign", "--role", "supervisor")
    assert refused.exit_code != 0 and "不能对工单" in refused.stderr and len(refused.stderr.splitlines()) == 1
    ok = run(db, "act", no, "sign", "--role", "department", "--dept", "SCJG", "--desk", "scjg-1", "--json")
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "signed"
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT kind, desk FROM events ORDER BY seq").fetchall()[1:] == [("sign", "scjg-1")]
    conn.close()


def test_orders_records_the_first_overdue_moment(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = run(
        db,
        "dispatch",
        "--phone",
        "13857512345",
        "--town",
        "SHH",
        "--tag",
        "B01",
        "--text",
        "买到假货",
        "--at",
        "2020-01-01T09:00",
    ).stdout.strip()
    result = run(db, "orders", "--overdue", "--json")
    assert result.exit_code == 0
    assert [o["order_no"] for o in json.loads(result.stdout)["orders"]] == [no]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT first_overdue_at FROM orders").fetchone()[0] == "2020-01-01T01:10:00.000000Z"
    conn.close()


def test_desk_set_and_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    monkeypatch.setenv("FENGQIAO_CONFIG", str(cfg))
    cfg.write_text('[desk]\nname = "old"\nlang = "zh"\n\n[sync]\nserver = "http://x"\n', encoding="utf-8")
    result = runner.invoke(app, ["desk", "set", "--role", "department", "--dept", "scjg", "--operator", "李四"])
    assert result.exit_code == 0, result.stderr
    data = tomllib.loads(cfg.read_text(encoding="utf-8"))
    assert data["desk"] == {"name": "old", "role": "department", "dept": "SCJG", "operator": "李四", "lang": "zh"}
    assert data["sync"] == {"server": "http://x"}  # other sections are kept
    shown = json.loads(runner.invoke(app, ["desk", "show", "--json"]).stdout)
    assert (shown["role"], shown["dept"], shown["operator"]) == ("department", "SCJG", "李四")
    assert runner.invoke(app, ["desk", "set", "--role", "township", "--town", "黄泽镇"]).exit_code == 0
    data = tomllib.loads(cfg.read_text(encoding="utf-8"))
    assert data["desk"]["role"] == "township" and data["desk"]["town"] == "HZ" and "dept" not in data["desk"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "department"], "需要指定部门"),
        (["--role", "township", "--town", "XX"], "未知镇街"),
        (["--role", "boss"], "未知角色"),
        (["--role", "department", "--dept", "NOPE"], "未知部门"),
        (["--lang", "fr"], "fr"),
    ],
)
def test_desk_set_refuses_bad_settings_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    cfg = tmp_path / "config.toml"
    monkeypatch.setenv("FENGQIAO_CONFIG", str(cfg))
    cfg.write_text('[desk]\nname = "keep"\n', encoding="utf-8")
    result = runner.invoke(app, ["desk", "set", *args])
    assert result.exit_code != 0 and message in result.stderr and "Traceback" not in result.output
    assert cfg.read_text(encoding="utf-8") == '[desk]\nname = "keep"\n'


def test_desk_show_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_CONFIG", str(tmp_path / "none.toml"))
    result = runner.invoke(app, ["desk", "show"])
    assert result.exit_code == 0 and "还没有席位配置文件" in result.stdout
