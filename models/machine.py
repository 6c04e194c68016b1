"""The order state machine, event-sourced.

An order is the fold of its events: ``apply(state, event)`` checks that the event is legal for the state and
returns the new state. Events carry everything needed to apply them (deadlines are computed when the event
is built and stored in its payload), so replaying the same events gives the same state on every desk,
without reference data or a clock.

Order lifecycle::

    dispatched ──sign──▶ signed ──arrive──▶ arrived ──feedback──▶ fed_back ──visit──▶ visited ──close──▶ closed
        │  ╲               │   (arrive only for tags with a site visit)   │ unresolved      │ unsatisfied
        │   return ◀───────┘                                              └──── reopen ◀────┘
        ▼                                                                   (back to rework)
    returned ──reassign──▶ dispatched (new department, fresh deadlines)
    dispatched/signed/arrived/returned ──cancel──▶ cancelled

Each assignment (the department, and on a dual order the police station) signs, arrives and feeds back on
its own; the order's state is the least advanced of its active assignments. Co-handling units (协办, role
``co``) have assignments of their own too, with their own deadlines and steps, but they do not hold the order:
only the lead unit (主办, role ``primary``) and the police station of a dual dispatch move its state, and a
co-unit may report its part until the order is closed. Extensions (request, approve,
refuse), escalations (督办), linked repeat calls and a supervisor's judgement of a return leave the state
as it is and are recorded on the order.

Build events with :func:`build` (used by the store, the CLI, the console and the demo generator alike);
apply them with :func:`apply`; replay a list with :func:`replay`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from .clock import from_db, from_db_opt, to_db, to_db_opt
from .errors import DomainError, Redundant, ValidationError
from .i18n import get_lang, t
from .reference import Reference, default_reference
from .routing import Route, department_assignee, describe_assignee
from .status import OPEN_STATUSES, WORKING_STATUSES, Status  # noqa: F401 - re-exported: the states are the machine's too

_STAGE_STATUS = (Status.DISPATCHED, Status.SIGNED, Status.ARRIVED, Status.FED_BACK)


class Action(StrEnum):
    DISPATCH = "dispatch"
    SIGN = "sign"
    ARRIVE = "arrive"
    FEEDBACK = "feedback"
    RETURN = "return"
    REASSIGN = "reassign"
    EXTEND = "extend"
    APPROVE_EXTENSION = "approve-extension"
    REFUSE_EXTENSION = "refuse-extension"
    ESCALATE = "escalate"
    VISIT = "visit"
    REOPEN = "reopen"
    CLOSE = "close"
    CANCEL = "cancel"
    LINK = "link"
    JUDGE_RETURN = "judge-return"
    HAND = "hand"  # a unit's lead hands an assignment to one of its people (the phone page); no status change
    NOTE = "note"
    URGE = "urge"
    # Merge and split (issue 17): events on several orders at once, see "Merge and split" below.
    MERGE_INTO = "merge-into"  # on each absorbed order: its assignments withdrawn, the order merged into another
    MERGED = "merged"  # on the surviving order: the absorbed orders' calls held as its own linked calls
    UNMERGE = "unmerge"  # on an absorbed order: back to work, its withdrawn assignments with fresh deadlines
    UNMERGED = "unmerged"  # on the surviving order: the absorbed order's calls let go
    SPLIT = "split"  # on the parent: the child orders it was split into (each a dispatch carrying ``parent``)


# Actions that target one assignment of the order (the rest act on the order as a whole).
ASSIGNMENT_ACTIONS = frozenset(
    {
        Action.SIGN,
        Action.ARRIVE,
        Action.FEEDBACK,
        Action.RETURN,
        Action.EXTEND,
        Action.APPROVE_EXTENSION,
        Action.REFUSE_EXTENSION,
        Action.JUDGE_RETURN,
        Action.HAND,
        Action.URGE,
    }
)
# Merge and split act on several orders in one step (store/orders.py: OrderStore.merge, unmerge, split), never
# as an intent on one order.
MULTI_ORDER_ACTIONS = frozenset({Action.MERGE_INTO, Action.MERGED, Action.UNMERGE, Action.UNMERGED, Action.SPLIT})
USER_ACTIONS = tuple(
    a for a in Action if a not in (Action.DISPATCH, Action.LINK, Action.HAND) and a not in MULTI_ORDER_ACTIONS
)

RESULTS = ("resolved", "unresolved")
SATISFACTIONS = ("satisfied", "basic", "unsatisfied")
VISIBILITIES = ("internal", "caller")  # a note for the desks only, or one to tell the caller
DEFAULT_EXTENSION_HOURS = 24
MAX_EXTENSION_HOURS = 24 * 14

_STAGE = {"dispatched": 0, "signed": 1, "arrived": 2, "fed_back": 3}


@dataclass
class Event:
    """One fact in an order's history. Immutable once stored."""

    id: str
    order_id: str
    kind: str
    event_at: datetime
    recorded_at: datetime
    desk: str
    actor: str
    assignment_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    desk_seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


@dataclass
class CallInfo:
    id: str
    phone: str
    name: str
    town: str
    address: str
    description: str
    received_at: datetime
    desk: str = ""
    village: str | None = None  # the village or community of the address (villages.csv); absent in older events
    grid: str | None = None  # ... and its grid (grids.csv)

    def to_payload(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "phone": self.phone,
            "name": self.name,
            "town": self.town,
            "address": self.address,
            "description": self.description,
            "received_at": to_db(self.received_at),
        }
        if self.village:  # only when known: a call without a village is the same payload as before villages
            out["village"] = self.village
            if self.grid:
                out["grid"] = self.grid
        return out

    @classmethod
    def from_payload(cls, data: dict[str, Any], desk: str) -> CallInfo:
        return cls(
            data["id"],
            data["phone"],
            data.get("name", ""),
            data["town"],
            data.get("address", ""),
            data["description"],
            from_db(data["received_at"]),
            desk,
            data.get("village"),
            data.get("grid"),
        )


