"""Operators and shifts: who is on duty at this desk, and the handover between two of them.

* An operator signs in with a name and a staff number (and a PIN where the desk's config says ``pin = true``).
  The first sign-in of a staff number enrols it at this desk (table ``operators``, migration 0009); later ones
  must give the same name (and PIN). Only a salted scrypt hash of a PIN is stored, never the PIN.
* While signed in, every event the desk writes carries the operator as its ``actor`` (``张三(1024)``), not the
  config file's free-text ``operator`` (which stays the fallback of the command line when nobody is on shift).
* Shift facts are written to the desk's **access log** (``store.audit.record_access``): append-only and
  hash-chained per desk like the event log, and verified by ``fengqiao check``. It is not synced (the sync
  protocol carries order events only), so a shift's record stays on the desk that kept it. Actions:
  ``sign_in`` (staff number, name), ``enrol`` (a new staff number), ``handover`` (by the outgoing operator: the
  notes, the open orders on the desk, what was promised to callers) and ``handover_ack`` (by the incoming
  operator, naming the handover it acknowledges).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fengqiao.models.clock import Clock, from_db, system_clock, to_db
from fengqiao.models.errors import PermissionDenied, ValidationError
from fengqiao.models.i18n import t
from fengqiao.models.names import check_name
from fengqiao.models.roles import Desk
from fengqiao.models.text import check_text

from .audit import record_access
from .db import Database

STAFF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{0,19}$")
PIN = re.compile(r"^\d{4,12}$")
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
SHIFT_ACTIONS = ("sign_in", "enrol", "handover", "handover_ack")


@dataclass(frozen=True)
class Operator:
    staff_no: str
    name: str

    @property
    def actor(self) -> str:
        """What events carry: ``张三(1024)``."""
        return f"{self.name}({self.staff_no})"


@dataclass(frozen=True)
class Promise:
    """A note for the caller written during the shift: what the desk told (or will tell) the caller."""

    order_no: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Handover:
    """What the outgoing operator left: notes, the open orders then, what was promised to callers."""

    id: str
    actor: str
    at: datetime
    notes: str
    open_orders: list[str]
    open_count: int
    promised: list[dict[str, str]]


def hash_pin(pin: str, salt: bytes) -> str:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, **SCRYPT).hex()


def check_operator(name: str, staff_no: str, pin: str | None, *, pin_required: bool) -> tuple[str, str, str | None]:
    """The sign-in form's values, checked (name, staff number, PIN or None). Raises naming the field."""
    name = check_name(name, what="operator")
    if len(name) > 40:
        raise ValidationError(t("shift.long_name"), field="name")
    staff = staff_no.strip()
    if not STAFF.match(staff):
        raise ValidationError(t("shift.bad_staff", value=staff[:24]), field="staff_no")
    pin = (pin or "").strip() or None
    if pin_required and pin is None:
        raise ValidationError(t("shift.need_pin"), field="pin")
    if pin is not None and not PIN.match(pin):
        raise ValidationError(t("shift.bad_pin"), field="pin")
    return name, staff, pin


def sign_in(
    db: Database,
    desk: Desk,
    name: str,
    staff_no: str,
    pin: str | None = None,
    *,
    pin_required: bool = False,
    clock: Clock = system_clock,
) -> tuple[Operator, Desk]:
    """Check the operator (enrolling a new staff number) and record the sign-in. Returns the operator and the
    desk acting as them (its ``actor`` is the operator from now on)."""
    name, staff, pin = check_operator(name, staff_no, pin, pin_required=pin_required)
    now = to_db(clock())
    with db.read() as conn:
        row = conn.exec_driver_sql(
            "SELECT name, pin_salt, pin_hash FROM operators WHERE staff_no = ?", (staff,)
        ).first()
    enrolled = False
    if row is None:
        salt = os.urandom(16) if pin else None
        with db.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO operators (staff_no, name, pin_salt, pin_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                (staff, name, salt.hex() if salt else None, hash_pin(pin, salt) if pin and salt else None, now),
            )
        enrolled = True
    else:
        if row[0] != name:
            raise PermissionDenied(t("shift.wrong_name", staff_no=staff), reason="operator")
        if row[2] is not None or pin_required:
            if row[2] is None:  # the desk now asks for PINs: this staff number has none yet
                assert pin is not None
                salt = os.urandom(16)
                with db.write() as conn:
                    conn.exec_driver_sql(
                        "UPDATE operators SET pin_salt = ?, pin_hash = ? WHERE staff_no = ?",
                        (salt.hex(), hash_pin(pin, salt), staff),
                    )
            elif pin is None or not hmac.compare_digest(hash_pin(pin, bytes.fromhex(row[1])), row[2]):
                raise PermissionDenied(t("shift.wrong_pin", staff_no=staff), reason="operator")
    op = Operator(staff, name)
    acting = replace(desk, operator=op.actor)
    if enrolled:
        record_access(db, acting, target="shift", action="enrol", detail={"staff_no": staff}, clock=clock)
    record_access(db, acting, target="shift", action="sign_in", detail={"staff_no": staff, "name": name}, clock=clock)
    return op, acting


