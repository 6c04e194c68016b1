"""A small in-process world for protocol tests: one server (SQLite or PostgreSQL) and named desks."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from fengqiao.models.clock import FixedClock
from fengqiao.models.events import new_id
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Event
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import Desk, make_desk
from fengqiao.server.app import create_app
from fengqiao.server.schema import ServerModel
from fengqiao.server.store import ServerStore
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore
from fengqiao.store.projection import append_events
from fengqiao.store.sync import HttpTransport, SyncClient, SyncReport
from fengqiao.store.wire import WireEvent, wire_from_row

from .sim import T0

FORM = IntakeForm(phone="13857512345", town="SHH", description="店里买到假货，老板不给退", address="人民路1号")
FORM_HZ = IntakeForm(phone="13857500000", town="HZ", description="有人往河边倒建筑垃圾", address="前岩村")


@dataclass
class HubDesk:
    name: str
    desk: Desk
    db: Database
    store: OrderStore
    token: str
    hub: Hub

    def client(self, **kw: Any) -> SyncClient:
        return SyncClient(
            self.db, HttpTransport(None, self.token, client=self.hub.http), desk=self.desk, clock=self.hub.clock, **kw
        )

    def sync(self, **kw: Any) -> SyncReport:
        return self.client(**kw).sync_once()

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.db.read() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql, params).all()]

    def wire(self, desk_seq: int) -> WireEvent:
        with self.db.read() as conn:
            row = conn.exec_driver_sql(
                "SELECT * FROM events WHERE desk = ? AND desk_seq = ?", (self.name, desk_seq)
            ).first()
        return wire_from_row(row)

    def forge(
        self,
        order_id: str,
        kind: str,
        payload: dict[str, Any] | None = None,
        assignment_id: str | None = None,
        desk: str | None = None,
        at: datetime | None = None,
    ) -> Event:
        """Append an event to this desk's chain bypassing every local rule (what a broken or hostile desk,
        or a newer version, could send)."""
        ev = Event(
            id=new_id(),
            order_id=order_id,
            kind=kind,
            event_at=at or self.hub.clock(),
            recorded_at=self.hub.clock(),
            desk=desk or self.name,
            actor="x",
            assignment_id=assignment_id,
            payload=payload or {},
        )
        with self.db.write() as conn:
            append_events(conn, desk or self.name, [ev])
        return ev


class Hub:
    def __init__(self, server_url: str, workdir: Path, hooks: Any = None) -> None:
        self.clock = FixedClock(T0)
        self.ref = default_reference()
        self.workdir = workdir
        self.server = ServerStore(server_url, clock=self.clock, hooks=hooks)
        self.http = TestClient(create_app(self.server, deliver=False), raise_server_exceptions=False)
        self.desks: dict[str, HubDesk] = {}

    def add(
        self,
        name: str,
        role: str,
        *,
        dept: str | None = None,
        town: str | None = None,
        prefix: str | None = None,
        register: bool = True,
    ) -> HubDesk:
        token = self.server.add_desk(name, role, dept=dept, town=town, prefix=prefix) if register else "fq1_none"
        desk = make_desk(self.ref, name, role, dept=dept, town=town, prefix=prefix)
        db = Database(self.workdir / f"{name}.db")
        d = HubDesk(name, desk, db, OrderStore(db, ref=self.ref, desk=desk, clock=self.clock), token, self)
        self.desks[name] = d
        return d

    def sync_all(self, rounds: int = 2) -> None:
        for _ in range(rounds):
            for d in self.desks.values():
                d.sync()

    def backup(self) -> Callable[[], str]:
        """Take a backup of the server database now; the returned function restores it (a new database URL)."""
        self.server.engine.dispose()
        url = self.server.url
        n = len(list(self.workdir.glob("restored-*"))) + len(list(self.workdir.glob("backup-*")))
        if url.startswith("sqlite"):
            saved = self.workdir / f"backup-{n}.db"
            shutil.copyfile(url.split("///", 1)[1], saved)

            def restore_sqlite() -> str:
                target = self.workdir / f"restored-{n}.db"
                shutil.copyfile(saved, target)
                return f"sqlite:///{target}"

            return restore_sqlite
        saved_schema = _copy_schema(url, f"b{uuid.uuid4().hex[:10]}")

        def restore_pg() -> str:
            fresh = _copy_schema(_with_schema(url, saved_schema), f"r{uuid.uuid4().hex[:10]}")
            return _with_schema(url, fresh)

        return restore_pg

    def restore(self, url: str) -> None:
        """Replace the server by one running on ``url`` (e.g. a restored backup)."""
        self.http.close()
        self.server.close()
        self.server = ServerStore(url, clock=self.clock)
        self.http = TestClient(create_app(self.server, deliver=False), raise_server_exceptions=False)

    def close(self) -> None:
        for d in self.desks.values():
            d.db.close()
        self.http.close()
        self.server.close()

    def post(self, path: str, token: str, body: dict[str, Any]) -> Any:
        return self.http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def _schema_of(url: str) -> str:
    match = re.search(r"search_path%3D(\w+)", url)
    assert match, url
    return match.group(1)


def _with_schema(url: str, schema: str) -> str:
    return re.sub(r"search_path%3D\w+", f"search_path%3D{schema}", url)


def _copy_schema(url: str, new: str) -> str:
    """Copy every server table of ``url``'s schema into a new schema (a PostgreSQL "backup")."""
    old = _schema_of(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{new}"')
        for table in ServerModel.metadata.sorted_tables:
            conn.exec_driver_sql(f'CREATE TABLE "{new}".{table.name} (LIKE "{old}".{table.name} INCLUDING ALL)')
            conn.exec_driver_sql(f'INSERT INTO "{new}".{table.name} SELECT * FROM "{old}".{table.name}')
    engine.dispose()
    return new
