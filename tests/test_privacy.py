"""Callers' phone numbers: masked for roles that do not call back, `--unmasked` for supervisors only and
always written to the append-only, hash-chained access log before anything is shown."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fengqiao.console.commands.audit import CHECK_FAILED
from fengqiao.models.errors import PermissionDenied
from fengqiao.models.privacy import mask_payload, phone_view
from fengqiao.models.roles import make_desk
from fengqiao.store.audit import access_log, record_access, verify
from fengqiao.store.db import Database
from tests.test_cli import count, fails, ok, run

PHONE = "13857512345"
MASKED = "138****2345"


@pytest.fixture
def order(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", "--phone", PHONE, "--town", "HZ", "--tag", "B01", "--text", "假货")
    ok(db, "act", no, "sign", "--role", "department", "--dept", "ZZ", "--town", "HZ")
    return db, no


def phones_in(text: str) -> set[str]:
    return {p for p in (PHONE, MASKED) if p in text}


@pytest.mark.parametrize(
    ("role", "seen"),
    [
        ([], PHONE),  # the local operator's tool
        (["--role", "call_taker"], PHONE),
        (["--role", "department", "--dept", "ZZ", "--town", "HZ"], PHONE),
        (["--role", "supervisor"], MASKED),
    ],
)
def test_order_and_orders_show_numbers_by_role(order, role: list[str], seen: str) -> None:
    db, no = order
    orders_role = [a.replace("--dept", "--desk-dept").replace("--town", "--desk-town") for a in role]
    for out in (
        ok(db, "order", no, *role),
        ok(db, "order", no, "--json", *role),
        ok(db, "orders", *orders_role),
        ok(db, "orders", "--json", *orders_role),
        ok(db, "audit", no, *role),
        ok(db, "audit", no, "--json", *role),
    ):
        assert phones_in(out) == {seen}, out
    assert count(db, "access_log") == 0


def test_unmasked_needs_the_supervisor_role(order) -> None:
    db, no = order
    for role in ([], ["--role", "call_taker"], ["--role", "department", "--dept", "ZZ", "--town", "HZ"]):
        err = fails(db, "order", no, "--unmasked", *role)
        assert "只有督办席位可以查看完整号码" in err
    assert "Only a supervisor desk" in fails(db, "orders", "--unmasked", lang="en")
    assert count(db, "access_log") == 0


def test_unmasked_is_recorded_before_it_is_shown(order) -> None:
    db, no = order
    out = ok(db, "order", no, "--role", "supervisor", "--unmasked", "--desk", "督办-1")
    assert PHONE in out
    detail = json.loads(ok(db, "order", no, "--json", "--role", "supervisor", "--unmasked", "--desk", "督办-1"))
    assert detail["call"]["phone"] == PHONE and detail["events"][0]["payload"]["call"]["phone"] == PHONE
    assert PHONE in ok(db, "orders", "--role", "supervisor", "--unmasked", "--desk", "督办-1")
    assert PHONE in ok(db, "audit", no, "--role", "supervisor", "--unmasked", "--desk", "督办-1")
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT desk, desk_seq, role, action, target, detail FROM access_log ORDER BY seq").fetchall()
    conn.close()
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("督办-1", 1, "supervisor", "unmasked", "order"),
        ("督办-1", 2, "supervisor", "unmasked", "order"),
        ("督办-1", 3, "supervisor", "unmasked", "orders"),
        ("督办-1", 4, "supervisor", "unmasked", "audit"),
    ]
    first = json.loads(rows[0][5])
    assert first["orders"] == [no] and first["command"].endswith("order") and first["params"]["unmasked"] is True
    report = json.loads(ok(db, "check", "--json"))
    assert report["ok"] and report["access"] == 4
    assert any(c["log"] == "access" and c["desk"] == "督办-1" and c["head"] == 4 for c in report["chains"])


def test_no_log_line_no_full_numbers(order, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the access cannot be recorded (here: the file is locked), the full numbers are not shown."""
    db, no = order
    monkeypatch.setenv("FENGQIAO_BUSY_MS", "100")
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = run(db, "order", no, "--role", "supervisor", "--unmasked")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.exit_code == 1 and "被另一个程序占用" in result.stderr
    assert PHONE not in result.stdout


