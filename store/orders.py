"""Commands and queries on orders: the one place the console, the CLI and the demo write through.

Every command is one ``BEGIN IMMEDIATE`` transaction that appends the event(s) to the desk's chain and
updates the projection rows from the replayed state, so the log and the tables never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from fengqiao.models import roles
from fengqiao.models.clock import (
    Clock,
    check_not_too_early,
    ensure_utc,
    fmt_local,
    from_db,
    from_db_opt,
    local_day,
    system_clock,
    to_db,
)
from fengqiao.models.errors import NotFound, ValidationError
from fengqiao.models.events import new_id
from fengqiao.models.governance import WarningRules
from fengqiao.models.i18n import t
from fengqiao.models.intake import IntakeForm, validate_intake
from fengqiao.models.machine import (
    ASSIGNMENT_ACTIONS,
    OPEN_STATUSES,
    Absorbed,
    Action,
    CallInfo,
    Event,
    Intent,
    OrderState,
    apply,
    build,
    dispatch_payload,
    legal_actions,
    link_event,
    pick_assignment,
)
from fengqiao.models.phone import normalize_phone
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.roles import Desk
from fengqiao.models.routing import Route, route
from fengqiao.models.text import check_text, compact_address

from . import merging
from .board import visibility_sql
from .db import Connection, Database
from .drafts import drop_draft_in
from .governance import default_rules, raise_for_call
from .projection import append_events, insert_call, load_events, load_state, save_order
from .rollups import Tracker
from .timeline import TimelineEntry, timeline

REPEAT_WINDOW = timedelta(hours=72)
FUTURE_TOLERANCE = timedelta(minutes=1)


@dataclass(frozen=True)
class Repeat:
    """An earlier order from the same phone within 72 hours."""

    order_id: str
    order_no: str
    status: str
    tag: str
    call_at: datetime
    open: bool


@dataclass(frozen=True)
class CallSummary:
    """A recent call from the same phone or address, for the intake screen."""

    call_id: str
    received_at: datetime
    phone: str
    address: str
    description: str
    linked: bool
    order_no: str | None
    status: str | None
    tag: str | None
    same_phone: bool


@dataclass(frozen=True)
class OrderRow:
    """One line of an order list."""

    order_no: str
    status: str
    tag: str
    town: str
    mode: str
    primary_assignee: str
    police_assignee: str | None
    call_at: datetime
    next_due: datetime | None
    next_due_kind: str | None
    phone: str


def next_order_no(conn: Connection, prefix: str, at: datetime) -> str:
    day = local_day(at)
    row = conn.exec_driver_sql(
        "INSERT INTO order_counters (prefix, day, last) VALUES (?, ?, 1) "
        "ON CONFLICT (prefix, day) DO UPDATE SET last = last + 1 RETURNING last",
        (prefix, day),
    ).first()
    assert row is not None
    return f"{prefix}-{day}-{int(row[0]):04d}"


def find_repeat(conn: Connection, phone: str, at: datetime) -> Repeat | None:
    """The latest order from ``phone`` whose call came in during the 72 hours before ``at``."""
    row = conn.exec_driver_sql(
        "SELECT id, order_no, status, tag, call_at FROM orders WHERE phone = ? AND call_at >= ? AND call_at <= ? "
        "ORDER BY call_at DESC LIMIT 1",
        (phone, to_db(at - REPEAT_WINDOW), to_db(at)),
    ).first()
    if row is None:
        return None
    open_ = row.status not in ("closed", "cancelled")
    return Repeat(row.id, row.order_no, row.status, row.tag, from_db(row.call_at), open_)


# The address without models.text.ADDRESS_SPACES, as SQL: the expression of ix_calls_address_compact
# (migration 0016), written the same way so SQLite uses that index.
COMPACT_ADDRESS_SQL = "replace(replace(replace(address, ' ', ''), '\u3000', ''), char(9), '')"


class OrderStore:
    """Orders as one desk sees them: commands checked against the state machine and the desk's role."""

    def __init__(
        self,
        db: Database,
        *,
        ref: Reference | None = None,
        desk: Desk | None = None,
        clock: Clock = system_clock,
        rules: WarningRules | None = None,
    ) -> None:
        self.db = db
        self.ref = ref or default_reference()
        self.desk = desk or Desk()
        self.clock = clock
        self.rules = rules or default_rules(self.ref)
        self.raised: list[Event] = []  # the warnings the last call raised

    # ---- time ----------------------------------------------------------------------------------
    def _when(self, at: datetime | None, floor: datetime | None = None) -> tuple[datetime, datetime]:
        """(event time, record time). A late entry (``at``) may not be in the future or before ``floor``."""
        now = ensure_utc(self.clock())
        if at is None:
            when = now
            if floor is not None and when < floor:
                when = floor  # this desk's clock is behind the order's last event: keep the timeline in order
            return when, now
        when = ensure_utc(at)
        check_not_too_early(when)
        if when > now + FUTURE_TOLERANCE:
            raise ValidationError(t("error.at_future", at=fmt_local(when), now=fmt_local(now)), field="at")
        if floor is not None and when < floor:
            raise ValidationError(
                t("error.at_before_previous", at=fmt_local(when), previous=fmt_local(floor)), field="at"
            )
        return when, now

    # ---- commands ------------------------------------------------------------------------------
    def preview(
        self,
        tag: str,
        town: str,
        *,
        mode: str | None = None,
        override_dept: str | None = None,
        village: str | None = None,
        grid: str | None = None,
        co: Sequence[str] = (),
    ) -> Route:
        """Where an order would go, without writing anything."""
        return route(self.ref, tag, town, mode=mode, override_dept=override_dept, village=village, grid=grid, co=co)

    def dispatch(
        self,
        form: IntakeForm,
        tag: str,
        *,
        mode: str | None = None,
        override_dept: str | None = None,
        override_reason: str | None = None,
        at: datetime | None = None,
        received_at: datetime | None = None,
        drop_draft: bool = False,
        co: Sequence[str] = (),
    ) -> OrderState:
        """Record the call and send the order: call, order, assignments and event in one transaction.

        ``drop_draft``: the desk's intake draft (store/drafts.py) is deleted in the same transaction."""
        clean = validate_intake(self.ref, form)
        roles.check_dispatch(self.desk, clean.town, self.ref)
        plan = route(
            self.ref,
            tag,
            clean.town,
            mode=mode,
            override_dept=override_dept,
            village=clean.village or None,
            grid=clean.grid or None,
            co=co,
        )
        reason = check_text("reason", override_reason)
        if plan.overridden and not reason:
            raise ValidationError(t("error.override_needs_reason"), field="override_reason")
        when, now = self._when(at)
        call_time = ensure_utc(received_at) if received_at is not None else when
        if call_time > when:
            call_time = when
        call = CallInfo(
            new_id(),
            clean.phone,
            clean.name,
            clean.town,
            clean.address,
            clean.description,
            call_time,
            self.desk.name,
            plan.village,
            plan.grid,
        )
        with self.db.write() as conn:
            repeat = find_repeat(conn, clean.phone, call_time) if clean.phone else None  # no number: no repeat
            order_no = next_order_no(conn, self.desk.prefix, when)
            order_id = new_id()
            payload = dispatch_payload(
                self.ref,
                order_no=order_no,
                route=plan,
                call=call,
                at=when,
                assignment_ids=[new_id() for _ in plan.assignees],
                override_reason=reason or None,
                repeat_of=repeat.order_id if repeat else None,
            )
            ev = Event(
                id=new_id(),
                order_id=order_id,
                kind=str(Action.DISPATCH),
                event_at=when,
                recorded_at=now,
                desk=self.desk.name,
                actor=self.desk.actor,
                payload=payload,
            )
            state = apply(None, ev)
            rollups = Tracker(conn)
            rollups.watch([order_id])
            rollups.watch_calls([(call.phone, to_db(call.received_at))])
            insert_call(conn, call, None, repeat_of=repeat.order_id if repeat else None)
            save_order(conn, state)
            conn.exec_driver_sql("UPDATE calls SET order_id = ? WHERE id = ?", (order_id, call.id))
            rollups.finish()
            warned = self._warnings(
                conn,
                call,
                order_id,
                when,
                now,
                tag=repeat.tag if repeat else None,
                repeat_open=bool(repeat and repeat.open),
            )
            append_events(conn, self.desk.name, [ev, *warned])
            if drop_draft:
                drop_draft_in(conn, self.desk.name)
        return state

    def act(self, order_no: str, intent: Intent, *, at: datetime | None = None) -> OrderState:
        """Take one action on an order; one transaction. Raises if the role or the state machine refuses it."""
        action = Action(intent.action)
        if action in (Action.DISPATCH, Action.LINK):
            raise ValidationError(t("error.unknown_action", action=str(action)), field="action")
        intent = replace(intent, note=check_text("note", intent.note))  # NUL, broken Unicode, length
        with self.db.write() as conn:
            state = self._load_visible(conn, order_no)
            if action in ASSIGNMENT_ACTIONS:
                target = pick_assignment(state, action, intent.assignee or self._own_assignee(state, action))
            else:
                target = None
            roles.check(self.desk, self.ref, state, action, target)
            if action == Action.CLOSE:
                merging.check_close(conn, state)  # a split's parent waits for its children
            when, now = self._when(at, floor=state.updated_at)
            if target is not None and intent.assignee is None:
                intent = replace(intent, assignee=target.assignee)
            ev = build(
                self.ref,
                state,
                intent,
                event_id=new_id(),
                at=when,
                desk=self.desk.name,
                actor=self.desk.actor,
                recorded_at=now,
                new_assignment_id=new_id() if action == Action.REASSIGN else None,
            )
            apply(state, ev)
            rollups = Tracker(conn)
            rollups.watch([state.id])
            save_order(conn, state)
            rollups.finish()
            append_events(conn, self.desk.name, [ev])
        return state

    def link(
        self,
        order_no: str,
        form: IntakeForm,
        *,
        at: datetime | None = None,
        received_at: datetime | None = None,
        drop_draft: bool = False,
        co: Sequence[str] = (),
    ) -> OrderState:
        """Keep a repeat call on an open order's timeline instead of opening a duplicate order.

        The phone is enough: a town or address left empty is the order's, and the caller's words (may be empty)
        go on the order's timeline with the call."""
        normalize_phone(form.phone)  # the phone's own message first, before anything is read
        with self.db.write() as conn:
            state = self._load_visible(conn, order_no)
            filled = replace(
                form,
                town=form.town if form.town and form.town.strip() else state.town,
                address=form.address if form.address and form.address.strip() else state.call.address,
            )
            clean = validate_intake(self.ref, filled, words_required=False)
            roles.check(self.desk, self.ref, state, Action.LINK)
            when, now = self._when(at)
            call_time = min(ensure_utc(received_at), when) if received_at is not None else when
            call = CallInfo(
                new_id(),
                clean.phone,
                clean.name,
                clean.town,
                clean.address,
                clean.description,
                call_time,
                self.desk.name,
                clean.village or None,
                clean.grid or None,
            )
            ev = link_event(
                state, call, event_id=new_id(), at=when, desk=self.desk.name, actor=self.desk.actor, recorded_at=now
            )
            apply(state, ev)
            rollups = Tracker(conn)
            rollups.watch([state.id])
            rollups.watch_calls([(call.phone, to_db(call.received_at))])
            insert_call(conn, call, state.id, linked=True, repeat_of=state.id)
            save_order(conn, state)
            rollups.finish()
            warned = self._warnings(
                conn, call, state.id, when, now, tag=state.tag, repeat_open=state.status in OPEN_STATUSES
            )
            append_events(conn, self.desk.name, [ev, *warned])
            if drop_draft:
                drop_draft_in(conn, self.desk.name)
        return state

    def _warnings(
        self,
        conn: Connection,
        call: CallInfo,
        order_id: str,
        when: datetime,
        now: datetime,
        *,
        tag: str | None,
        repeat_open: bool,
    ) -> list[Event]:
        """The risk warnings this call raises (store/governance.py), kept in :attr:`raised` for the screen."""
        self.raised = raise_for_call(
            conn,
            ref=self.ref,
            desk=self.desk,
            rules=self.rules,
            call_id=call.id,
            order_id=order_id,
            phone=call.phone,
            town=call.town,
            address=call.address,
            description=call.description,
            received_at=call.received_at,
            at=when,
            recorded_at=now,
            tag=tag,
            repeat_open=repeat_open,
        )
        return self.raised

    def _own_assignee(self, state: OrderState, action: Action) -> str | None:
        """For a department or township desk, the assignment it works on by default: its only one, or the only
        one of its own on which the action is legal now (a township centre holds both halves of a dual order)."""
        mine = [a for a in state.active_assignments if self.desk.works_on(self.ref, a)]
        if len(mine) > 1:
            legal = {target for act, target in legal_actions(state, self.clock()) if act == action}
            mine = [a for a in mine if a.id in legal] or mine
        return mine[0].assignee if len(mine) == 1 else None

    # ---- merge and split (store/merging.py) -----------------------------------------------------
    def merge(
        self, keep_no: str, other_nos: Sequence[str], *, reason: str = "", at: datetime | None = None
    ) -> merging.MergeResult:
        """Merge ``other_nos`` into ``keep_no`` in one transaction (their assignments withdrawn)."""
        return merging.merge(self, keep_no, list(other_nos), reason=reason, at=at)

    def unmerge(self, order_no: str, *, reason: str = "", at: datetime | None = None) -> list[OrderState]:
        """Undo the merge of ``order_no`` (merged into another, or holding merged orders)."""
        return merging.unmerge(self, order_no, reason=reason, at=at)

    def split(
        self, order_no: str, units: Sequence[str], *, reason: str = "", at: datetime | None = None
    ) -> merging.SplitResult:
        """Split ``order_no`` into one child order per unit."""
        return merging.split(self, order_no, list(units), reason=reason, at=at)

    def merged_calls(self, state: OrderState) -> list[Absorbed]:
        """The orders merged into ``state`` whose merge took (their calls are its linked calls too)."""
        with self.db.read() as conn:
            return merging.merged_calls_in(conn, state)

    def children(self, state: OrderState) -> list[tuple[str, str, str]]:
        """(order number, unit, status) of the child orders ``state`` was split into."""
        with self.db.read() as conn:
            return merging.children_in(conn, state)

    # ---- queries -------------------------------------------------------------------------------
    def _order_id(self, conn: Connection, order_no: str) -> str:
        key = order_no.strip().upper()
        row = conn.exec_driver_sql("SELECT id FROM orders WHERE order_no = ?", (key,)).first()
        if row is None:
            raise NotFound(t("error.no_order", order_no=order_no))
        return str(row[0])

    def _load_visible(self, conn: Connection, order_no: str) -> OrderState:
        state = load_state(conn, self._order_id(conn, order_no))
        if state is None:
            raise NotFound(t("error.no_order", order_no=order_no))
        if not roles.can_see(self.desk, self.ref, state):
            raise NotFound(t("error.no_order", order_no=order_no))
        return state

    def order(self, order_no: str) -> OrderState:
        with self.db.read() as conn:
            return self._load_visible(conn, order_no)

    def order_with_events(self, order_no: str) -> tuple[OrderState, list[Event]]:
        with self.db.read() as conn:
            state = self._load_visible(conn, order_no)
            return state, load_events(conn, state.id)

    def timeline(self, order_no: str) -> tuple[OrderState, list[TimelineEntry]]:
        """The order and every event with its sync outcome (applied, redundant, conflict, unknown, refused)."""
        with self.db.read() as conn:
            state = self._load_visible(conn, order_no)
            return state, timeline(conn, state.id)

    def allowed(self, state: OrderState, at: datetime | None = None) -> list[tuple[Action, str | None]]:
        """The actions this desk may take on ``state`` now: the state machine's and the role's rules together."""
        when = at or self.clock()
        out = []
        blocked = set()
        if state.children:
            with self.db.read() as conn:
                if merging.open_children_in(conn, state):
                    blocked.add(Action.CLOSE)  # a split's parent waits for its children
        for action, target in legal_actions(state, when):
            if action in blocked:
                continue
            asg = state.assignment(target) if target else None
            if roles.can_take(self.desk, self.ref, state, action, asg):
                out.append((action, target))
        return out

    def recent_calls(
        self, phone: str | None = None, address: str | None = None, *, days: int = 30, limit: int = 20
    ) -> list[CallSummary]:
        """Calls of the last ``days`` from this phone or at this address, newest first, with their orders' states."""
        since = to_db(self.clock() - timedelta(days=days))
        clauses, params = [], []
        if phone:
            clauses.append("SELECT id FROM calls WHERE phone = ? AND received_at >= ?")
            params += [phone, since]
        if address and address.strip():  # also typed with other spacing (models.text.compact_address)
            clauses.append(f"SELECT id FROM calls WHERE {COMPACT_ADDRESS_SQL} = ? AND received_at >= ?")
            params += [compact_address(address), since]
        if not clauses:
            return []
        sql = (
            "SELECT c.id, c.received_at, c.phone, c.address, c.description, c.linked, o.order_no, o.status, o.tag "
            f"FROM calls c LEFT JOIN orders o ON o.id = c.order_id WHERE c.id IN ({' UNION '.join(clauses)}) "
            "ORDER BY c.received_at DESC LIMIT ?"
        )
        with self.db.read() as conn:
            rows = conn.exec_driver_sql(sql, (*params, limit)).all()
        return [
            CallSummary(
                r.id,
                from_db(r.received_at),
                r.phone,
                r.address,
                r.description,
                bool(r.linked),
                r.order_no,
                r.status,
                r.tag,
                r.phone == phone,
            )
            for r in rows
        ]

    def repeat_for(self, phone: str, at: datetime | None = None) -> Repeat | None:
        with self.db.read() as conn:
            return find_repeat(conn, phone, at or self.clock())

    def list_orders(
        self,
        *,
        status: Sequence[str] | None = None,
        dept: str | None = None,
        overdue: bool = False,
        limit: int = 50,
        open_only: bool = False,
    ) -> list[OrderRow]:
        """A simple filtered list for the CLI (the board pages with its own queries)."""
        where, params = [], []
        if status:
            where.append(f"o.status IN ({', '.join('?' for _ in status)})")
            params += list(status)
        if open_only:
            where.append("o.status NOT IN ('closed', 'cancelled')")
        if dept:
            code = dept.strip().upper()
            where.append(
                "EXISTS (SELECT 1 FROM assignments a WHERE a.order_id = o.id AND (a.assignee = ? OR a.dept = ?))"
            )
            params += [code, code]
        seen, seen_params = visibility_sql(self.desk, self.ref)
        if seen:
            where.append(seen)
            params += seen_params
        if overdue:
            where.append("o.next_due IS NOT NULL AND o.next_due < ?")
            params.append(to_db(self.clock()))
        sql = (
            "SELECT o.order_no, o.status, o.tag, o.town, o.mode, o.primary_assignee, o.police_assignee, o.call_at, "
            "o.next_due, o.next_due_kind, o.phone FROM orders o"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY o.call_at DESC LIMIT ?"
        )
        with self.db.read() as conn:
            rows = conn.exec_driver_sql(sql, (*params, limit)).all()
        return [
            OrderRow(
                r.order_no,
                r.status,
                r.tag,
                r.town,
                r.mode,
                r.primary_assignee,
                r.police_assignee,
                from_db(r.call_at),
                from_db_opt(r.next_due),
                r.next_due_kind,
                r.phone,
            )
            for r in rows
        ]

    def counts(self) -> dict[str, Any]:
        with self.db.read() as conn:
            rows = conn.exec_driver_sql("SELECT status, count(*) FROM orders GROUP BY status").all()
        return {r[0]: r[1] for r in rows}