@dataclass(frozen=True)
class MergeLink:
    """Where a merged order went: the surviving order, and the merge (one id shared by its events)."""

    merge: str
    into: str  # the surviving order's id
    into_no: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class Absorbed:
    """An order merged into this one, as the surviving order's ``merged`` event recorded it. The absorbed order's
    own ``merge-into`` decides whether the merge took (store/orders.py ``merged_calls`` checks it)."""

    merge: str
    order_id: str
    order_no: str
    call: CallInfo


@dataclass(frozen=True)
class Child:
    """One child order of a split: its own order, with its own number and unit."""

    split: str
    order_id: str
    order_no: str
    assignee: str


@dataclass
class AssignmentState:
    id: str
    seq: int
    role: str  # primary (the lead unit) | police | co (a co-handling unit)
    assignee: str
    dept: str
    town: str | None
    onsite: bool
    dispatched_at: datetime
    sign_due: datetime
    arrive_due: datetime | None
    feedback_due: datetime
    feedback_due_original: datetime
    window_start: datetime
    status: str = "dispatched"  # dispatched | signed | arrived | fed_back | returned
    active: bool = True
    signed_at: datetime | None = None
    arrived_at: datetime | None = None
    fed_back_at: datetime | None = None
    returned_at: datetime | None = None
    result: str | None = None
    feedback_text: str | None = None
    return_reason: str | None = None
    return_justified: bool | None = None
    ext_status: str | None = None  # pending | approved | refused
    ext_hours: int | None = None
    ext_reason: str | None = None
    first_overdue_at: datetime | None = None
    holder: str | None = None  # the person of the unit the lead handed it to (``hand``), by id
    holder_name: str | None = None
    location: dict[str, Any] | None = None  # where the arrival was recorded: {lat, lon, accuracy_m}
    photos: list[dict[str, Any]] = field(default_factory=list)  # the feedback's evidence: {sha256, size, mime}
    withdrawn: str | None = None  # the merge that withdrew it (``merge-into``); cleared by ``unmerge``

    def pending_deadline(self) -> tuple[str, datetime] | None:
        """The next deadline this assignment still has to meet, if any."""
        if not self.active:
            return None
        if self.status == "dispatched":
            return "sign", self.sign_due
        if self.status == "signed" and self.onsite:
            assert self.arrive_due is not None
            return "arrive", self.arrive_due
        if self.status in ("signed", "arrived"):
            return "feedback", self.feedback_due
        return None


@dataclass
class OrderState:
    id: str
    order_no: str
    tag: str
    category: str
    town: str
    mode: str
    onsite: bool
    call: CallInfo
    created_at: datetime
    desk: str
    one_team: bool = False
    override_dept: str | None = None
    override_reason: str | None = None
    repeat_of: str | None = None
    assignments: list[AssignmentState] = field(default_factory=list)
    status: Status = Status.DISPATCHED
    visited_at: datetime | None = None
    satisfaction: str | None = None
    visit_note: str | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    reopen_count: int = 0
    redo_count: int = 0  # reopens after a follow-up visit (unsatisfied), not after an unresolved feedback: 重办
    escalations: int = 0
    last_escalated_at: datetime | None = None
    linked_calls: list[CallInfo] = field(default_factory=list)
    updated_at: datetime | None = None
    first_overdue_at: datetime | None = None
    notes: int = 0
    urges: int = 0
    last_urged_at: datetime | None = None
    informed: tuple[str, ...] = ()  # told of the order without an assignment (grassroots routing: ZZ-<town>)
    rule: str | None = None  # the grassroots routing rule that chose the primary assignee (``B04/*/*→TJ``)
    # Merge and split (``merge-into``/``merged``/``unmerge``/``unmerged``/``split``, and a child's dispatch):
    merge: MergeLink | None = None  # this order is merged into another (it is then cancelled-like)
    absorbed: list[Absorbed] = field(default_factory=list)  # orders merged into this one, as its events say
    unmerged: tuple[str, ...] = ()  # merges of this order undone (a second ``unmerge`` of one is redundant)
    children: list[Child] = field(default_factory=list)  # the child orders this one was split into
    parent: tuple[str, str] | None = None  # (order id, order number) of the order this one was split from

    @property
    def village(self) -> str | None:
        return self.call.village

    @property
    def grid(self) -> str | None:
        return self.call.grid

    # ---- derived views -------------------------------------------------------------------------
    @property
    def primary(self) -> AssignmentState:
        """The current department assignment (the latest primary one)."""
        for a in reversed(self.assignments):
            if a.role == "primary":
                return a
        raise IndexError("the order has no primary assignment")

    @property
    def police(self) -> AssignmentState | None:
        for a in reversed(self.assignments):  # the latest active one
            if a.role == "police" and a.active:
                return a
        return None

    @property
    def active_assignments(self) -> list[AssignmentState]:
        return [a for a in self.assignments if a.active]

    @property
    def holding(self) -> list[AssignmentState]:
        """The active assignments that hold the order's state: the lead unit's and the police station's."""
        return [a for a in self.assignments if a.active and a.role != "co"]

    @property
    def co_units(self) -> list[AssignmentState]:
        """The co-handling units' assignments (协办), returned ones included."""
        return [a for a in self.assignments if a.role == "co"]

    @property
    def result(self) -> str | None:
        if self.status in (Status.FED_BACK, Status.VISITED, Status.CLOSED):
            return self.primary.result
        return None

    @property
    def fed_back_at(self) -> datetime | None:
        if self.status in (Status.FED_BACK, Status.VISITED, Status.CLOSED):
            times = [a.fed_back_at for a in self.holding if a.fed_back_at]
            return max(times) if times else None
        return None

    def next_deadline(self) -> tuple[str, datetime, datetime, str] | None:
        """(kind, due, window start, assignment id) of the earliest deadline still to be met."""
        if self.status not in WORKING_STATUSES:
            return None
        best: tuple[str, datetime, datetime, str] | None = None
        for a in self.active_assignments:
            pending = a.pending_deadline()
            if pending and (best is None or pending[1] < best[1]):
                best = (pending[0], pending[1], a.window_start, a.id)
        return best

    def find_assignment(self, assignment_id: str | None) -> AssignmentState | None:
        """The assignment of that id, or None (a loop, not next() of a generator: asked for every event a server
        takes)."""
        for a in self.assignments:
            if a.id == assignment_id:
                return a
        return None

    def assignment(self, assignment_id: str) -> AssignmentState:
        found = self.find_assignment(assignment_id)
        if found is not None:
            return found
        raise DomainError(
            t("error.no_such_assignment", order_no=self.order_no, assignment=assignment_id),
            order_no=self.order_no,
            state=self.status,
        )

    def overdue_at(self, now: datetime) -> bool:
        nxt = self.next_deadline()
        return nxt is not None and nxt[1] < now

    def clone(self) -> OrderState:
        """A copy that :func:`apply` may change freely, much cheaper than ``copy.deepcopy``.

        Handlers only set plain fields of the order and of its assignments and append to its lists, so those
        are copied; calls are never changed and are shared. A handler that changes anything deeper must copy
        it here (tests/sync/test_merge.py compares this with deepcopy over generated histories).
        """
        new = copy.copy(self)
        new.assignments = [copy.copy(a) for a in self.assignments]
        new.linked_calls = list(self.linked_calls)
        new.absorbed = list(self.absorbed)
        new.children = list(self.children)
        return new


