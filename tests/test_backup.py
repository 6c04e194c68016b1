"""`fengqiao backup` (online, while others write) and `fengqiao restore` (checked, never drops newer data
without --force, keeps the replaced file)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from fengqiao.models.errors import StoreError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.models.roles import Desk
from fengqiao.store import migrations
from fengqiao.store.audit import verify
from fengqiao.store.backup import backup, restore
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore
from tests.test_audit import tamper
from tests.test_cli import count, fails, ok

ARGS = ("--phone", "13857512345", "--town", "HZ", "--tag", "B01", "--text", "假货")


def test_backup_while_another_connection_writes(db: Database, tmp_path: Path, ref, clock) -> None:
    store = OrderStore(db, ref=ref, desk=Desk(name="writer"), clock=clock)
    for _ in range(50):
        store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="先有" * 200), "B01")
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:  # the console (another connection) keeps dispatching and signing
        other = Database(db.path)
        writer = OrderStore(other, ref=ref, desk=Desk(name="console"), clock=clock)
        try:
            while not stop.is_set():
                o = writer.dispatch(IntakeForm(phone="13957512345", town="LS", description="同时写入"), "B02")
                writer.act(o.order_no, Intent(Action.SIGN))
                written.append(1)
        finally:
            other.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while len(written) < 5 and thread.is_alive():
            stop.wait(0.01)
        targets = [tmp_path / f"b{i}.db" for i in range(3)]
        results = [backup(db, target) for target in targets]
    finally:
        stop.set()
        thread.join()
    assert len(written) >= 5
    for result in results:
        copy = Database(result.snapshot.path, readonly=True)
        try:
            report = verify(copy)  # a consistent snapshot: chains whole, every order equal to its events
            assert report.ok, report.faults
            assert report.orders == result.snapshot.orders >= 55
        finally:
            copy.close()
        assert result.snapshot.path.read_bytes()[:16] == b"SQLite format 3\x00"
        assert not Path(str(result.snapshot.path) + "-wal").exists()  # a single self-contained file
    assert results[0].snapshot.events <= results[-1].snapshot.events


def test_backup_cli_rules(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    ok(db, "dispatch", *ARGS)
    target = tmp_path / "copy.db"
    assert "已备份到" in ok(db, "backup", str(target))
    assert "已存在" in fails(db, "backup", str(target))
    ok(db, "backup", str(target), "--force")
    folder = tmp_path / "backups"
    folder.mkdir()
    ok(db, "backup", str(folder))
    assert [p.name.startswith("fengqiao-") for p in folder.iterdir()] == [True]
    assert "它自己" in fails(db, "backup", str(db))
    assert "不存在" in fails(db, "backup", str(tmp_path / "nowhere" / "b.db"))
    assert not list(tmp_path.glob(".*partial*"))


def test_restore_refuses_to_drop_newer_data(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    first = ok(db, "dispatch", *ARGS)
    saved = tmp_path / "b.db"
    ok(db, "backup", str(saved))
    assert "已从" in ok(db, "restore", str(saved))  # nothing newer: fine without --force
    ok(db, "dispatch", *ARGS)
    ok(db, "act", first, "sign")
    err = fails(db, "restore", str(saved))
    assert "有 2 条事件不在备份中" in err and first in err and "--force" in err and "访问记录" not in err
    assert count(db, "events") == 3  # untouched
    out = ok(db, "restore", str(saved), "--force")
    assert "另存为" in out
    assert count(db, "events") == 1
    kept = sorted(tmp_path.glob("x.db.before-restore-*.db"))
    assert kept and count(kept[-1], "events") == 3  # the dropped events are kept beside it
    assert "未发现问题" in ok(db, "check")


def test_restore_counts_the_access_log_as_data(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", *ARGS)
    saved = tmp_path / "b.db"
    ok(db, "backup", str(saved))
    ok(db, "order", no, "--role", "supervisor", "--unmasked")  # evidence of a full-number view
    err = fails(db, "restore", str(saved))
    assert "有 1 条访问记录不在备份中" in err


def test_restore_checks_the_backup_first(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    ok(db, "dispatch", *ARGS)
    good = tmp_path / "good.db"
    ok(db, "backup", str(good))
    edited = tmp_path / "edited.db"
    ok(db, "backup", str(edited))
    tamper(edited, "UPDATE events SET actor = 'x'")
    assert "未通过检查" in fails(db, "restore", str(edited), "--force")
    broken = tmp_path / "broken.db"
    data = bytearray(good.read_bytes())
    data[4096 * 2 : 4096 * 2 + 64] = b"\xde\xad" * 32
    broken.write_bytes(bytes(data))
    assert "未通过检查" in fails(db, "restore", str(broken), "--force")
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    assert "不是 SQLite" in fails(db, "restore", str(junk))
    stranger = tmp_path / "stranger.db"
    sqlite3.connect(stranger).execute("CREATE TABLE t (x)").connection.close()
    assert "不是枫桥" in fails(db, "restore", str(stranger))
    assert "不存在" in fails(db, "restore", str(tmp_path / "missing.db"))
    assert "就是当前数据库" in fails(db, "restore", str(db))
    assert count(db, "events") == 1


def test_restore_over_an_unreadable_database_needs_force(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    ok(db, "dispatch", *ARGS)
    saved = tmp_path / "b.db"
    ok(db, "backup", str(saved))
    ruined = db.read_bytes()[:5000]
    db.write_bytes(ruined)
    for extra in (Path(str(db) + "-wal"), Path(str(db) + "-shm")):
        extra.unlink(missing_ok=True)
    assert "无法读取" in fails(db, "restore", str(saved))
    ok(db, "restore", str(saved), "--force")
    assert count(db, "orders") == 1
    assert next(tmp_path.glob("x.db.before-restore-*.db")).read_bytes() == ruined


def test_restore_an_older_schema_and_into_an_open_database(tmp_path: Path, ref, clock, monkeypatch) -> None:
    from .conftest import write_as_schema_10

    write_as_schema_10(monkeypatch)
    old = tmp_path / "v1.db"
    v1 = Database(old, migrate=False)
    with v1.write() as conn:
        migrations.upgrade(conn, old, target=1)
    OrderStore(v1, ref=ref, clock=clock).dispatch(IntakeForm(phone="13857512345", town="HZ", description="旧"), "B01")
    v1.checkpoint()
    v1.close()
    monkeypatch.undo()
    live_path = tmp_path / "live.db"
    live = Database(live_path)  # the console has it open
    try:
        assert live.last_event_seq() == 0
        result = restore(live_path, old)
        assert result.snapshot.version == migrations.head() and result.snapshot.events == 1
        assert live.last_event_seq() == 1  # the open connections see the restored data
        assert verify(live).ok
    finally:
        live.close()


def test_the_store_refuses_a_backup_onto_itself(db: Database) -> None:
    with pytest.raises(StoreError, match="它自己"):
        backup(db, db.path)