def _shift_rows(db: Database, desk: Desk, limit: int = 200) -> list[Any]:
    marks = ", ".join("?" for _ in SHIFT_ACTIONS)
    with db.read() as conn:
        return list(
            conn.exec_driver_sql(
                f"SELECT id, actor, action, detail, at FROM access_log WHERE desk = ? AND action IN ({marks}) "
                "ORDER BY desk_seq DESC LIMIT ?",
                (desk.name, *SHIFT_ACTIONS, limit),
            ).all()
        )


def on_shift(db: Database, desk: Desk) -> str | None:
    """The actor of the operator signed in at ``desk`` now (the last sign-in not followed by its handover)."""
    for r in _shift_rows(db, desk, limit=20):
        if r.action == "sign_in":
            return str(r.actor)
        if r.action == "handover":
            return None
    return None


def shift_start(db: Database, desk: Desk) -> datetime | None:
    for r in _shift_rows(db, desk, limit=20):
        if r.action == "sign_in":
            return from_db(r.at)
    return None


def pending_handover(db: Database, desk: Desk) -> Handover | None:
    """The last handover at ``desk`` that no one has acknowledged yet."""
    acked: set[str] = set()
    for r in _shift_rows(db, desk):
        detail = _detail(r.detail)
        if r.action == "handover_ack":
            acked.add(str(detail.get("handover", "")))
        elif r.action == "handover":
            if r.id in acked:
                return None
            return Handover(
                id=r.id,
                actor=str(r.actor),
                at=from_db(r.at),
                notes=str(detail.get("notes", "")),
                open_orders=[str(x) for x in detail.get("open", [])],
                open_count=int(detail.get("open_count", 0)),
                promised=[p for p in detail.get("promised", []) if isinstance(p, dict)],
            )
    return None


def _detail(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def promises(db: Database, actor: str, since: datetime | None, *, limit: int = 20) -> list[Promise]:
    """The notes for callers ``actor`` wrote since ``since`` (what the shift promised), newest first."""
    with db.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT o.order_no, e.payload, e.recorded_at FROM events e JOIN orders o ON o.id = e.order_id "
            "WHERE e.kind = 'note' AND e.actor = ? AND e.recorded_at >= ? ORDER BY e.seq DESC LIMIT ?",
            (actor, to_db(since) if since else "", limit * 4),
        ).all()
    out = []
    for r in rows:
        payload = _detail(r.payload)
        if payload.get("visibility") == "caller":
            out.append(Promise(r.order_no, str(payload.get("text", "")), from_db(r.recorded_at)))
    return out[:limit]


def hand_over(
    db: Database,
    desk: Desk,
    *,
    notes: str,
    open_orders: list[str],
    open_count: int,
    promised: list[Promise],
    clock: Clock = system_clock,
) -> str:
    """The outgoing operator's handover (``desk`` acts as them), recorded in the access log. Returns its id."""
    text = check_text("note", notes)
    rec = record_access(
        db,
        desk,
        target="shift",
        action="handover",
        detail={
            "notes": text,
            "open": open_orders[:50],
            "open_count": open_count,
            "promised": [{"order_no": p.order_no, "text": p.text} for p in promised],
        },
        clock=clock,
    )
    return rec.id


def acknowledge(db: Database, desk: Desk, handover: Handover, *, clock: Clock = system_clock) -> str:
    """The incoming operator (``desk`` acts as them) acknowledges ``handover``; recorded in the access log."""
    rec = record_access(
        db,
        desk,
        target="shift",
        action="handover_ack",
        detail={"handover": handover.id, "from": handover.actor},
        clock=clock,
    )
    return rec.id