# ---- applying events -------------------------------------------------------------------------------


def _refuse(state: OrderState, action: str, reason_key: str, *, redundant: bool = False, **kw: Any) -> DomainError:
    if "assignee" in kw:
        kw["assignee"] = describe_assignee(default_reference(), kw["assignee"], get_lang())
    reason = t(f"reason.{reason_key}", **kw)
    message = t(
        "error.illegal",
        order_no=state.order_no,
        state=t(f"status.{state.status}"),
        action=t(f"action.{action}"),
        reason=reason,
    )
    cls = Redundant if redundant else DomainError
    return cls(message, order_no=state.order_no, state=str(state.status), action=action, reason=reason_key)


def _derive_status(o: OrderState) -> Status:
    if o.cancelled_at is not None:
        return Status.CANCELLED
    if o.closed_at is not None:
        return Status.CLOSED
    if o.visited_at is not None:
        return Status.VISITED
    if o.primary.status == "returned":
        return Status.RETURNED
    stage = min([_STAGE[a.status] for a in o.assignments if a.active and a.role != "co"])
    return _STAGE_STATUS[stage]


def _note_overdue(o: OrderState, a: AssignmentState, deadline: datetime | None, done_at: datetime) -> None:
    if deadline is not None and done_at > deadline:
        if a.first_overdue_at is None or deadline < a.first_overdue_at:
            a.first_overdue_at = deadline
        if o.first_overdue_at is None or deadline < o.first_overdue_at:
            o.first_overdue_at = deadline


def _note_missed(o: OrderState, at: datetime) -> None:
    """Any event after a pending deadline shows the order was overdue from that deadline on (a cancel, a
    return, an escalation or an extension decided too late, not only the late step itself)."""
    if o.status not in WORKING_STATUSES:
        return
    for a in o.assignments:
        if a.active:
            pending = a.pending_deadline()
            if pending is not None:
                _note_overdue(o, a, pending[1], at)


def missed_by(state: OrderState, now: datetime) -> OrderState:
    """A copy of ``state`` with the first overdue moments ``store.board.mark_overdue`` records at ``now``: the
    pending deadlines passed by then, noted without an event (``fengqiao check`` accepts either)."""
    marked = state.clone()
    _note_missed(marked, now)
    return marked


def _new_assignment(data: dict[str, Any], at: datetime, onsite: bool, seq: int) -> AssignmentState:
    feedback_due = from_db(data["feedback_due"])
    return AssignmentState(
        id=data["id"],
        seq=seq,
        role=data["role"],
        assignee=data["assignee"],
        dept=data["dept"],
        town=data.get("town"),
        onsite=onsite,
        dispatched_at=at,
        sign_due=from_db(data["sign_due"]),
        arrive_due=from_db_opt(data.get("arrive_due")),
        feedback_due=feedback_due,
        feedback_due_original=feedback_due,
        window_start=at,
    )


def _is_open_for_work(o: OrderState) -> bool:
    return o.status in WORKING_STATUSES


def _may_work(o: OrderState, a: AssignmentState) -> bool:
    """Whether ``a`` may take a step now: a co-unit until the order is closed or cancelled (its part may come after
    the lead's feedback), the others while the order is at work."""
    if a.role == "co":
        return o.status not in (Status.CLOSED, Status.CANCELLED)
    return _is_open_for_work(o)


def apply(state: OrderState | None, ev: Event) -> OrderState:
    """Apply one event; return the new state. Raises :class:`DomainError` (or :class:`Redundant`) if illegal.

    ``state`` is modified in place; pass a copy if the old state is still needed.
    """
    at = ev.event_at
    p = ev.payload
    if ev.kind == Action.DISPATCH:
        if state is not None:
            raise DomainError(
                t("error.duplicate_dispatch", order_no=state.order_no),
                order_no=state.order_no,
                state=str(state.status),
                action=ev.kind,
            )
        call = CallInfo.from_payload(p["call"], ev.desk)
        override = p.get("override") or {}
        o = OrderState(
            id=ev.order_id,
            order_no=p["order_no"],
            tag=p["tag"],
            category=p["category"],
            town=p["town"],
            mode=p["mode"],
            onsite=bool(p["onsite"]),
            call=call,
            created_at=at,
            desk=ev.desk,
            one_team=bool(p.get("one_team")),
            override_dept=override.get("dept"),
            override_reason=override.get("reason"),
            repeat_of=p.get("repeat_of"),
            informed=tuple(p.get("informed") or ()),
            rule=p.get("rule"),
        )
        _note_parent(o, p)
        for i, data in enumerate(p["assignments"], start=1):
            o.assignments.append(_new_assignment(data, at, o.onsite, i))
        o.status = _derive_status(o)
        o.updated_at = at
        return o
    if state is None:
        raise DomainError(t("error.event_before_dispatch", kind=ev.kind), action=ev.kind)
    o = state
    handler = _HANDLERS.get(ev.kind)
    if handler is None:
        # An event of a kind this version does not know (a newer desk wrote it): keep the state as it is.
        raise DomainError(
            t("error.unknown_event", kind=ev.kind, order_no=o.order_no),
            order_no=o.order_no,
            state=str(o.status),
            action=ev.kind,
            reason="unknown_kind",
        )
    _note_missed(o, at)
    handler(o, ev, at, p)
    o.status = _derive_status(o)
    o.updated_at = at
    return o


