"""Writing events and keeping the projection tables (orders, assignments, calls) in step with them.

Every function here runs inside a write transaction owned by the caller. The same functions serve a single
action from the console and the demo generator's batches.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from fengqiao.models.clock import from_db, to_db, to_db_opt
from fengqiao.models.events import GENESIS, STORED_COLUMNS, seal
from fengqiao.models.machine import CallInfo, Event, OrderState, replay

from .db import Connection

ORDER_COLUMNS = (
    "id",
    "order_no",
    "call_id",
    "tag",
    "category",
    "town",
    "mode",
    "onsite",
    "status",
    "desk",
    "phone",
    "call_at",
    "created_at",
    "updated_at",
    "primary_assignee",
    "police_assignee",
    "one_team",
    "override_dept",
    "override_reason",
    "repeat_of",
    "next_due",
    "next_due_kind",
    "next_due_start",
    "first_overdue_at",
    "result",
    "fed_back_at",
    "satisfaction",
    "visited_at",
    "closed_at",
    "cancelled_at",
    "cancel_reason",
    "reopen_count",
    "escalations",
    "linked_calls",
    "village",
    "grid",
    "informed",
    "redo_count",
)
ASSIGNMENT_COLUMNS = (
    "id",
    "order_id",
    "seq",
    "role",
    "assignee",
    "dept",
    "town",
    "onsite",
    "status",
    "active",
    "dispatched_at",
    "sign_due",
    "arrive_due",
    "feedback_due",
    "feedback_due_original",
    "signed_at",
    "arrived_at",
    "fed_back_at",
    "returned_at",
    "result",
    "feedback_text",
    "return_reason",
    "return_justified",
    "ext_status",
    "ext_hours",
    "ext_reason",
    "first_overdue_at",
)
CALL_COLUMNS = (
    "id",
    "phone",
    "name",
    "town",
    "address",
    "description",
    "received_at",
    "desk",
    "order_id",
    "linked",
    "repeat_of",
)
EVENT_COLUMNS = STORED_COLUMNS


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"


def _upsert_sql(table: str, columns: Sequence[str], key: str = "id") -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return f"{_insert_sql(table, columns)} ON CONFLICT ({key}) DO UPDATE SET {updates}"


UPSERT_ORDER = _upsert_sql("orders", ORDER_COLUMNS)
# What no event after the dispatch changes (models/machine.py): an order's row already stored is brought up to
# date by UPDATE_ORDER, which sets only the other columns, so SQLite leaves the indexes over these alone.
ORDER_FIXED = frozenset(
    (
        "id",
        "order_no",
        "call_id",
        "tag",
        "category",
        "town",
        "mode",
        "onsite",
        "desk",
        "phone",
        "call_at",
        "created_at",
        "one_team",
        "override_dept",
        "override_reason",
        "repeat_of",
        "village",
        "grid",
        "informed",
    )
)
ASSIGNMENT_FIXED = frozenset(
    ("id", "order_id", "seq", "role", "assignee", "dept", "town", "onsite", "dispatched_at", "feedback_due_original")
)


def _update_sql(table: str, columns: Sequence[str], fixed: frozenset[str]) -> tuple[str, list[int]]:
    """``UPDATE table SET <changing columns> WHERE id = ?`` and the positions of a full row's values it takes."""
    changing = [i for i, c in enumerate(columns) if c not in fixed]
    sets = ", ".join(f"{columns[i]} = ?" for i in changing)
    return f"UPDATE {table} SET {sets} WHERE id = ?", [*changing, columns.index("id")]


INSERT_ORDER = _insert_sql("orders", ORDER_COLUMNS)
UPDATE_ORDER, _ORDER_UPDATE_AT = _update_sql("orders", ORDER_COLUMNS, ORDER_FIXED)
UPDATE_ASSIGNMENT, _ASSIGNMENT_UPDATE_AT = _update_sql("assignments", ASSIGNMENT_COLUMNS, ASSIGNMENT_FIXED)


def order_update(row: Sequence[Any]) -> tuple[Any, ...]:
    """UPDATE_ORDER's parameters for an :func:`order_tuple` row."""
    return tuple(row[i] for i in _ORDER_UPDATE_AT)


