"""Merge and split (issue 17 item 2): building the events of a step that touches several orders.

Pure, like models/machine.py: the store (store/orders.py) hands in the orders' states, fresh ids and times and
writes the events in one transaction. The replay rules are the handlers in models/machine.py ("merge and
split"): each order's own events decide its state; every desk replays them in server order.

* **Merge** ``KEEP`` ← ``OTHER…``: ``merged`` on KEEP (the others' calls), then ``merge-into`` on each other
  order (its active assignments withdrawn, the order cancelled-like, pointing at KEEP), all with one merge id.
* **Unmerge** an absorbed order: ``unmerge`` on it (its withdrawn assignments back, with fresh deadlines from
  the tag's limits), then ``unmerged`` on the survivor.
* **Split** ``ORDER`` → units: ``split`` on the parent naming the children, then one dispatch per child: a new
  order with its own number, the parent's tag, town and a copy of its call (own id), one assignment to the
  unit, fresh deadlines, and ``parent`` in its payload.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .errors import DomainError, ValidationError
from .i18n import t
from .machine import (
    OPEN_STATUSES,
    WORKING_STATUSES,
    Action,
    CallInfo,
    Event,
    OrderState,
    apply,
    deadlines,
)
from .reference import Reference
from .routing import distinct_units

MAX_MERGE = 20  # orders absorbed in one merge
MAX_CHILDREN = 8  # child orders made by one split


@dataclass(frozen=True)
class Stamp:
    """Who and when, for every event of one step."""

    at: datetime
    recorded_at: datetime
    desk: str
    actor: str


def _event(o_id: str, kind: Action, ev_id: str, stamp: Stamp, payload: dict[str, Any]) -> Event:
    return Event(
        id=ev_id,
        order_id=o_id,
        kind=str(kind),
        event_at=stamp.at,
        recorded_at=stamp.recorded_at,
        desk=stamp.desk,
        actor=stamp.actor,
        payload=payload,
    )


def _trial(o: OrderState, ev: Event) -> None:
    """Apply ``ev`` to a copy of ``o``: raises the state machine's refusal (a Redundant one too)."""
    apply(o.clone(), ev)


def merge_events(
    keep: OrderState, others: list[OrderState], *, merge_id: str, ids: list[str], stamp: Stamp, reason: str
) -> list[Event]:
    """The events of merging ``others`` into ``keep``: ``merged`` on ``keep`` first, then one ``merge-into`` per
    other order. ``ids``: one fresh event id per event (1 + len(others)). Raises with a one-line reason."""
    if not others:
        raise ValidationError(t("error.merge_needs_others"), field="orders")
    if len(others) > MAX_MERGE:
        raise ValidationError(t("error.merge_too_many", limit=MAX_MERGE), field="orders")
    seen = {keep.id}
    for o in others:
        if o.id in seen:
            raise ValidationError(t("error.merge_twice", order_no=o.order_no), field="orders")
        seen.add(o.id)
    if keep.merge is not None:
        raise ValidationError(
            t("error.merge_keep_merged", order_no=keep.order_no, into=keep.merge.into_no), field="keep"
        )
    if keep.status not in OPEN_STATUSES:
        raise ValidationError(
            t("error.merge_keep_closed", order_no=keep.order_no, state=t(f"status.{keep.status}")), field="keep"
        )
    absorbed = [{"id": o.id, "order_no": o.order_no, "call": o.call.to_payload()} for o in others]
    out = [_event(keep.id, Action.MERGED, ids[0], stamp, {"merge": merge_id, "orders": absorbed, "reason": reason})]
    _trial(keep, out[0])
    for o, ev_id in zip(others, ids[1:], strict=True):
        ev = _event(
            o.id,
            Action.MERGE_INTO,
            ev_id,
            stamp,
            {"merge": merge_id, "into": keep.id, "into_no": keep.order_no, "reason": reason},
        )
        _trial(o, ev)
        out.append(ev)
    return out


