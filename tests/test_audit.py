"""The audit trail: `fengqiao audit ORDER`, `fengqiao check` finding edited, deleted, truncated and
rewritten logs (tampering through a raw sqlite3 connection, triggers dropped), partial synced copies."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from fengqiao.console.commands.audit import CHECK_FAILED
from fengqiao.models.events import GENESIS, STORED_COLUMNS, chain_digest, hash_fields
from fengqiao.store.db import Database
from fengqiao.store.rollups import rebuild
from tests.test_cli import ok, run


@pytest.fixture
def desk_db(tmp_path: Path) -> tuple[Path, list[str]]:
    """Three orders written by desk 110-1 (events 1–7 of its chain)."""
    db = tmp_path / "desk.db"
    nos = [
        ok(
            db,
            "dispatch",
            "--phone",
            "13857512345",
            "--town",
            "HZ",
            "--tag",
            "B01",
            "--text",
            f"假货 {i}",
            "--desk",
            "110-1",
        )
        for i in range(3)
    ]
    ok(db, "act", nos[0], "sign", "--desk", "110-1")
    ok(db, "act", nos[0], "return", "--note", "不属本部门", "--desk", "110-1")
    ok(db, "act", nos[1], "sign", "--desk", "110-1")
    ok(db, "act", nos[2], "cancel", "--note", "报警人撤回", "--desk", "110-1")
    return db, nos


def tamper(db: Path, *statements: str, params: tuple = ()) -> None:
    """Edit the file the way an attacker with the file would: a raw connection, the guard triggers dropped."""
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_update")
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
    for sql in statements:
        conn.execute(sql, params if "?" in sql else ())
    conn.commit()
    conn.close()


def check(db: Path, *args: str) -> tuple[int, dict]:
    result = run(db, "check", "--json", *args)
    assert result.exit_code in (0, CHECK_FAILED), result.output
    return result.exit_code, json.loads(result.stdout)


def kinds(report: dict) -> list[tuple]:
    return [(f["kind"], f["desk"], f["seq"]) for f in report["faults"] if f["log"] != "orders"]


def test_a_clean_store_passes(desk_db) -> None:
    db, _ = desk_db
    code, report = check(db)
    assert code == 0 and report["ok"] and report["faults"] == []
    assert report["integrity"] == ["ok"] and report["events"] == 7 and report["orders"] == 3 and report["replayed"]
    chain = report["chains"][0]
    assert (chain["desk"], chain["held"], chain["first"], chain["last"], chain["head"]) == ("110-1", 7, 1, 7, 7)
    human = ok(db, "check")
    assert "未发现问题" in human and chain["last_hash"][:16] in human


def test_the_triggers_refuse_edits_and_deletes(desk_db) -> None:
    db, _ = desk_db
    conn = sqlite3.connect(db)
    for sql in ("UPDATE events SET actor = 'x'", "DELETE FROM events WHERE desk_seq = 7"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)
    conn.close()


def test_check_finds_an_edited_event(desk_db) -> None:
    db, nos = desk_db
    tamper(db, "UPDATE events SET payload = replace(payload, '不属本部门', '属本部门') WHERE desk_seq = 5")
    code, report = check(db)
    assert code == CHECK_FAILED
    assert ("edited", "110-1", 5) in kinds(report)
    edited = next(f for f in report["faults"] if f["kind"] == "edited")
    assert edited["order_no"] == nos[0]
    assert "席位 110-1 的第 5 条" in edited["message"] and "写入后被修改过" in edited["message"]
    # the replay of the edited event no longer matches what the desk saw then
    assert any(f["kind"] == "projection" and f["order_no"] == nos[0] for f in report["faults"])
    assert any(f["kind"] == "trigger" for f in report["faults"])
    human = run(db, "check")
    assert human.exit_code == CHECK_FAILED and "第 5 条" in human.stdout
    assert "does not match its hash" in run(db, "check", lang="en").stdout


def test_check_finds_a_deleted_event(desk_db) -> None:
    db, nos = desk_db
    tamper(db, "DELETE FROM events WHERE desk = '110-1' AND desk_seq = 4")
    code, report = check(db)
    assert code == CHECK_FAILED
    assert ("deleted", "110-1", 4) in kinds(report)
    deleted = next(f for f in report["faults"] if f["kind"] == "deleted")
    assert "缺少第 4 条" in deleted["message"] and "被删除了" in deleted["message"]
    assert any(f["log"] == "orders" and f["order_no"] == nos[0] for f in report["faults"])


def test_check_finds_a_truncated_log(desk_db) -> None:
    db, _ = desk_db
    tamper(db, "DELETE FROM events WHERE desk = '110-1' AND desk_seq >= 6")
    code, report = check(db, "--quick")
    assert code == CHECK_FAILED
    fault = next(f for f in report["faults"] if f["kind"] == "truncated")
    assert (fault["seq"], fault["seq_to"]) == (6, 7)
    assert "被截断" in fault["message"] and "第 7 条" in fault["message"] and "第 5 条" in fault["message"]


def test_check_finds_a_chain_rewritten_by_someone_who_knows_the_hash(desk_db) -> None:
    """Editing an event and recomputing its own hash still breaks the link from the next event."""
    db, _ = desk_db
    conn = sqlite3.connect(db)
    row = conn.execute(
        "SELECT id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, "
        "payload, prev_hash FROM events WHERE desk_seq = 3"
    ).fetchone()
    conn.close()
    cols = (
        "id",
        "order_id",
        "assignment_id",
        "kind",
        "actor",
        "desk",
        "desk_seq",
        "event_at",
        "recorded_at",
        "payload",
        "prev_hash",
    )
    fields = dict(zip(cols, row, strict=True))
    fields["actor"] = "someone else"
    forged = hash_fields(**fields)
    tamper(db, "UPDATE events SET actor = 'someone else', hash = ? WHERE desk_seq = 3", params=(forged,))
    code, report = check(db, "--quick")
    assert code == CHECK_FAILED
    assert kinds(report) == [("trigger", None, None), ("trigger", None, None), ("relinked", "110-1", 4)]
    assert "没有接在第 3 条之后" in report["faults"][-1]["message"]


def test_check_finds_a_removed_tail_even_with_the_head_rolled_back(desk_db) -> None:
    """Delete the last event and rewind desk_heads too: the chain looks whole, the projection does not."""
    db, nos = desk_db
    conn = sqlite3.connect(db)
    prev = conn.execute("SELECT hash FROM events WHERE desk_seq = 6").fetchone()[0]
    conn.close()
    tamper(db, "DELETE FROM events WHERE desk_seq = 7", "UPDATE desk_heads SET seq = 6, hash = ?", params=(prev,))
    code, report = check(db)
    assert code == CHECK_FAILED
    assert [f["order_no"] for f in report["faults"] if f["log"] == "orders"][:1] == [nos[2]]


def test_check_finds_edited_tables(desk_db) -> None:
    db, nos = desk_db
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE calls SET description = '篡改' WHERE order_id = (SELECT id FROM orders WHERE order_no = ?)", (nos[1],)
    )
    conn.execute("UPDATE orders SET status = 'closed' WHERE order_no = ?", (nos[2],))
    conn.commit()
    conn.close()
    code, report = check(db)
    assert code == CHECK_FAILED
    by_order = {f["order_no"]: f for f in report["faults"]}
    assert by_order[nos[1]]["kind"] == "call" and "篡改" in by_order[nos[1]]["message"]
    assert by_order[nos[2]]["kind"] == "projection" and "closed" in by_order[nos[2]]["message"]
    quick, quick_report = check(db, "--quick")  # without the replay, the KPI rollups still disagree with the rows
    assert quick == CHECK_FAILED and {f["kind"] for f in quick_report["faults"]} == {"derived"}


def test_check_explains_a_damaged_file(desk_db) -> None:
    db, _ = desk_db
    data = bytearray(db.read_bytes())
    data[4096 * 2 : 4096 * 2 + 64] = b"\xde\xad" * 32  # scribble over a b-tree page
    db.write_bytes(bytes(data))
    result = run(db, "check")
    assert result.exit_code in (1, CHECK_FAILED)
    text = result.stdout + result.stderr
    assert "损坏" in text and "Traceback" not in text


def test_check_never_changes_the_file(tmp_path: Path, desk_db) -> None:
    db, _ = desk_db
    backup = tmp_path / "b.db"
    ok(db, "backup", str(backup))
    digest = hashlib.sha256(backup.read_bytes()).hexdigest()
    assert check(backup)[0] == 0
    assert hashlib.sha256(backup.read_bytes()).hexdigest() == digest
    assert not Path(str(backup) + "-wal").exists()


def copy_orders(src: Path, dst: Path, order_nos: list[str]) -> None:
    """What a sync pull does: whole orders (rows and all their events) from another desk's database."""
    conn = sqlite3.connect(dst)
    conn.execute("ATTACH DATABASE ? AS s", (str(src),))
    marks = ", ".join("?" for _ in order_nos)
    ids = f"(SELECT id FROM s.orders WHERE order_no IN ({marks}))"
    conn.execute(f"INSERT INTO calls SELECT * FROM s.calls WHERE order_id IN {ids}", order_nos)
    conn.execute(f"INSERT INTO orders SELECT * FROM s.orders WHERE id IN {ids}", order_nos)
    conn.execute(f"INSERT INTO assignments SELECT * FROM s.assignments WHERE order_id IN {ids}", order_nos)
    conn.execute(
        "INSERT INTO events (id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, "
        f"payload, prev_hash, hash) SELECT id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, "
        f"recorded_at, payload, prev_hash, hash FROM s.events WHERE order_id IN {ids} ORDER BY seq",
        order_nos,
    )
    conn.commit()
    conn.close()
    store = Database(dst)  # as a pull does, the KPI rollups follow the rows
    try:
        with store.write() as c:
            rebuild(c)
    finally:
        store.close()