def assignment_update(row: Sequence[Any]) -> tuple[Any, ...]:
    """UPDATE_ASSIGNMENT's parameters for an :func:`assignment_tuples` row."""
    return tuple(row[i] for i in _ASSIGNMENT_UPDATE_AT)


UPSERT_ASSIGNMENT = _upsert_sql("assignments", ASSIGNMENT_COLUMNS)
INSERT_ASSIGNMENT = _insert_sql("assignments", ASSIGNMENT_COLUMNS)
INSERT_CALL = _insert_sql("calls", CALL_COLUMNS)
UPSERT_HEAD = (
    "INSERT INTO desk_heads (desk, seq, hash) VALUES (?, ?, ?) "
    "ON CONFLICT (desk) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
)
INSERT_EVENT = _insert_sql("events", EVENT_COLUMNS)


def order_tuple(o: OrderState) -> tuple[Any, ...]:
    nxt = o.next_deadline()
    police = o.police
    return (
        o.id,
        o.order_no,
        o.call.id,
        o.tag,
        o.category,
        o.town,
        o.mode,
        int(o.onsite),
        str(o.status),
        o.desk,
        o.call.phone,
        to_db(o.call.received_at),
        to_db(o.created_at),
        to_db(o.updated_at or o.created_at),
        o.primary.assignee,
        police.assignee if police else None,
        int(o.one_team),
        o.override_dept,
        o.override_reason,
        o.repeat_of,
        to_db_opt(nxt[1]) if nxt else None,
        nxt[0] if nxt else None,
        to_db_opt(nxt[2]) if nxt else None,
        to_db_opt(o.first_overdue_at),
        o.result,
        to_db_opt(o.fed_back_at),
        o.satisfaction,
        to_db_opt(o.visited_at),
        to_db_opt(o.closed_at),
        to_db_opt(o.cancelled_at),
        o.cancel_reason,
        o.reopen_count,
        o.escalations,
        len(o.linked_calls),
        o.call.village,
        o.call.grid,
        "|".join(o.informed) or None,
        o.redo_count,
    )


def assignment_tuples(o: OrderState) -> list[tuple[Any, ...]]:
    rows = []
    for a in o.assignments:
        rows.append(
            (
                a.id,
                o.id,
                a.seq,
                a.role,
                a.assignee,
                a.dept,
                a.town,
                int(a.onsite),
                a.status,
                int(a.active),
                to_db(a.dispatched_at),
                to_db(a.sign_due),
                to_db_opt(a.arrive_due),
                to_db(a.feedback_due),
                to_db(a.feedback_due_original),
                to_db_opt(a.signed_at),
                to_db_opt(a.arrived_at),
                to_db_opt(a.fed_back_at),
                to_db_opt(a.returned_at),
                a.result,
                a.feedback_text,
                a.return_reason,
                None if a.return_justified is None else int(a.return_justified),
                a.ext_status,
                a.ext_hours,
                a.ext_reason,
                to_db_opt(a.first_overdue_at),
            )
        )
    return rows


def call_tuple(call: CallInfo, order_id: str | None, *, linked: bool, repeat_of: str | None) -> tuple[Any, ...]:
    return (
        call.id,
        call.phone,
        call.name,
        call.town,
        call.address,
        call.description,
        to_db(call.received_at),
        call.desk,
        order_id,
        int(linked),
        repeat_of,
    )


def save_order(conn: Connection, o: OrderState) -> None:
    conn.exec_driver_sql(UPSERT_ORDER, order_tuple(o))
    conn.exec_driver_sql(UPSERT_ASSIGNMENT, assignment_tuples(o))


def insert_call(
    conn: Connection, call: CallInfo, order_id: str | None, *, linked: bool = False, repeat_of: str | None = None
) -> None:
    conn.exec_driver_sql(INSERT_CALL, call_tuple(call, order_id, linked=linked, repeat_of=repeat_of))


