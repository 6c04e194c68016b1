"""Merge, unmerge and split on the desk's store: one ``BEGIN IMMEDIATE`` transaction per step, every order it
touches replayed and projected in it (the events: models/merging.py; the replay rules: models/machine.py).

Used through :class:`store.orders.OrderStore` (``merge``, ``unmerge``, ``split``); the cross-order views —
which absorbed orders' merges took, which children of a split are still open — are here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from fengqiao.models import roles
from fengqiao.models.clock import to_db
from fengqiao.models.errors import ValidationError
from fengqiao.models.events import new_id
from fengqiao.models.i18n import t
from fengqiao.models.machine import OPEN_STATUSES, Absorbed, Action, AssignmentState, Event, OrderState, apply
from fengqiao.models.merging import ChildPlan, Stamp, child_call, merge_events, split_events, unmerge_events
from fengqiao.models.text import check_text

from .db import Connection
from .projection import append_events, insert_call, load_state, save_order
from .rollups import Tracker

if TYPE_CHECKING:
    from .orders import OrderStore


@dataclass(frozen=True)
class MergeResult:
    keep: OrderState
    absorbed: list[OrderState]
    withdrawn: list[tuple[str, AssignmentState]]  # (order number, assignment) told their work is withdrawn


@dataclass(frozen=True)
class SplitResult:
    parent: OrderState
    children: list[OrderState]


def _apply_all(states: dict[str, OrderState], events: list[Event]) -> None:
    for ev in events:
        if ev.kind == Action.DISPATCH:
            states[ev.order_id] = apply(None, ev)
        else:
            apply(states[ev.order_id], ev)


def _write(store: OrderStore, conn: Connection, states: dict[str, OrderState], events: list[Event]) -> None:
    rollups = Tracker(conn)
    rollups.watch(list(states))
    calls = [child_call(ev) for ev in events if ev.kind == Action.DISPATCH]
    if calls:
        rollups.watch_calls([(c.phone, to_db(c.received_at)) for c in calls])
    for ev in events:
        if ev.kind == Action.DISPATCH:  # a split's child: its call first (orders.call_id refers to it)
            insert_call(conn, child_call(ev), None)
    for state in states.values():
        save_order(conn, state)
    for ev in events:
        if ev.kind == Action.DISPATCH:
            conn.exec_driver_sql("UPDATE calls SET order_id = ? WHERE id = ?", (ev.order_id, ev.payload["call"]["id"]))
    rollups.finish()
    append_events(conn, store.desk.name, events)


def _floor(states: list[OrderState]) -> datetime | None:
    times = [s.updated_at for s in states if s.updated_at is not None]
    return max(times) if times else None


def merge(
    store: OrderStore, keep_no: str, other_nos: list[str], *, reason: str = "", at: datetime | None = None
) -> MergeResult:
    """Merge the orders ``other_nos`` into ``keep_no``: their assignments are withdrawn, their calls become
    linked calls of the order kept."""
    reason = check_text("reason", reason)
    if not other_nos:
        raise ValidationError(t("error.merge_needs_others"), field="orders")
    with store.db.write() as conn:
        keep = store._load_visible(conn, keep_no)
        others = [store._load_visible(conn, no) for no in other_nos]
        roles.check(store.desk, store.ref, keep, Action.MERGED)
        for o in others:
            roles.check(store.desk, store.ref, o, Action.MERGE_INTO)
        when, now = store._when(at, floor=_floor([keep, *others]))
        stamp = Stamp(when, now, store.desk.name, store.desk.actor)
        states = {keep.id: keep, **{o.id: o for o in others}}
        events = [ev for o in (keep, *others) for ev in _drop_void(conn, o, stamp, reason)]
        _apply_all(states, events)
        step = merge_events(
            keep, others, merge_id=new_id(), ids=[new_id() for _ in range(len(others) + 1)], stamp=stamp, reason=reason
        )
        withdrawn = [(o.order_no, a) for o in others for a in o.active_assignments]
        _apply_all(states, step)
        _write(store, conn, states, events + step)
    return MergeResult(keep, others, withdrawn)


def unmerge(store: OrderStore, order_no: str, *, reason: str = "", at: datetime | None = None) -> list[OrderState]:
    """Undo a merge: ``order_no`` merged into another is taken back out; an order others are merged into lets
    every one of them go. Returns the orders taken out."""
    reason = check_text("reason", reason)
    with store.db.write() as conn:
        target = store._load_visible(conn, order_no)
        if target.merge is not None:
            pairs = [(target, load_state(conn, target.merge.into))]
        else:
            taken = merged_calls_in(conn, target)
            if not taken and not target.absorbed:
                raise ValidationError(t("error.nothing_to_unmerge", order_no=target.order_no), field="order")
            pairs = []
            for x in taken:
                absorbed = load_state(conn, x.order_id)
                if absorbed is not None:
                    pairs.append((absorbed, target))
        states: dict[str, OrderState] = {}
        for absorbed, survivor in pairs:
            roles.check(store.desk, store.ref, absorbed, Action.UNMERGE)
            if survivor is not None:
                roles.check(store.desk, store.ref, survivor, Action.UNMERGED)
        touched = [s for pair in pairs for s in pair if s is not None]
        when, now = store._when(at, floor=_floor(touched))
        stamp = Stamp(when, now, store.desk.name, store.desk.actor)
        events: list[Event] = []
        if target.merge is None:  # the order kept: its merges that never took are let go as well
            states[target.id] = target
            events = _drop_void(conn, target, stamp, reason)
            _apply_all(states, events)
        for absorbed, survivor in pairs:
            absorbed = states.setdefault(absorbed.id, absorbed)
            if survivor is not None:
                survivor = states.setdefault(survivor.id, survivor)
            step = unmerge_events(store.ref, absorbed, survivor, ids=[new_id(), new_id()], stamp=stamp, reason=reason)
            _apply_all(states, step)
            events += step
        _write(store, conn, states, events)
    return [absorbed for absorbed, _ in pairs]


def split(
    store: OrderStore, order_no: str, units: list[str], *, reason: str = "", at: datetime | None = None
) -> SplitResult:
    """Split ``order_no`` into one child order per unit in ``units``: department codes, or grassroots units of the
    order's town (``TJ-<village>``, ``WG-<grid>``, ``SO-<organisation>``). An unknown unit is refused in the same
    transaction, before anything is written."""
    reason = check_text("reason", reason)
    codes = [u.strip().upper() for u in units if u.strip()]
    if not codes:
        raise ValidationError(t("error.split_needs_units"), field="to")
    with store.db.write() as conn:
        parent = store._load_visible(conn, order_no)
        roles.check(store.desk, store.ref, parent, Action.SPLIT)
        roles.check_dispatch(store.desk, parent.town, store.ref)
        when, now = store._when(at, floor=parent.updated_at)
        stamp = Stamp(when, now, store.desk.name, store.desk.actor)
        from .orders import next_order_no

        plans = [
            ChildPlan(new_id(), next_order_no(conn, store.desk.prefix, when), new_id(), new_id(), code)
            for code in codes
        ]
        events = split_events(
            store.ref,
            parent,
            plans,
            split_id=new_id(),
            ids=[new_id() for _ in range(len(plans) + 1)],
            stamp=stamp,
            reason=reason,
        )
        states = {parent.id: parent}
        _apply_all(states, events)
        _write(store, conn, states, events)
    return SplitResult(parent, [states[p.order_id] for p in plans])


def _drop_void(conn: Connection, o: OrderState, stamp: Stamp, reason: str) -> list[Event]:
    """``unmerged`` events for the absorbed orders ``o`` records whose merge never took (a concurrent merge on
    another desk won): they would keep ``o`` from being merged itself."""
    live = {x.order_id for x in merged_calls_in(conn, o)}
    out = []
    for x in o.absorbed:
        if x.order_id not in live:
            payload = {"merge": x.merge, "order_id": x.order_id, "order_no": x.order_no, "reason": reason}
            out.append(
                Event(
                    id=new_id(),
                    order_id=o.id,
                    kind=str(Action.UNMERGED),
                    event_at=stamp.at,
                    recorded_at=stamp.recorded_at,
                    desk=stamp.desk,
                    actor=stamp.actor,
                    payload=payload,
                )
            )
    return out


# ---- cross-order views ---------------------------------------------------------------------------------


def merged_calls_in(conn: Connection, o: OrderState) -> list[Absorbed]:
    """The orders merged into ``o`` whose merge took: the absorbed order's own events say it is merged into ``o``. An absorbed order this desk does not hold (out of its scope) is shown as ``o`` recorded it."""
    out = []
    for x in o.absorbed:
        other = load_state(conn, x.order_id)
        if other is None or (other.merge is not None and other.merge.into == o.id):
            out.append(x)
    return out