def test_a_partial_synced_copy_is_checked_event_by_event(
    tmp_path: Path, desk_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = desk_db
    other = tmp_path / "other.db"
    config = tmp_path / "county-2.toml"
    config.write_text('[desk]\nprefix = "XC"\n', encoding="utf-8")
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    theirs = [
        ok(
            other,
            "dispatch",
            "--phone",
            "13957512345",
            "--town",
            "LS",
            "--tag",
            "B02",
            "--text",
            f"物业 {i}",
            "--desk",
            "county-2",
        )
        for i in range(5)
    ]
    copy_orders(other, db, [theirs[1], theirs[3], theirs[4]])  # a department pulled only some orders
    code, report = check(db)
    assert code == 0, report["faults"]
    copy = next(c for c in report["chains"] if c["desk"] == "county-2")
    assert (copy["head"], copy["held"], copy["first"], copy["last"], copy["missing"]) == (None, 3, 2, 5, 2)
    assert "同步副本" in ok(db, "check")
    # Demanding completeness turns the gaps into faults; an edited copied event is caught regardless.
    code, report = check(db, "--complete", "county-2", "--quick")
    assert code == CHECK_FAILED and {(f["seq"], f["seq_to"]) for f in report["faults"]} == {(1, 1), (3, 3)}
    tamper(db, "UPDATE events SET actor = 'x' WHERE desk = 'county-2' AND desk_seq = 4")
    code, report = check(db, "--quick")
    assert ("edited", "county-2", 4) in kinds(report)


def test_audit_prints_the_full_history(desk_db) -> None:
    db, nos = desk_db
    out = ok(db, "audit", nos[0])
    assert nos[0] in out and "共 3 条事件" in out and "哈希与链均一致" in out
    for expected in (
        "席位 110-1 第 1 条",
        "席位 110-1 第 4 条",
        "席位 110-1 第 5 条",
        "退单",
        "不属本部门",
        "发生时间",
        "记录时间",
        "✓ 链的起点",
        "✓ 接在第 3 条之后",
    ):
        assert expected in out, expected
    data = json.loads(ok(db, "audit", nos[0], "--json"))
    assert [e["desk_seq"] for e in data["events"]] == [1, 4, 5]
    first = data["events"][0]
    assert {"desk", "actor", "event_at", "recorded_at", "payload", "prev_hash", "hash", "hash_ok", "link_ok"} <= set(
        first
    )
    assert all(e["hash_ok"] and e["link_ok"] for e in data["events"])
    tamper(db, "UPDATE events SET event_at = '2020-01-01T00:00:00.000000Z' WHERE desk_seq = 4")
    data = json.loads(ok(db, "audit", nos[0], "--json"))
    assert [e["hash_ok"] for e in data["events"]] == [True, False, True]
    assert "写入后被修改过" in ok(db, "audit", nos[0])


def test_audit_respects_what_a_desk_may_see(desk_db) -> None:
    db, nos = desk_db
    result = run(db, "audit", nos[0], "--role", "department", "--dept", "SFJ")
    assert result.exit_code == 1 and "没有工单" in result.stderr


def test_check_accepts_overdue_moments_the_console_recorded(tmp_path: Path) -> None:
    """`mark_overdue` (the console every 30 s, `fengqiao orders`) records a passed deadline without an event;
    `check` accepts exactly that value and still finds an edited one."""
    from datetime import timedelta

    from fengqiao.models.clock import FixedClock
    from fengqiao.models.intake import IntakeForm
    from fengqiao.models.roles import Desk
    from fengqiao.store.audit import verify
    from fengqiao.store.board import mark_overdue
    from fengqiao.store.db import Database
    from fengqiao.store.orders import OrderStore
    from tests.conftest import T0

    path = tmp_path / "overdue.db"
    db = Database(path)
    store = OrderStore(db, desk=Desk(name="110-1"), clock=FixedClock(T0))
    store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="倒垃圾"), "A03")  # dual: two deadlines
    store.dispatch(IntakeForm(phone="13857512346", town="LS", description="假货"), "B01")
    assert mark_overdue(db, T0 + timedelta(minutes=30)) > 0
    later = FixedClock(T0 + timedelta(days=2))
    assert verify(db, clock=later).ok, [f.message for f in verify(db, clock=later).faults]
    assert "未发现问题" in ok(path, "check").splitlines()[-1]  # the CLI agrees (its clock: now, later still)
    db.close()
    conn = sqlite3.connect(path)  # the projection has no guard triggers: anyone with the file can edit it
    conn.execute("UPDATE assignments SET first_overdue_at = '2026-11-28T01:31:00.000000Z' WHERE assignee = 'SCJG'")
    conn.commit()
    conn.close()
    db = Database(path)
    faults = verify(db, clock=later).faults
    db.close()
    assert len(faults) == 1 and "first_overdue_at" in faults[0].message and "SZ-20261128-0002" in faults[0].message


@pytest.mark.parametrize(
    "fields",
    [
        (
            "e1",
            "o1",
            None,
            "dispatch",
            "110-1",
            "110-1",
            1,
            "2026-11-28T01:30:00.000000Z",
            "2026-11-28T01:30:00.000000Z",
            "{}",
            GENESIS,
        ),
        (
            "e2",
            "o1",
            "a1",
            "feedback",
            "dept-ZJJ",
            "dept-ZJJ",
            12345,
            "t",
            "u",
            '{"text":"已到场处置，双方达成一致"}',
            "f" * 64,
        ),
        ("", "", "", "", "", "", 0, "", "", "", ""),
        ("e;3:", "o:;", "a\ud800", "k", "x" * 300, "d", 7, "a", "b", "中" * 1000, "0"),
    ],
)
def test_hash_fields_is_the_chain_digest_of_the_stored_fields(fields) -> None:
    """hash_fields (spelled out for the demo's millions of links) is the chain's definition, chain_digest."""
    named = dict(zip([c for c in STORED_COLUMNS if c != "hash"], fields, strict=True))
    texts = [named[c] or "" if c == "assignment_id" else str(named[c]) for c in STORED_COLUMNS if c != "hash"]
    assert hash_fields(**named) == chain_digest(texts)
