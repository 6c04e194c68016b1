"""Desks and what each role may see and do. Pure rules, applied by the console, the CLI and the store alike.

* ``call_taker`` — intake (dispatch, link repeat calls) and every order; may cancel an order the caller
  withdrew and reassign a returned one.
* ``township`` — a town's governance centre: sees orders assigned to its centre and to its police
  station *for calls in its town* (a station serving several towns is shared, but each centre sees only its
  own town's share), acts on those assignments, and may dispatch orders in its own town (its unified team).
* ``department`` — sees only orders assigned to its department; signs, arrives, feeds back, returns and
  asks for extensions on its own assignments.

"Assigned to" means the order's *current* assignments: its department (the latest one, also while the
order is returned and waiting to be reassigned) and, on a dual order, the police station. A department that
returned an order stops seeing it once the order is reassigned elsewhere. The board's SQL
(:mod:`store.board`) applies the same rule.
* ``supervisor`` — sees everything; escalates, decides extensions, makes follow-up visits, reopens, closes
  and judges returns.

A desk with no role (``role=None``) is the local operator's tool: the CLI without ``--role`` uses it, and
it may do everything the state machine allows.
"""

from __future__ import annotations

from datetime import datetime

from .desk import Desk, Role, make_desk, shows_full_phone
from .errors import PermissionDenied
from .i18n import get_lang, t
from .machine import WORKING_STATUSES, Action, AssignmentState, OrderState, Status
from .reference import Reference

__all__ = [
    "Desk",
    "Role",
    "make_desk",
    "shows_full_phone",
]  # the desk itself is models/desk.py (light: the console's start needs it)


ASSIGNEE_WORK = frozenset({Action.SIGN, Action.ARRIVE, Action.FEEDBACK, Action.RETURN, Action.EXTEND})

# Merge and split (models/merging.py): a call-taker or a township centre (in its town) merges duplicate orders and
# splits one into child orders (a split dispatches, so only desks that may dispatch); a supervisor merges and
# undoes merges too.
MERGE_ACTIONS = frozenset({Action.MERGE_INTO, Action.MERGED, Action.UNMERGE, Action.UNMERGED})
SPLIT_ACTIONS = frozenset({Action.SPLIT})

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {  # every desk may add a progress note to what it sees
    Role.CALL_TAKER: frozenset(
        {Action.DISPATCH, Action.LINK, Action.CANCEL, Action.REASSIGN, Action.NOTE, Action.URGE}
    ),
    Role.TOWNSHIP: frozenset({Action.DISPATCH, Action.LINK, Action.NOTE, Action.HAND} | ASSIGNEE_WORK),
    Role.DEPARTMENT: ASSIGNEE_WORK | {Action.NOTE, Action.HAND},
    Role.SUPERVISOR: frozenset(
        {
            Action.NOTE,
            Action.URGE,
            Action.ESCALATE,
            Action.APPROVE_EXTENSION,
            Action.REFUSE_EXTENSION,
            Action.VISIT,
            Action.REOPEN,
            Action.CLOSE,
            Action.JUDGE_RETURN,
        }
    ),
}
ROLE_ACTIONS[Role.CALL_TAKER] |= MERGE_ACTIONS | SPLIT_ACTIONS
ROLE_ACTIONS[Role.TOWNSHIP] |= MERGE_ACTIONS | SPLIT_ACTIONS
ROLE_ACTIONS[Role.SUPERVISOR] |= MERGE_ACTIONS


def current_assignments(o: OrderState) -> list[AssignmentState]:
    """The order's current department assignment, on a dual order its police station's, and its co-handling
    units' (协办) that have not returned their part."""
    police = o.police
    return [o.primary] + ([police] if police else []) + [a for a in o.co_units if a.active]