def test_the_access_log_is_append_only_and_chained(order) -> None:
    db, no = order
    ok(db, "order", no, "--role", "supervisor", "--unmasked")
    ok(db, "order", no, "--role", "supervisor", "--unmasked")
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM access_log")
    conn.execute("DROP TRIGGER access_log_append_only_update")
    conn.execute("UPDATE access_log SET detail = '{}' WHERE desk_seq = 1")
    conn.commit()
    conn.close()
    result = run(db, "check", "--json", "--quick")
    assert result.exit_code == CHECK_FAILED
    messages = [f["message"] for f in json.loads(result.stdout)["faults"]]
    assert any("访问记录" in m and "第 1 条" in m and "修改过" in m for m in messages), messages
    assert any("access_log_append_only_update" in m for m in messages)


def test_store_level_access_log(db: Database, ref, clock) -> None:
    boss = make_desk(ref, "督办-2", "supervisor", operator="李四")
    first = record_access(db, boss, target="export", detail={"file": "周报.xlsx", "orders": ["SZ-1"]}, clock=clock)
    second = record_access(db, boss, target="export", detail={"file": "月报.xlsx"}, clock=clock)
    assert (first.desk_seq, second.desk_seq, second.prev_hash) == (1, 2, first.hash)
    assert [r.desk_seq for r in access_log(db)] == [2, 1]
    assert access_log(db)[0].actor == "李四" and json.loads(first.detail)["file"] == "周报.xlsx"
    assert verify(db).ok


def test_phone_view_rules(ref) -> None:
    boss = make_desk(ref, "s", "supervisor")
    taker = make_desk(ref, "c", "call_taker")
    assert phone_view(taker)(PHONE) == PHONE
    assert phone_view(boss)(PHONE) == MASKED
    assert phone_view(taker, masked_by_default=True)(PHONE) == MASKED  # exports and the cockpit
    assert phone_view(boss, unmasked=True, masked_by_default=True)(PHONE) == PHONE
    with pytest.raises(PermissionDenied):
        phone_view(taker, unmasked=True)
    payload = {"call": {"phone": "0575-83012345", "description": "x"}, "order_no": "SZ-1"}
    assert mask_payload(payload, phone_view(boss))["call"]["phone"] == "0575-****2345"
    assert payload["call"]["phone"] == "0575-83012345"  # the stored payload is not touched


def test_read_only_views_default_to_the_config_desk(order, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a supervisor's machine `orders`, `order` and `audit` mask without --role; `act` stays the operator's."""
    db, no = order
    config = tmp_path / "config.toml"
    config.write_text('[desk]\nname = "督办-9"\nrole = "supervisor"\n', encoding="utf-8")
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    for out in (
        ok(db, "order", no),
        ok(db, "order", no, "--json"),
        ok(db, "orders"),
        ok(db, "orders", "--json"),
        ok(db, "audit", no),
        ok(db, "audit", no, "--json"),
    ):
        assert phones_in(out) == {MASKED}, out
    assert phones_in(ok(db, "order", no, "--role", "call_taker")) == {PHONE}  # --role still decides
    assert PHONE in ok(db, "orders", "--unmasked")  # the config desk is a supervisor: allowed and recorded
    assert count(db, "access_log") == 1
    ok(db, "act", no, "arrive", "--assignee", "ZZ")  # without --role `act` is the local operator's tool
    # A department's machine lists only its own orders.
    config.write_text('[desk]\nname = "市场监管-1"\nrole = "department"\ndept = "SCJG"\n', encoding="utf-8")
    assert ok(db, "orders") == "没有符合条件的工单"
    assert f"没有工单 {no}" in fails(db, "order", no)