class DeskChain:
    """Hands out a desk's next sequence number and previous hash; saved back with :meth:`save`."""

    def __init__(self, conn: Connection, desk: str) -> None:
        row = conn.exec_driver_sql("SELECT seq, hash FROM desk_heads WHERE desk = ?", (desk,)).first()
        self.desk = desk
        self.seq, self.hash = (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def seal(self, ev: Event) -> tuple[Any, ...]:
        """The event's row, sealed as the next link of this desk's chain."""
        self.seq += 1
        row = seal(ev, self.seq, self.hash)
        self.hash = row[-1]
        return row

    def save(self, conn: Connection) -> None:
        conn.exec_driver_sql(UPSERT_HEAD, (self.desk, self.seq, self.hash))


def append_events(conn: Connection, desk: str, events: Iterable[Event]) -> list[Event]:
    """Seal ``events`` into ``desk``'s chain and insert them. Returns the sealed events."""
    chain = DeskChain(conn, desk)
    sealed = list(events)
    rows = [chain.seal(ev) for ev in sealed]
    if rows:
        conn.exec_driver_sql(INSERT_EVENT, rows)
        chain.save(conn)
    return sealed


def row_to_event(row: Any) -> Event:
    """A domain event from a stored or wire row (a sync reads thousands: positional, and one time read once
    when both are the same text, as they mostly are)."""
    event_at = read_time(row.event_at)
    recorded_at = event_at if row.recorded_at == row.event_at else read_time(row.recorded_at)
    return Event(
        row.id, row.order_id, row.kind, event_at, recorded_at, row.desk, row.actor, row.assignment_id,
        read_payload(row.payload), row.desk_seq, row.prev_hash, row.hash,
    )  # fmt: skip


UNREADABLE_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def read_payload(text: Any) -> dict[str, Any]:
    """A stored payload as a dict; one that is not a JSON object (a quarantined event) reads as empty.

    Where pydantic is loaded already (the sync client and server), its JSON parser reads it, some 2.5 times
    faster; whatever that parser refuses (a lone surrogate escape, deep nesting) is read by ``json`` as ever."""
    fast = sys.modules.get("pydantic_core")
    value: Any = None
    try:
        value = fast.from_json(text) if fast is not None and isinstance(text, str) else json.loads(text)
    except ValueError:
        value = None if fast is None else _read_json(text)
    except (TypeError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _read_json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None


def read_time(text: Any) -> datetime:
    """A stored time; one that cannot be read (a quarantined event) reads as 2000-01-01, never a traceback."""
    try:
        return from_db(text)
    except (TypeError, ValueError):
        return UNREADABLE_TIME


EVENT_SELECT = (
    "SELECT e.id, e.order_id, e.assignment_id, e.kind, e.actor, e.desk, e.desk_seq, e.event_at, "
    "e.recorded_at, e.payload, e.prev_hash, e.hash FROM events e"
)


def has_sync_table(conn: Connection) -> bool:
    """Whether the schema has ``event_state`` (version 2+). Remembered per connection once true."""
    if conn.info.get("fq_event_state"):
        return True
    found = (
        conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_state'").first()
        is not None
    )
    if found:
        conn.info["fq_event_state"] = True
    return found


def load_events(conn: Connection, order_id: str) -> list[Event]:
    """An order's events in the order they are replayed.

    Merge rule of sync: first the events the server has confirmed, in the server's global order; then the
    ones it has not (this desk's own unconfirmed events), in local order. Events the server refused are
    not part of the shared history and are left out (``store.timeline.timeline`` shows them). A desk that never
    synced has no ``event_state`` rows, so this is plain local order, as before.
    """
    return load_events_of(conn, [order_id]).get(order_id, [])


def load_events_of(conn: Connection, order_ids: Sequence[str]) -> dict[str, list[Event]]:
    """:func:`load_events` for several orders in one query (at most a few hundred ids at a time)."""
    marks = ", ".join("?" for _ in order_ids)
    if not has_sync_table(conn):  # a first-schema file not yet migrated
        sql = f"{EVENT_SELECT} WHERE e.order_id IN ({marks}) ORDER BY e.seq"
    else:
        sql = (
            f"{EVENT_SELECT} LEFT JOIN event_state s ON s.event_id = e.id "
            f"WHERE e.order_id IN ({marks}) AND (s.status IS NULL OR s.status NOT IN ('refused', 'quarantined')) "
            "ORDER BY s.server_seq IS NULL, s.server_seq, e.seq"
        )
    out: dict[str, list[Event]] = {}
    for r in conn.exec_driver_sql(sql, tuple(order_ids)):
        out.setdefault(r.order_id, []).append(row_to_event(r))
    return out


def load_state(conn: Connection, order_id: str) -> OrderState | None:
    """The order's current state: the replay of its events."""
    return replay(load_events(conn, order_id)).state