def own_deadline(desk: Desk, ref: Reference, o: OrderState) -> tuple[str, datetime, datetime, str] | None:
    """The next deadline as ``desk`` sees it: (kind, due, window start, assignment id). A desk tied to assignees
    (a department, a township centre) sees only its own assignments' deadlines; the others the order's."""
    if desk.sees_all():
        return o.next_deadline()
    at_work = o.status in WORKING_STATUSES
    best: tuple[str, datetime, datetime, str] | None = None
    for a in o.active_assignments:
        if not desk.works_on(ref, a):
            continue
        if not at_work and (a.role != "co" or o.status in (Status.CLOSED, Status.CANCELLED)):
            continue  # a co-unit's part may still be due after the lead's feedback
        pending = a.pending_deadline()
        if pending and (best is None or pending[1] < best[1]):
            best = (pending[0], pending[1], a.window_start, a.id)
    return best


def can_see(desk: Desk, ref: Reference, o: OrderState) -> bool:
    if desk.sees_all():
        return True
    if o.informed and informed_of(desk, ref, o):
        return True
    # current_assignments(o), looked at in its order without building the list (the server asks per event)
    if desk.works_on(ref, o.primary):
        return True
    police = o.police
    if police is not None and desk.works_on(ref, police):
        return True
    return any(desk.works_on(ref, a) for a in o.co_units if a.active)


def informed_of(desk: Desk, ref: Reference, o: OrderState) -> bool:
    """Whether ``desk`` is told of ``o`` without an assignment (grassroots routing informs the township centre):
    it sees the order and may add notes; signing and the rest stay with the assignees."""
    codes = desk.assignee_codes(ref)
    if desk.role == Role.TOWNSHIP and o.town != desk.town:
        return False
    return any(code in codes for code in o.informed)


def can_take(
    desk: Desk,
    ref: Reference,
    o: OrderState | None,
    action: Action,
    target: AssignmentState | None = None,
    *,
    once_held: bool = False,
) -> bool:
    """Whether ``desk`` may take ``action`` on ``o`` (on assignment ``target`` for assignee work).

    ``once_held``: also when the order was this desk's before and is no longer. An offline desk acts on what it
    holds; meanwhile another desk may reassign the order away from it. When its event arrives the order is out
    of its scope, yet the desk broke no rule: the sync server keeps such an event (the state machine decides
    whether it still applies or is a conflict) instead of refusing it. Only a desk that worked on one of the
    order's assignments, current or past, qualifies, and assignee work must still target its own assignment.
    """
    if desk.role is None:
        return True
    if action not in ROLE_ACTIONS[desk.role]:
        return False
    if action == Action.DISPATCH:
        return True
    if o is None:
        return False
    if not can_see(desk, ref, o) and not (once_held and any(desk.works_on(ref, a) for a in o.assignments)):
        return False
    if (action in ASSIGNEE_WORK or action == Action.HAND) and desk.role in (Role.DEPARTMENT, Role.TOWNSHIP):
        return target is not None and desk.works_on(ref, target)
    return True


def check(desk: Desk, ref: Reference, o: OrderState, action: Action, target: AssignmentState | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``desk`` may take ``action`` on ``o`` (and ``target``)."""
    if not can_take(desk, ref, o, action, target):
        role = t(f"role.{desk.role}") if desk.role else "-"
        raise PermissionDenied(
            t("error.role_refused", desk=desk.name, role=role, action=t(f"action.{action}"), order_no=o.order_no),
            order_no=o.order_no,
            state=str(o.status),
            action=str(action),
            reason="role",
        )


def check_dispatch(desk: Desk, town_code: str, ref: Reference | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``desk`` may dispatch in ``town_code`` (named in the message when
    ``ref`` knows it: 剡湖街道（SHH）)."""
    if desk.role is None or desk.role == Role.CALL_TAKER:
        return
    if desk.role == Role.TOWNSHIP and desk.town == town_code:
        return
    role = t(f"role.{desk.role}")
    town = ref.towns.get(town_code) if ref is not None else None
    zh = get_lang() == "zh"
    where = (f"{town.name_zh}（{town_code}）" if zh else f"{town.name_en} ({town_code})") if town else town_code
    raise PermissionDenied(
        t("error.role_cannot_dispatch", desk=desk.name, role=role, town=where), action="dispatch", reason="role"
    )
