"""``fengqiao merge``, ``unmerge`` and ``split`` through typer's CliRunner: what they print, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from .test_cli import count, fails, ok


def dispatch(db: Path, phone: str, text: str, at: str) -> str:
    return ok(db, "dispatch", "--phone", phone, "--town", "SHH", "--tag", "B01", "--text", text, "--at", at)


def three(db: Path) -> list[str]:
    return [
        dispatch(db, "13857512345", "人民路那家店卖假货", "2026-01-05T09:00"),
        dispatch(db, "13900000002", "同一家店，我也买到假货", "2026-01-05T09:05"),
        dispatch(db, "13900000003", "人民路超市卖假酒", "2026-01-05T09:10"),
    ]


def test_merge_and_unmerge(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    a, b, c = three(db)
    out = ok(db, "merge", a, b, c, "--reason", "同一家店")
    lines = out.splitlines()
    assert lines[0] == f"已把 {b} {c} 并入 {a}"
    assert len(lines) == 3 and all("撤回 市场监督管理局" in line for line in lines[1:])
    shown = ok(db, "order", a)
    assert f"并入本单：{b} 13900000002 同一家店，我也买到假货; {c}" in shown
    assert f"已并入 {a}" in ok(db, "order", b)
    data = json.loads(ok(db, "order", b, "--json"))
    assert data["status"] == "cancelled" and data["merged_into"]["order_no"] == a
    assert [x["order_no"] for x in json.loads(ok(db, "order", a, "--json"))["absorbed"]] == [b, c]
    assert ok(db, "unmerge", b, "--reason", "不是同一件事") == f"已撤销合并：{b}"
    assert json.loads(ok(db, "order", b, "--json"))["status"] == "dispatched"
    assert ok(db, "unmerge", a) == f"已撤销合并：{c}"
    assert "未发现问题" in ok(db, "check")


def test_split(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    a, _b, _c = three(db)
    out = ok(db, "split", a, "--to", "ZJJ", "--to", "sw", "--reason", "两个单位各管一部分")
    assert out.startswith(f"已拆分 {a}：") and "→ZJJ" in out and "→SW" in out
    data = json.loads(ok(db, "order", a, "--json"))
    assert [c["assignee"] for c in data["children"]] == ["ZJJ", "SW"]
    child = data["children"][0]["order_no"]
    assert f"子工单，主单 {a}" in ok(db, "order", child)
    assert count(db, "orders") == 5


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    a, b, _c = three(db)
    events = count(db, "events")
    assert "至少一张" in fails(db, "merge", a)
    assert "写了两次" in fails(db, "merge", a, a)
    assert "SZ-20260105-9999" in fails(db, "merge", a, "SZ-20260105-9999")
    assert "--to" in fails(db, "split", a)
    assert "NOPE" in fails(db, "split", a, "--to", "NOPE")
    assert "既没有并入其他工单" in fails(db, "unmerge", b)
    assert "太长" in fails(db, "merge", a, b, "--reason", "长" * 5000)
    assert count(db, "events") == events
    english = fails(db, "split", a, "--to", "ZJJ", "--to", "ZJJ", lang="en")
    assert english.endswith("Unit Housing and Urban-Rural Development Bureau (ZJJ) is named twice")
    ok(db, "merge", a, b)
    assert "不能拆分" in fails(db, "split", b, "--to", "ZJJ")
    assert "不是有效的操作" in fails(db, "act", b, "merge-into")  # a merge is never one order's action


def test_roles(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    a, b, _c = three(db)
    assert "不能" in fails(db, "merge", a, b, "--role", "department", "--dept", "SCJG")
    assert "不能" in fails(db, "split", a, "--to", "ZJJ", "--role", "supervisor")  # a split dispatches
    assert ok(db, "merge", a, b, "--role", "supervisor").startswith("已把")
    assert ok(db, "split", a, "--to", "ZJJ", "--role", "call_taker").startswith("已拆分")
    assert ok(db, "unmerge", b, "--role", "supervisor") == f"已撤销合并：{b}"
    assert "未发现问题" in ok(db, "check")
