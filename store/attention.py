"""What needs someone on this desk: new orders, returns, deadlines passing — found, remembered until looked at.

:func:`scan` looks at what arrived since it last looked (events by their local number, whoever wrote them: this
desk, another process, a sync pull) and at deadlines that passed since then, and returns an :class:`Alert` for
each order that now needs this desk:

* department and township desks — a new order for them (a dispatch, or a reassignment to them) still waiting
  for their sign-off;
* call-takers — an order a department returned, waiting to be reassigned;
* supervisors — an order whose deadline has just passed.

Each is kept in the desk's ``attention`` table (migration 0009) until someone looks at it (:func:`mark_seen`:
the order opened, or acted on); until then it floats to the top of the open board (``store.board``). The very
first scan of a desk only sets its starting point: nothing that was there before is announced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fengqiao.models.clock import to_db
from fengqiao.models.reference import Reference
from fengqiao.models.roles import Desk, Role

from .board import visibility_sql
from .db import Connection, Database, get_meta, set_meta

WATCHED = {
    Role.DEPARTMENT: "new",
    Role.TOWNSHIP: "new",
    Role.CALL_TAKER: "returned",
    Role.SUPERVISOR: "overdue",
}
MAX_ALERTS = 50  # in one scan (a desk coming back after a long outage): the rest are counted, not listed


@dataclass(frozen=True)
class Alert:
    order_id: str
    order_no: str
    reason: str  # new | returned | overdue
    tag: str
    town: str
    assignee: str
    due_kind: str | None = None


@dataclass(frozen=True)
class Scan:
    alerts: list[Alert]
    more: int = 0  # found beyond MAX_ALERTS


def _keys(desk: Desk) -> tuple[str, str]:
    return f"attention.seq:{desk.name}", f"attention.at:{desk.name}"


def scan(db: Database, desk: Desk, ref: Reference, now: datetime) -> Scan:
    """Find what needs ``desk`` since the last scan, remember it, return it (empty on the first scan)."""
    reason = WATCHED.get(desk.role) if desk.role else None
    if reason is None:
        return Scan([])
    seq_key, at_key = _keys(desk)
    with db.read() as conn:
        top = int(conn.exec_driver_sql("SELECT coalesce(max(seq), 0) FROM events").scalar() or 0)
        last_seq, last_at = get_meta(conn, seq_key), get_meta(conn, at_key)
    stamp = to_db(now)
    if last_seq is not None and int(last_seq) == top and reason != "overdue":
        return Scan([])
    if last_seq is not None and reason == "overdue" and last_at is not None and last_at >= stamp:
        return Scan([])
    with db.write() as conn:
        last_seq, last_at = get_meta(conn, seq_key), get_meta(conn, at_key)
        found: list[Alert] = []
        if last_seq is not None:
            found = _find(conn, desk, ref, reason, int(last_seq), top, last_at or stamp, stamp)
        set_meta(conn, seq_key, top)
        set_meta(conn, at_key, stamp)
        if found:
            conn.exec_driver_sql(
                "INSERT INTO attention (desk, order_id, reason, since) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (desk, order_id) DO UPDATE SET reason = excluded.reason, since = excluded.since, "
                "seen_at = NULL",
                [(desk.name, a.order_id, a.reason, stamp) for a in found],
            )
    return Scan(found[:MAX_ALERTS], max(0, len(found) - MAX_ALERTS))


_ROW = "SELECT DISTINCT o.id, o.order_no, o.tag, o.town, o.primary_assignee, o.next_due_kind FROM orders o"


def _find(
    conn: Connection, desk: Desk, ref: Reference, reason: str, after: int, upto: int, since: str, now: str
) -> list[Alert]:
    seen, seen_params = visibility_sql(desk, ref)
    where = [seen] if seen else []
    params: list[object] = list(seen_params)
    if reason == "overdue":
        where.append("o.next_due IS NOT NULL AND o.next_due > ? AND o.next_due <= ?")
        params += [since, now]
        sql = f"{_ROW} WHERE {' AND '.join(where)} ORDER BY o.next_due"
    elif reason == "returned":
        where.append("o.status = 'returned'")
        sql = f"{_ROW} JOIN events e ON e.order_id = o.id AND e.kind = 'return' AND e.seq > ? AND e.seq <= ?"
        params = [after, upto, *params]
        sql += f" WHERE {' AND '.join(where)} ORDER BY o.order_no"
    else:
        codes = sorted(desk.assignee_codes(ref))
        if not codes:
            return []
        marks = ", ".join("?" for _ in codes)
        where.append(
            f"EXISTS (SELECT 1 FROM assignments a WHERE a.order_id = o.id AND a.active = 1 AND a.status = 'dispatched' "
            f"AND a.assignee IN ({marks}))"
        )
        params += codes
        sql = (
            f"{_ROW} JOIN events e ON e.order_id = o.id AND e.kind IN ('dispatch', 'reassign') AND e.seq > ? "
            f"AND e.seq <= ? WHERE {' AND '.join(where)} ORDER BY o.order_no"
        )
        params = [after, upto, *params]
    rows = conn.exec_driver_sql(sql, tuple(params)).all()
    return [Alert(r[0], r[1], reason, r[2], r[3], r[4], r[5]) for r in rows]


def unseen(db: Database, desk: Desk) -> dict[str, str]:
    """Order id → reason of what waits for someone on this desk."""
    with db.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT order_id, reason FROM attention WHERE desk = ? AND seen_at IS NULL", (desk.name,)
        ).all()
    return {r[0]: r[1] for r in rows}


def mark_seen(db: Database, desk: Desk, order_id: str, now: datetime) -> bool:
    """Someone looked at the order (opened it, acted on it): it no longer floats. Whether it was waiting."""
    with db.read() as conn:
        waiting = conn.exec_driver_sql(
            "SELECT 1 FROM attention WHERE desk = ? AND order_id = ? AND seen_at IS NULL", (desk.name, order_id)
        ).first()
    if waiting is None:
        return False
    with db.write() as conn:
        conn.exec_driver_sql(
            "UPDATE attention SET seen_at = ? WHERE desk = ? AND order_id = ? AND seen_at IS NULL",
            (to_db(now), desk.name, order_id),
        )
    return True
