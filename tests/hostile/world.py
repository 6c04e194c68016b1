"""The hostile world: honest desks (a call-taker, the department, a supervisor) and hostile ones that may act
on the same order (so what they send reaches the validation, not only the role check)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from fengqiao.console.cli import app
from fengqiao.models.machine import Action, Event, OrderState
from fengqiao.models.roles import can_take
from fengqiao.store.projection import append_events

from ..sync.hub import FORM, Hub, HubDesk
from .cases import Case, base_payload, broken

runner = CliRunner()


def cli(d: HubDesk, *args: str) -> str:
    result = runner.invoke(app, ["--db", str(d.db.path), "--lang", "en", *args])
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def kpi(d: HubDesk) -> Any:
    out = json.loads(cli(d, "kpi", "--json", "--from", "2026-11-01", "--to", "2026-12-31"))
    out.pop("generated_at", None)
    return out


@dataclass
class World:
    hub: Hub
    ct: HubDesk
    dept: HubDesk
    sup: HubDesk
    hostile: list[HubDesk]
    order: OrderState

    @classmethod
    def make(cls, hub: Hub) -> World:
        ct = hub.add("CT1", "call_taker", prefix="SZ")
        o = ct.store.dispatch(FORM, "B01")
        dept = hub.add(o.primary.dept, "department", dept=o.primary.dept)
        sup = hub.add("SUP", "supervisor")
        hostile = [
            hub.add("EVIL-D", "department", dept=o.primary.dept),
            hub.add("EVIL-S", "supervisor"),
            hub.add("EVIL-C", "call_taker", prefix="EV"),
        ]
        hub.sync_all()
        return cls(hub, ct, dept, sup, hostile, o)

    @property
    def honest(self) -> list[HubDesk]:
        return [self.ct, self.dept, self.sup]

    def sender(self, kind: str) -> HubDesk:
        if kind == Action.DISPATCH:
            return self.hostile[2]
        for d in self.hostile:
            if can_take(d.desk, self.hub.ref, self.order, Action(kind), self.order.primary, once_held=True):
                return d
        raise AssertionError(f"no hostile desk may send {kind}")

    def forge(self, case: Case) -> Event:
        d = self.sender(case.kind)
        at = self.hub.clock()
        prefix = d.desk.prefix or "EV"
        payload, event_at = broken(
            case, base_payload(case.kind, self.hub.ref, self.order, at, prefix), at, self.order.created_at
        )
        return self.append(d, case.kind, payload, event_at)

    def append(self, d: HubDesk, kind: str, payload: Any, event_at: datetime) -> Event:
        from fengqiao.models.events import new_id

        dispatch = kind == Action.DISPATCH
        ev = Event(
            id=new_id(),
            order_id=new_id() if dispatch else self.order.id,
            kind=kind,
            event_at=event_at,
            recorded_at=self.hub.clock(),
            desk=d.name,
            actor="evil",
            assignment_id=None if dispatch else self.order.primary.id,
            payload=payload,
        )
        with d.db.write() as conn:
            append_events(conn, d.name, [ev])
        return ev


def db_path(d: HubDesk) -> Path:
    return Path(d.db.path)