def unmerge_events(
    ref: Reference, o: OrderState, survivor: OrderState | None, *, ids: list[str], stamp: Stamp, reason: str
) -> list[Event]:
    """The events of undoing ``o``'s merge: ``unmerge`` on ``o``, then ``unmerged`` on the survivor (when this desk
    holds it). ``ids``: two fresh event ids."""
    if o.merge is None:
        raise DomainError(t("error.not_merged", order_no=o.order_no), order_no=o.order_no, state=str(o.status))
    link = o.merge
    dues = deadlines(ref, o.tag, stamp.at)
    ev = _event(o.id, Action.UNMERGE, ids[0], stamp, {"merge": link.merge, "from": link.into, "reason": reason, **dues})
    _trial(o, ev)
    out = [ev]
    if survivor is not None:
        back = _event(
            survivor.id,
            Action.UNMERGED,
            ids[1],
            stamp,
            {"merge": link.merge, "order_id": o.id, "order_no": o.order_no, "reason": reason},
        )
        try:
            _trial(survivor, back)
        except DomainError:
            pass  # the survivor no longer lists it (undone there already): nothing to let go
        else:
            out.append(back)
    return out


@dataclass(frozen=True)
class ChildPlan:
    """One child of a split, as the store numbered it."""

    order_id: str
    order_no: str
    assignment_id: str
    call_id: str
    dept: str  # the unit asked for (a department code, ZZ, TJ-…, WG-…, SO-…)


def split_events(
    ref: Reference,
    parent: OrderState,
    children: list[ChildPlan],
    *,
    split_id: str,
    ids: list[str],
    stamp: Stamp,
    reason: str,
) -> list[Event]:
    """The events of splitting ``parent``: ``split`` on it, then one dispatch per child. ``ids``: 1 + len(children)
    fresh event ids. Raises with a one-line reason (an unknown unit, the police, one named twice, a closed order)."""
    if not children:
        raise ValidationError(t("error.split_needs_units"), field="to")
    if len(children) > MAX_CHILDREN:
        raise ValidationError(t("error.split_too_many", limit=MAX_CHILDREN), field="to")
    if parent.merge is not None:
        raise ValidationError(
            t("error.split_merged", order_no=parent.order_no, into=parent.merge.into_no), field="order"
        )
    if parent.status not in WORKING_STATUSES:
        raise ValidationError(
            t("error.split_needs_open", order_no=parent.order_no, state=t(f"status.{parent.status}")), field="order"
        )
    town = ref.town(parent.town)
    dues = deadlines(ref, parent.tag, stamp.at)
    units = distinct_units(
        ref,
        town,
        [c.dept for c in children],
        role="primary",
        field="to",
        police="error.override_police",
        twice="error.split_twice",
    )
    planned = list(zip(children, units, strict=True))
    listed = [{"id": c.order_id, "order_no": c.order_no, "assignee": who.code} for c, who in planned]
    split = _event(parent.id, Action.SPLIT, ids[0], stamp, {"split": split_id, "children": listed, "reason": reason})
    _trial(parent, split)
    out = [split]
    for (child, who), ev_id in zip(planned, ids[1:], strict=True):
        call = replace(parent.call, id=child.call_id, desk=stamp.desk)
        payload: dict[str, Any] = {
            "order_no": child.order_no,
            "tag": parent.tag,
            "category": parent.category,
            "town": parent.town,
            "mode": "single",
            "onsite": parent.onsite,
            "call": call.to_payload(),
            "override": None,
            "repeat_of": None,
            "assignments": [
                {
                    "id": child.assignment_id,
                    "role": "primary",
                    "assignee": who.code,
                    "dept": who.dept,
                    "town": who.town,
                    **dues,
                }
            ],
            "parent": {"id": parent.id, "order_no": parent.order_no},
        }
        ev = _event(child.order_id, Action.DISPATCH, ev_id, stamp, payload)
        apply(None, ev)
        out.append(ev)
    return out


def child_call(ev: Event) -> CallInfo:
    """The call a child's dispatch carries (its own row in ``calls``)."""
    return CallInfo.from_payload(ev.payload["call"], ev.desk)
