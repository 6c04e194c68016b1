"""Schema migrations: a database made by the first schema upgrades to the newest without losing data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fengqiao.models.errors import StoreError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.store import migrations
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore

from .conftest import write_as_schema_10


def test_migrate_from_the_first_schema(tmp_path: Path, ref, clock, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    old = Database(path, migrate=False)
    with old.write() as conn:
        assert migrations.upgrade(conn, path, target=1) == 1
    write_as_schema_10(monkeypatch)  # the orders row without the columns later steps added (0011: village, grid)
    store = OrderStore(old, ref=ref, clock=clock)
    o = store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="水管爆了"), "C04")
    clock.advance(minutes=3)
    store.act(o.order_no, Intent(Action.SIGN))
    old.close()
    monkeypatch.undo()

    new = Database(path)  # opening migrates
    assert new.schema_version() == migrations.head()
    again = OrderStore(new, ref=ref, clock=clock).order(o.order_no)
    assert again.status == "signed" and again.call.description == "水管爆了"
    later = OrderStore(new, ref=ref, clock=clock).dispatch(
        IntakeForm(phone="13857512345", town="HZ", description="水管爆了", address="前岩村祠堂边"), "C04"
    )
    with new.read() as conn:
        rows = dict(conn.exec_driver_sql("SELECT order_no, village FROM orders").fetchall())
    assert rows == {o.order_no: None, later.order_no: "HZ-QY"}  # the old order has none; 0011's column works
    new.close()
    Database(path).close()  # idempotent


def test_database_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    Database(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {migrations.head() + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="比本程序支持的"):
        Database(path)


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [v for v, _ in migrations.steps()]
    assert versions == list(range(1, len(versions) + 1))