def _target(o: OrderState, ev: Event) -> AssignmentState:
    if not ev.assignment_id:
        raise _refuse(o, ev.kind, "no_assignment")
    return o.assignment(ev.assignment_id)


def _h_sign(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    a = _target(o, ev)
    if a.active and a.status in ("signed", "arrived", "fed_back"):
        raise _refuse(o, ev.kind, "already_signed", redundant=True, assignee=a.assignee)
    if not _may_work(o, a) or not a.active or a.status != "dispatched":
        raise _refuse(o, ev.kind, "not_awaiting_sign", assignee=a.assignee)
    a.status, a.signed_at = "signed", at
    if a.holder is None and isinstance(p.get("person"), str):  # a person signing from the phone takes it on
        a.holder, a.holder_name = p["person"], ev.actor
    _note_overdue(o, a, a.sign_due, at)


def _h_arrive(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    a = _target(o, ev)
    if not a.onsite:
        raise _refuse(o, ev.kind, "no_site_visit")
    if a.active and a.status in ("arrived", "fed_back"):
        raise _refuse(o, ev.kind, "already_arrived", redundant=True, assignee=a.assignee)
    if not _may_work(o, a) or not a.active or a.status != "signed":
        raise _refuse(o, ev.kind, "sign_first" if a.status == "dispatched" else "not_working", assignee=a.assignee)
    a.status, a.arrived_at = "arrived", at
    loc = p.get("location")
    a.location = dict(loc) if isinstance(loc, dict) else None
    _note_overdue(o, a, a.arrive_due, at)


def _h_feedback(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    a = _target(o, ev)
    if a.active and a.status == "fed_back":
        raise _refuse(o, ev.kind, "already_fed_back", redundant=True, assignee=a.assignee)
    ready = "arrived" if a.onsite else "signed"
    if not _may_work(o, a) or not a.active or a.status != ready:
        key = (
            "arrive_first"
            if (a.onsite and a.status == "signed")
            else ("sign_first" if a.status == "dispatched" else "not_working")
        )
        raise _refuse(o, ev.kind, key, assignee=a.assignee)
    if p.get("result") not in RESULTS:
        raise _refuse(o, ev.kind, "bad_result")
    a.status, a.fed_back_at, a.result, a.feedback_text = "fed_back", at, p["result"], p.get("text", "")
    a.photos = [dict(ph) for ph in p.get("photos") or []]
    _note_overdue(o, a, a.feedback_due, at)


def _h_hand(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    a = _target(o, ev)
    if not _may_work(o, a) or not a.active or a.status in ("fed_back", "returned"):
        raise _refuse(o, ev.kind, "not_working", assignee=a.assignee)
    if a.holder == p["person"]:
        raise _refuse(o, ev.kind, "already_held", redundant=True, assignee=a.assignee)
    a.holder, a.holder_name = p["person"], p["name"]


def _h_return(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    a = _target(o, ev)
    if a.role == "police":
        raise _refuse(o, ev.kind, "police_cannot_return")
    if a.status == "returned":
        raise _refuse(o, ev.kind, "already_returned", redundant=True, assignee=a.assignee)
    # A co-unit returns its part (the order goes on without it); the lead unit's return waits for a reassignment.
    if not _may_work(o, a) or not a.active or a.status not in ("dispatched", "signed"):
        raise _refuse(o, ev.kind, "return_too_late")
    a.status, a.active, a.returned_at, a.return_reason = "returned", False, at, p.get("reason", "")


def _h_reassign(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    if o.status != Status.RETURNED:
        raise _refuse(o, ev.kind, "reassign_needs_return")
    data = p["assignment"]
    if data["assignee"] == o.primary.assignee:
        raise _refuse(o, ev.kind, "reassign_same", assignee=data["assignee"])
    o.assignments.append(_new_assignment(data, at, o.onsite, len(o.assignments) + 1))


def _h_extend(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    a = _target(o, ev)
    if a.ext_status == "pending":
        raise _refuse(o, ev.kind, "extension_pending", redundant=True)
    if not _may_work(o, a) or not a.active or a.status not in ("signed", "arrived"):
        raise _refuse(o, ev.kind, "extend_needs_work")
    if at >= a.feedback_due:
        raise _refuse(o, ev.kind, "extend_too_late")
    a.ext_status, a.ext_hours, a.ext_reason = "pending", int(p["hours"]), p.get("reason", "")


def _h_decide_extension(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    a = _target(o, ev)
    if a.ext_status in ("approved", "refused"):
        raise _refuse(o, ev.kind, "extension_decided", redundant=True)
    if a.ext_status != "pending":
        raise _refuse(o, ev.kind, "no_extension")
    if ev.kind == Action.APPROVE_EXTENSION:
        a.ext_status = "approved"
        a.feedback_due = from_db(p["feedback_due"])
    else:
        a.ext_status = "refused"


def _h_escalate(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    if not o.overdue_at(at):
        raise _refuse(o, ev.kind, "not_overdue")
    o.escalations += 1
    o.last_escalated_at = at


def _h_visit(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    if o.status in (Status.VISITED, Status.CLOSED) and o.satisfaction == p.get("satisfaction"):
        raise _refuse(o, ev.kind, "already_visited", redundant=True)
    if o.status != Status.FED_BACK:
        raise _refuse(o, ev.kind, "visit_needs_feedback")
    if p.get("satisfaction") not in SATISFACTIONS:
        raise _refuse(o, ev.kind, "bad_satisfaction")
    o.visited_at, o.satisfaction, o.visit_note = at, p["satisfaction"], p.get("note", "")


def _h_reopen(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    unsatisfied = o.status == Status.VISITED and o.satisfaction == "unsatisfied"
    unresolved = o.status == Status.FED_BACK and o.primary.result == "unresolved"
    if not (unsatisfied or unresolved):
        raise _refuse(o, ev.kind, "reopen_needs_unsatisfied")
    a = o.primary
    a.status = "arrived" if a.onsite else "signed"
    a.fed_back_at, a.result, a.feedback_text = None, None, None
    a.feedback_due = from_db(p["feedback_due"])
    a.window_start = at
    a.ext_status = a.ext_hours = a.ext_reason = None
    o.visited_at = None
    o.reopen_count += 1
    if unsatisfied:
        o.redo_count += 1


def _h_close(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    if o.status == Status.CLOSED:
        raise _refuse(o, ev.kind, "already_closed", redundant=True)
    if o.status != Status.VISITED:
        raise _refuse(o, ev.kind, "close_needs_visit")
    o.closed_at = at


def _h_cancel(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    if o.status == Status.CANCELLED:
        raise _refuse(o, ev.kind, "already_cancelled", redundant=True)
    if o.status not in WORKING_STATUSES:
        raise _refuse(o, ev.kind, "cancel_too_late")
    o.cancelled_at, o.cancel_reason = at, p.get("reason", "")


def _h_link(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    call_id = p["call"]["id"]
    if any(c.id == call_id for c in o.linked_calls):
        raise _refuse(o, ev.kind, "already_linked", redundant=True)
    if o.status in (Status.CLOSED, Status.CANCELLED):
        raise _refuse(o, ev.kind, "link_needs_open")
    o.linked_calls.append(CallInfo.from_payload(p["call"], ev.desk))


def _h_judge_return(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    a = _target(o, ev)
    if a.status != "returned":
        raise _refuse(o, ev.kind, "judge_needs_return")
    justified = bool(p["justified"])
    if a.return_justified is justified:
        raise _refuse(o, ev.kind, "already_judged", redundant=True)
    a.return_justified = justified


def _h_note(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    """A progress note (internal, or to tell the caller): on the timeline, no change of state."""
    if not str(p.get("text", "")).strip():
        raise _refuse(o, ev.kind, "note_empty")
    if p.get("visibility") not in VISIBILITIES:
        raise _refuse(o, ev.kind, "bad_visibility")
    o.notes += 1


def _h_urge(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    """An urge (催办) to an assignee whose deadline has passed: recorded and counted, no change of state."""
    a = _target(o, ev)
    pending = a.pending_deadline() if _may_work(o, a) else None
    if pending is None or pending[1] >= at:
        raise _refuse(o, ev.kind, "urge_needs_overdue", assignee=a.assignee)
    o.urges += 1
    o.last_urged_at = at


# ---- merge and split ------------------------------------------------------------------------------
#
# A merge is one step on several orders, so it is one event on each (all with the same ``merge`` id, written in
# one transaction): first ``merged`` on the surviving order, then ``merge-into`` on each absorbed one. Each
# order's own events decide its state, replayed in server order like every other event:
#
# * ``merge-into`` takes only on an order still being worked (dispatched, signed, arrived, returned), not merged
#   already and holding no absorbed orders itself. Two desks merging the same order offline: the first
#   ``merge-into`` in server order takes, the other is a conflict (redundant when it names the same target).
# * ``merged`` on the survivor only records what the merging desk asked for; it is never refused for the
#   survivor's state. Whether an absorbed order really is merged is its own ``merge-into``'s outcome; the
#   store shows only the absorbed orders whose merge took (``OrderStore.merged_calls``).
# * Because ``merged`` comes first and an order holding absorbed orders cannot be merged, two desks merging
#   A into B and B into A offline cannot both take: whichever of the two merges reached the server first
#   wins on both orders, the other is a conflict on the order it would have absorbed. (With ``merged`` after
#   ``merge-into`` an interleaving of the two desks' pushes could take both.)
# * ``unmerge`` on the absorbed order, then ``unmerged`` on the survivor, undo one absorbed order.
# * ``split`` on the parent records its children, never refused for the parent's state either: the children
#   are orders of their own (each a dispatch with ``parent``), written in the same transaction, and take
#   whatever happened to the parent meanwhile. "The parent cannot close while a child is open" is checked
#   by the store when a desk closes it (a cross-order rule; the parent's events do not see its children's).


def _note_parent(o: OrderState, p: dict[str, Any]) -> None:
    parent = p.get("parent")
    if isinstance(parent, dict):
        o.parent = (str(parent["id"]), str(parent["order_no"]))


def _h_merge_into(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    merge, into = str(p["merge"]), str(p["into"])
    if o.merge is not None:
        same = o.merge.merge == merge or o.merge.into == into
        raise _refuse(o, ev.kind, "already_merged", redundant=same, order_no=o.merge.into_no)
    if into == o.id:
        raise _refuse(o, ev.kind, "merge_self")
    if o.absorbed:
        raise _refuse(o, ev.kind, "merge_holds_others", count=len(o.absorbed))
    if not _is_open_for_work(o):
        raise _refuse(o, ev.kind, "merge_needs_open")
    reason = str(p.get("reason") or "")
    for a in o.active_assignments:
        a.active, a.withdrawn = False, merge
    o.merge = MergeLink(merge, into, str(p["into_no"]), at, reason)
    o.cancelled_at, o.cancel_reason = at, reason


def _h_merged(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    merge = str(p["merge"])
    if any(x.merge == merge for x in o.absorbed):
        raise _refuse(o, ev.kind, "already_merged_here", redundant=True)
    fresh = []
    for item in p["orders"]:
        if item["id"] == o.id:
            raise _refuse(o, ev.kind, "merge_self")
        if not any(x.order_id == item["id"] for x in o.absorbed):
            fresh.append(
                Absorbed(merge, str(item["id"]), str(item["order_no"]), CallInfo.from_payload(item["call"], ev.desk))
            )
    if not fresh:
        raise _refuse(o, ev.kind, "already_merged_here", redundant=True)
    o.absorbed.extend(fresh)


def _h_unmerge(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    merge = str(p["merge"])
    if o.merge is None or o.merge.merge != merge:
        raise _refuse(o, ev.kind, "not_merged", redundant=merge in o.unmerged)
    dues = {k: from_db_opt(p.get(k)) for k in ("sign_due", "arrive_due", "feedback_due")}
    for a in o.assignments:
        if a.withdrawn == merge:
            a.active, a.withdrawn, a.window_start = True, None, at
            a.sign_due = dues["sign_due"] or a.sign_due
            a.arrive_due = dues["arrive_due"] or a.arrive_due
            a.feedback_due = dues["feedback_due"] or a.feedback_due
    o.merge = None
    o.unmerged = (*o.unmerged, merge)
    o.cancelled_at = o.cancel_reason = None


def _h_unmerged(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    order_id = str(p["order_id"])  # whichever merge recorded it: the order is no longer merged into this one
    kept = [x for x in o.absorbed if x.order_id != order_id]
    if len(kept) == len(o.absorbed):
        raise _refuse(o, ev.kind, "not_merged_here", redundant=True)
    o.absorbed = kept


def _h_split(o: OrderState, ev: Event, at: datetime, p: dict[str, Any]) -> None:
    split = str(p["split"])
    if any(c.split == split for c in o.children):
        raise _refuse(o, ev.kind, "already_split", redundant=True)
    children = [Child(split, str(c["id"]), str(c["order_no"]), str(c["assignee"])) for c in p["children"]]
    if not children or any(c.order_id == o.id for c in children):
        raise _refuse(o, ev.kind, "bad_split")
    o.children.extend(children)


_HANDLERS: dict[str, Callable[..., None]] = {  # keyed by the event kind, a str (Action is a StrEnum)
    Action.SIGN: _h_sign,
    Action.ARRIVE: _h_arrive,
    Action.FEEDBACK: _h_feedback,
    Action.RETURN: _h_return,
    Action.REASSIGN: _h_reassign,
    Action.EXTEND: _h_extend,
    Action.APPROVE_EXTENSION: _h_decide_extension,
    Action.REFUSE_EXTENSION: _h_decide_extension,
    Action.ESCALATE: _h_escalate,
    Action.VISIT: _h_visit,
    Action.REOPEN: _h_reopen,
    Action.CLOSE: _h_close,
    Action.CANCEL: _h_cancel,
    Action.LINK: _h_link,
    Action.JUDGE_RETURN: _h_judge_return,
    Action.HAND: _h_hand,
    Action.NOTE: _h_note,
    Action.URGE: _h_urge,
    Action.MERGE_INTO: _h_merge_into,
    Action.MERGED: _h_merged,
    Action.UNMERGE: _h_unmerge,
    Action.UNMERGED: _h_unmerged,
    Action.SPLIT: _h_split,
}

KNOWN_KINDS = frozenset({Action.DISPATCH, *_HANDLERS})


MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)


@dataclass
class Replayed:
    state: OrderState | None
    statuses: dict[str, str]  # event id -> applied | redundant | conflict | unknown
    reasons: dict[str, str]  # event id -> the refusal message for conflicts


def step(state: OrderState | None, ev: Event) -> tuple[OrderState | None, str, str | None]:
    """Apply one event to a copy of ``state``: (new state, applied | redundant | conflict | unknown, reason).

    ``state`` itself is never modified; an illegal event leaves it as it was.
    """
    return step_with(apply, state, ev)


S = TypeVar("S")


def step_with(apply_fn: Callable[[Any, Event], S], state: Any, ev: Event) -> tuple[Any, str, str | None]:
    """:func:`step` for any state with a ``clone()`` and its ``apply_fn`` (orders here; warnings, cases and notices
    in models/governance.py): an illegal or malformed event leaves ``state`` as it was and says why."""
    try:
        trial = state.clone() if state is not None else None
        return apply_fn(trial, ev), "applied", None
    except Redundant as exc:
        return state, "redundant", str(exc)
    except DomainError as exc:
        return state, "unknown" if exc.reason == "unknown_kind" else "conflict", str(exc)
    except MALFORMED as exc:  # a payload no validation let through (stored before there was one): a conflict
        return state, "conflict", t("error.malformed_event", kind=str(ev.kind)[:40], error=type(exc).__name__)


def replay(events: list[Event]) -> Replayed:
    """Fold events in the given order; an illegal event is marked and skipped, never dropped from the log."""
    # Fast path: when every event applies (the usual case), fold in place without copying the state before
    # each event. Handlers keep only scalars from payloads, so the result is the same as the careful path.
    state: OrderState | None = None
    try:
        for ev in events:
            state = apply(state, ev)
    except (DomainError, *MALFORMED):
        pass  # some event is refused: start again, copying the state so a refused event leaves no trace
    else:
        return Replayed(state, {ev.id: "applied" for ev in events}, {})
    state = None
    statuses: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for ev in events:
        state, status, reason = step(state, ev)
        statuses[ev.id] = status
        if reason is not None:
            reasons[ev.id] = reason
    return Replayed(state, statuses, reasons)


class Fold:
    """One order's state folded forward event by event, changed in place (no copy per event).

    The state given is copied once, on the first event, so the caller's object is never changed; each event
    is then applied in place. When an event is refused (illegal, redundant, malformed) the half-applied
    working copy is thrown away and rebuilt from that first copy and the events applied since, and the
    refused event is answered exactly as :func:`step_with` answers it. So ``Fold(s).step(e)`` gives what
    ``step(s, e)`` gives, event after event, and copies only when an event is refused.
    """

    __slots__ = ("_apply", "_base", "_fresh", "_since", "state")

    def __init__(self, state: Any = None, apply_fn: Callable[[Any, Event], Any] = apply) -> None:
        self.state = state
        self._apply = apply_fn
        self._base: Any = None
        self._fresh = True  # no copy taken yet: self.state is the caller's object
        self._since: list[Event] = []

    def step(self, ev: Event) -> tuple[Any, str, str | None]:
        """(state after ``ev``, applied | redundant | conflict | unknown, reason): as :func:`step`."""
        if self._fresh:
            self._base = self.state
            self.state = self.state.clone() if self.state is not None else None
            self._since = []
            self._fresh = False
        try:
            self.state = self._apply(self.state, ev)
        except (DomainError, *MALFORMED):
            state = self._base.clone() if self._base is not None else None
            for done in self._since:  # the working copy may be half-changed: rebuild it
                state = self._apply(state, done)
            self.state = state
            self._fresh = True  # the next event copies again; self.state is never handed to apply again
            return step_with(self._apply, state, ev)
        self._since.append(ev)
        return self.state, "applied", None


# ---- building events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intent:
    """What a person asked for: an action on an order, with the details that action needs."""

    action: Action
    assignee: str | None = None  # which assignment (code, or ZZ/GA/dept); default: the department's
    note: str = ""
    result: str | None = None
    satisfaction: str | None = None
    to: str | None = None  # reassign: the new department code
    hours: int | None = None  # extension hours
    justified: bool | None = None  # judge-return
    visibility: str | None = None  # note: internal | caller


def deadlines(ref: Reference, tag_code: str, at: datetime) -> dict[str, str | None]:
    tag = ref.tags.get(tag_code) or ref.tag(tag_code)
    return {
        "sign_due": to_db(at + timedelta(minutes=tag.sign_min)),
        "arrive_due": to_db_opt(at + timedelta(minutes=tag.arrive_min) if tag.arrive_min else None),
        "feedback_due": to_db(at + timedelta(hours=tag.feedback_h)),
    }


def dispatch_payload(
    ref: Reference,
    *,
    order_no: str,
    route: Route,
    call: CallInfo,
    at: datetime,
    assignment_ids: list[str],
    override_reason: str | None = None,
    repeat_of: str | None = None,
) -> dict[str, Any]:
    tag = ref.tag(route.tag)
    dues = deadlines(ref, tag.code, at)
    assignments = []
    for asg_id, who in zip(assignment_ids, route.assignees, strict=True):
        assignments.append(
            {"id": asg_id, "role": who.role, "assignee": who.code, "dept": who.dept, "town": who.town, **dues}
        )
    out: dict[str, Any] = {
        "order_no": order_no,
        "tag": tag.code,
        "category": tag.category,
        "town": route.town,
        "mode": route.mode,
        "onsite": tag.onsite,
        "one_team": route.one_team,
        "call": call.to_payload(),
        "override": {"dept": route.primary.code, "reason": override_reason} if route.overridden else None,
        "repeat_of": repeat_of,
        "assignments": assignments,
    }
    if route.rule is not None:  # grassroots routing: only then, so other orders' events are as before
        out["rule"] = route.rule.key
    if route.informed:
        out["informed"] = [who.code for who in route.informed]
    return out


def pick_assignment(o: OrderState, action: Action, assignee: str | None) -> AssignmentState:
    """The assignment an action targets: the one named, else the one the action can only mean."""
    if assignee:
        code = assignee.strip().upper()
        candidates = [a for a in o.assignments if a.active or action == Action.JUDGE_RETURN]
        for a in reversed(candidates):
            if code in (a.assignee, a.dept) or (code == "POLICE" and a.role == "police"):
                return a
        options = ", ".join(a.assignee for a in o.active_assignments) or "-"
        raise ValidationError(
            t("error.no_assignee_on_order", order_no=o.order_no, assignee=assignee, options=options), field="assignee"
        )
    if action in (Action.APPROVE_EXTENSION, Action.REFUSE_EXTENSION):
        pending = [a for a in o.active_assignments if a.ext_status == "pending"]
        if pending:
            return pending[0]
    if action == Action.JUDGE_RETURN:
        returned = [a for a in o.assignments if a.status == "returned"]
        if returned:
            return returned[-1]
    if action == Action.URGE:
        nxt = o.next_deadline()  # the assignment whose deadline came first (the longest overdue)
        if nxt is not None:
            return o.assignment(nxt[3])
    return o.primary


# The actions whose payload :func:`build` makes from the intent alone (not from the order, the time or the
# reference data): a caller building many such events may build the first one for an intent and reuse its
# kind and payload for the others (the demo generator does; tests/test_machine.py checks the claim).
INTENT_PAYLOADS = frozenset(
    {
        Action.SIGN,
        Action.ARRIVE,
        Action.FEEDBACK,
        Action.RETURN,
        Action.CANCEL,
        Action.EXTEND,
        Action.REFUSE_EXTENSION,
        Action.ESCALATE,
        Action.VISIT,
        Action.CLOSE,
        Action.JUDGE_RETURN,
        Action.NOTE,
        Action.URGE,
    }
)


def build(
    ref: Reference,
    o: OrderState,
    intent: Intent,
    *,
    event_id: str,
    at: datetime,
    desk: str,
    actor: str,
    recorded_at: datetime,
    new_assignment_id: str | None = None,
    check: bool = True,
) -> Event:
    """Build the event for ``intent`` on ``o`` and check it by applying it to a copy of ``o``.

    Raises :class:`ValidationError` for missing or malformed details, :class:`DomainError` for an action the
    state machine refuses. Returns the event, ready to store. ``check=False`` skips the trial application
    (for callers that apply the event to ``o`` next, which checks it anyway).
    """
    action = Action(intent.action)
    payload: dict[str, Any] = {}
    assignment_id: str | None = None
    if action in ASSIGNMENT_ACTIONS:
        assignment_id = pick_assignment(o, action, intent.assignee).id
    note = intent.note.strip()
    if action == Action.FEEDBACK:
        if intent.result not in RESULTS:
            raise ValidationError(t("error.need_result"), field="result")
        if not note:
            raise ValidationError(t("error.need_feedback_text"), field="note")
        payload = {"result": intent.result, "text": note}
    elif action in (Action.RETURN, Action.CANCEL):
        if not note:
            raise ValidationError(t("error.need_reason", action=t(f"action.{action}")), field="note")
        payload = {"reason": note}
    elif action == Action.REASSIGN:
        if not intent.to:
            raise ValidationError(t("error.need_to"), field="to")
        town = ref.town(o.town)
        who, _ = department_assignee(ref, intent.to, town, pilot=False)
        if who.dept == "GA":
            raise ValidationError(t("error.override_police"), field="to")
        payload = {
            "assignment": {
                "id": new_assignment_id,
                "role": "primary",
                "assignee": who.code,
                "dept": who.dept,
                "town": who.town,
                **deadlines(ref, o.tag, at),
            },
            "reason": note,
        }
    elif action == Action.EXTEND:
        hours = intent.hours or DEFAULT_EXTENSION_HOURS
        if not 1 <= hours <= MAX_EXTENSION_HOURS:
            raise ValidationError(t("error.bad_hours", hours=hours, limit=MAX_EXTENSION_HOURS), field="hours")
        if not note:
            raise ValidationError(t("error.need_reason", action=t(f"action.{action}")), field="note")
        payload = {"hours": hours, "reason": note}
    elif action == Action.APPROVE_EXTENSION:
        a = o.assignment(assignment_id) if assignment_id else o.primary
        hours = a.ext_hours or DEFAULT_EXTENSION_HOURS
        payload = {"feedback_due": to_db(a.feedback_due + timedelta(hours=hours)), "note": note}
    elif action == Action.REFUSE_EXTENSION:
        payload = {"reason": note}
    elif action == Action.ESCALATE:
        if not note:
            raise ValidationError(t("error.need_escalation_note"), field="note")
        payload = {"note": note}
    elif action == Action.VISIT:
        if intent.satisfaction not in SATISFACTIONS:
            raise ValidationError(t("error.need_satisfaction"), field="satisfaction")
        payload = {"satisfaction": intent.satisfaction, "note": note}
    elif action == Action.REOPEN:
        tag = ref.tag(o.tag)
        payload = {"reason": note, "feedback_due": to_db(at + timedelta(hours=tag.feedback_h))}
    elif action == Action.CLOSE:
        payload = {"note": note}
    elif action == Action.JUDGE_RETURN:
        if intent.justified is None:
            raise ValidationError(t("error.need_justified"), field="justified")
        payload = {"justified": bool(intent.justified), "note": note}
    elif action == Action.NOTE:
        if not note:
            raise ValidationError(t("error.need_note_text"), field="note")
        visibility = intent.visibility or "internal"
        if visibility not in VISIBILITIES:
            raise ValidationError(t("error.bad_visibility", value=visibility), field="visibility")
        payload = {"text": note, "visibility": visibility}
    elif action == Action.URGE:
        payload = {"note": note} if note else {}
    elif action == Action.SIGN or action == Action.ARRIVE:
        payload = {"note": note} if note else {}
    else:
        raise ValidationError(t("error.unknown_action", action=str(intent.action)), field="action")
    ev = Event(
        id=event_id,
        order_id=o.id,
        kind=str(action),
        event_at=at,
        recorded_at=recorded_at,
        desk=desk,
        actor=actor,
        assignment_id=assignment_id,
        payload=payload,
    )
    if check:
        apply(o.clone(), ev)  # raises if illegal
    return ev


def link_event(
    o: OrderState, call: CallInfo, *, event_id: str, at: datetime, desk: str, actor: str, recorded_at: datetime
) -> Event:
    ev = Event(
        id=event_id,
        order_id=o.id,
        kind=str(Action.LINK),
        event_at=at,
        recorded_at=recorded_at,
        desk=desk,
        actor=actor,
        payload={"call": call.to_payload()},
    )
    apply(o.clone(), ev)
    return ev


def legal_actions(o: OrderState, at: datetime) -> list[tuple[Action, str | None]]:
    """Every (action, assignment id) the state machine allows now, ignoring desk roles.

    Used to offer exactly the actions that would succeed. Actions needing details are probed with
    placeholder details.
    """
    out: list[tuple[Action, str | None]] = []
    probe_due = to_db(at + timedelta(hours=1))
    for action in USER_ACTIONS:
        targets: list[str | None]
        if action in ASSIGNMENT_ACTIONS:
            pool = o.assignments if action == Action.JUDGE_RETURN else o.active_assignments
            targets = [a.id for a in pool]
        else:
            targets = [None]
        for target in targets:
            payload: dict[str, Any] = {
                "result": "resolved",
                "text": "-",
                "reason": "-",
                "hours": 1,
                "note": "-",
                "satisfaction": "satisfied",
                "feedback_due": probe_due,
                "justified": True,
                "visibility": "internal",
            }
            if action == Action.NOTE:
                payload = {"text": "-", "visibility": "internal"}
            if action == Action.REASSIGN:
                payload["assignment"] = {
                    "id": "probe",
                    "role": "primary",
                    "assignee": "PROBE",
                    "dept": "PROBE",
                    "town": None,
                    "sign_due": probe_due,
                    "arrive_due": probe_due,
                    "feedback_due": probe_due,
                }
            if action == Action.JUDGE_RETURN and target is not None:
                current = o.assignment(target).return_justified
                payload["justified"] = not current if current is not None else True
            ev = Event(
                id="probe",
                order_id=o.id,
                kind=str(action),
                event_at=at,
                recorded_at=at,
                desk="",
                actor="",
                assignment_id=target,
                payload=payload,
            )
            try:
                apply(o.clone(), ev)
            except DomainError:
                continue
            out.append((action, target))
    return out