def open_children_in(conn: Connection, o: OrderState) -> list[tuple[str, str]]:
    """(order number, status) of the children of ``o`` still open, as this desk holds them."""
    if not o.children:
        return []
    ids = [c.order_id for c in o.children]
    marks = ", ".join("?" for _ in ids)
    rows = conn.exec_driver_sql(
        f"SELECT order_no, status FROM orders WHERE id IN ({marks}) ORDER BY order_no", tuple(ids)
    ).all()
    return [(r[0], r[1]) for r in rows if r[1] in OPEN_STATUSES]


def children_in(conn: Connection, o: OrderState) -> list[tuple[str, str, str]]:
    """(order number, unit, status) of every child of ``o`` (status ``-``: not held by this desk)."""
    if not o.children:
        return []
    ids = [c.order_id for c in o.children]
    marks = ", ".join("?" for _ in ids)
    have = {
        r[0]: r[1]
        for r in conn.exec_driver_sql(f"SELECT id, status FROM orders WHERE id IN ({marks})", tuple(ids)).all()
    }
    return [(c.order_no, c.assignee, str(have.get(c.order_id, "-"))) for c in o.children]


def check_close(conn: Connection, o: OrderState) -> None:
    """Refuse closing a parent while one of its children is open (the split's cross-order rule)."""
    still = open_children_in(conn, o)
    if still:
        raise ValidationError(t("error.child_open", order_no=o.order_no, child=still[0][0]), field="order")
