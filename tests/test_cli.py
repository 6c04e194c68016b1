"""The command line through typer's CliRunner, on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fengqiao.console.cli import app

runner = CliRunner()


def run(db: Path, *args: str, lang: str | None = None):
    argv = ["--db", str(db)] + (["--lang", lang] if lang else []) + list(args)
    return runner.invoke(app, argv)


def ok(db: Path, *args: str) -> str:
    result = run(db, *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout.strip()


def fails(db: Path, *args: str, lang: str | None = None) -> str:
    result = run(db, *args, lang=lang)
    assert result.exit_code != 0, result.stdout
    err = result.stderr.strip()
    assert "Traceback" not in result.output
    assert len(err.splitlines()) == 1, err
    return err


def count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def test_taxonomy_json(tmp_path: Path) -> None:
    data = json.loads(ok(tmp_path / "x.db", "taxonomy", "--json"))
    assert data["tag_count"] == 75
    assert [c["code"] for c in data["categories"]] == ["A", "B", "C", "D"]
    assert [c["name_zh"] for c in data["categories"]] == ["行政服务类", "求助纠纷类", "国计民生类", "咨询投诉类"]
    assert sum(len(c["tags"]) for c in data["categories"]) == 75
    b01 = next(tag for c in data["categories"] for tag in c["tags"] if tag["code"] == "B01")
    assert b01["department"] == "SCJG" and b01["department_zh"] == "市场监督管理局"
    towns = json.loads(ok(tmp_path / "x.db", "taxonomy", "--towns", "--json"))["towns"]
    assert len(towns) == 21


def test_init_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    assert "结构版本" in ok(db, "init")
    assert "结构版本" in ok(db, "init")
    assert "schema version" in run(db, "init", lang="en").stdout


def test_an_order_through_every_state(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(
        db,
        "dispatch",
        "--phone",
        "13857512345",
        "--town",
        "LS",
        "--tag",
        "B02",
        "--text",
        "物业乱收停车费",
        "--address",
        "鹿山街道某小区",
        "--at",
        "2026-01-05T09:00",
    )
    assert no == "SZ-20260105-0001"
    steps = [
        ("sign", "--at", "2026-01-05T09:03"),
        ("sign", "--assignee", "GA", "--at", "2026-01-05T09:04"),
        ("arrive", "--assignee", "GA", "--at", "2026-01-05T09:20"),
        ("arrive", "--at", "2026-01-05T09:25"),
        ("feedback", "--result", "resolved", "--note", "已与物业协商，停车费暂缓收取", "--at", "2026-01-05T11:00"),
        ("feedback", "--assignee", "GA", "--result", "resolved", "--note", "现场秩序正常", "--at", "2026-01-05T11:05"),
        ("visit", "--satisfaction", "unsatisfied", "--note", "业主仍有意见", "--at", "2026-01-06T10:00"),
        ("reopen", "--note", "业主不满意，重新协调", "--at", "2026-01-06T10:05"),
        ("extend", "--hours", "12", "--note", "需召开业主大会", "--at", "2026-01-06T12:00"),
        ("approve-extension", "--at", "2026-01-06T12:30"),
        ("feedback", "--result", "resolved", "--note", "业主大会通过方案", "--at", "2026-01-07T20:00"),
        ("visit", "--satisfaction", "satisfied", "--at", "2026-01-08T09:00"),
        ("close", "--at", "2026-01-08T09:05"),
    ]
    for action, *args in steps:
        ok(db, "act", no, action, *args)
    detail = json.loads(ok(db, "order", no, "--json"))
    assert detail["status"] == "closed" and detail["reopen_count"] == 1 and detail["satisfaction"] == "satisfied"
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds == ["dispatch"] + [s[0] for s in steps]
    first = detail["events"][0]
    assert first["event_at"] == "2026-01-05T01:00:00.000000Z"  # 09:00 Shanghai
    assert all(e["recorded_at"] and e["actor"] and e["desk"] for e in detail["events"])
    zjj = detail["assignments"][0]
    assert zjj["extension"] == {"status": "approved", "hours": 12, "reason": "需召开业主大会"}
    human = ok(db, "order", no)
    assert "SZ-20260105-0001" in human and "住房和城乡建设局" in human and "鹿山派出所" in human


def test_return_reassign_cancel_and_escalate(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    a = ok(db, "dispatch", "--phone", "13857512345", "--town", "SHH", "--tag", "B11", "--text", "朋友借钱不还")
    ok(db, "act", a, "return", "--note", "属民间借贷，建议诉讼")
    assert json.loads(ok(db, "order", a, "--json"))["status"] == "returned"
    ok(db, "act", a, "reassign", "--to", "ZZ", "--note", "转街道人民调解")
    ok(db, "act", a, "judge-return", "--unjustified")
    assert json.loads(ok(db, "order", a, "--json"))["assignments"][0]["return_justified"] is False
    b = ok(
        db,
        "dispatch",
        "--phone",
        "13857512345",
        "--town",
        "SHH",
        "--tag",
        "C14",
        "--text",
        "楼下KTV太吵",
        "--at",
        "2026-01-01T22:00",
    )
    assert "超时" not in ok(db, "act", b, "escalate", "--note", "请立即签收")
    c = ok(db, "dispatch", "--phone", "13957512345", "--town", "SHH", "--tag", "C14", "--text", "广场舞")
    ok(db, "act", c, "cancel", "--note", "报警人称已停止")
    listed = json.loads(ok(db, "orders", "--json"))["orders"]
    assert {o["order_no"] for o in listed} == {a, b, c}
    overdue = json.loads(ok(db, "orders", "--overdue", "--json"))["orders"]
    assert [o["order_no"] for o in overdue] == [b]
    assert json.loads(ok(db, "orders", "--status", "cancelled", "--json"))["orders"][0]["order_no"] == c


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        ({"--tag": "Z99"}, [], "未知标签「Z99」"),
        ({"--town": "NOWHERE"}, [], "未知镇街「NOWHERE」"),
        ({"--phone": "1385751234"}, [], "手机号码应为 11 位，现在是 10 位"),
        ({"--text": "   "}, [], "「警情描述」不能为空"),
        ({"--text": "很" * 4001}, [], "「警情描述」太长：4001 字，上限 4000 字"),
        ({"--text": "a\x00b"}, [], "空字符"),
        ({}, ["--at", "tomorrow"], "无法识别的时间"),
        ({}, ["--at", "2099-01-01T00:00"], "晚于现在"),
        ({}, ["--dept", "SFJ"], "更改承办部门需要填写理由"),
        ({}, ["--single", "--dual"], "派单方式"),
    ],
)
def test_dispatch_errors_are_one_line_and_write_nothing(
    tmp_path: Path, change: dict[str, str], extra: list[str], message: str
) -> None:
    db = tmp_path / "x.db"
    ok(db, "init")
    fields = {"--phone": "13857512345", "--town": "HZ", "--tag": "B01", "--text": "买到假货", **change}
    argv = [item for pair in fields.items() for item in pair] + extra
    assert message in fails(db, "dispatch", *argv)
    assert count(db, "orders") == 0 and count(db, "events") == 0


def test_act_errors(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", "--phone", "13857512345", "--town", "HZ", "--tag", "B01", "--text", "假货")
    assert "不能「办结」" in fails(db, "act", no, "close")
    assert "没有工单 SZ-20000101-0001" in fails(db, "act", "SZ-20000101-0001", "sign")
    assert "未知操作" not in fails(db, "act", no, "fly")  # the bad-choice message lists what is valid
    assert "sign" in fails(db, "act", no, "fly")
    assert "Order" in fails(db, "act", no, "close", lang="en")
    assert "resolved" in fails(db, "act", no, "feedback", "--result", "maybe")
    events = count(db, "events")
    # Department desks may act only on their own assignments.
    assert "不能对工单" in fails(db, "act", no, "sign", "--role", "supervisor")
    assert "没有工单" in fails(db, "act", no, "sign", "--role", "department", "--dept", "ZJJ")
    ok(db, "act", no, "sign", "--role", "department", "--dept", "ZZ", "--town", "HZ")
    assert count(db, "events") == events + 1


def test_database_problems(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("hello")
    assert "不是 SQLite 数据库文件" in fails(junk, "orders")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    assert "不是枫桥派单台的数据库" in fails(other, "init")
    db = tmp_path / "x.db"
    ok(db, "init")
    blocker = sqlite3.connect(db, isolation_level=None, timeout=0.1)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        import os

        os.environ["FENGQIAO_BUSY_MS"] = "200"
        err = fails(db, "dispatch", "--phone", "13857512345", "--town", "HZ", "--tag", "B01", "--text", "x")
        assert "被另一个程序占用" in err
    finally:
        os.environ.pop("FENGQIAO_BUSY_MS", None)
        blocker.execute("ROLLBACK")
        blocker.close()
    assert count(db, "orders") == 0


def test_english(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    err = fails(db, "dispatch", "--phone", "12", "--town", "HZ", "--tag", "B01", "--text", "x", lang="en")
    assert "A mobile number has 11 digits; this one has 2" in err
    out = run(db, "taxonomy", lang="en").stdout
    assert "Consumer disputes" in out


def test_run_and_dashboard_take_lang_after_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`fengqiao run --lang en` opens the console in English, as `fengqiao --lang en run` does."""
    import fengqiao.console.commands.console as console_cmd
    import fengqiao.console.dashboard as dashboard
    from fengqiao.models.i18n import get_lang

    seen: list[str] = []
    monkeypatch.setattr(console_cmd, "run_console", lambda *a, **k: seen.append(get_lang()))
    monkeypatch.setattr(dashboard, "run_dashboard", lambda *a, **k: seen.append(get_lang()))
    db = tmp_path / "fq.db"
    ok(db, "run", "--role", "supervisor", "--lang", "en")
    ok(db, "dashboard", "--role", "supervisor", "--lang", "en")
    ok(db, "run")
    assert seen == ["en", "en", "zh"]
    assert "'xx' is not one of" in run(db, "run", "--lang", "xx").output
