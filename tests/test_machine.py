"""The order state machine, table-driven: every (state, action) pair is either legal or refused with a
message naming the order, its state and the action."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from itertools import count

import pytest

from fengqiao.models.clock import UTC
from fengqiao.models.errors import DomainError, Redundant, ValidationError
from fengqiao.models.machine import (
    INTENT_PAYLOADS,
    Action,
    CallInfo,
    Event,
    Intent,
    OrderState,
    Status,
    apply,
    build,
    dispatch_payload,
    legal_actions,
    replay,
)
from fengqiao.models.reference import default_reference
from fengqiao.models.routing import route

T0 = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
REF = default_reference()
_ids = count(1)


def _id() -> str:
    return f"id-{next(_ids)}"


def new_order(tag: str = "B01", town: str = "SHH", mode: str | None = None, at: datetime = T0) -> OrderState:
    plan = route(REF, tag, town, mode=mode)
    call = CallInfo(_id(), "13857512345", "", town, "人民路1号", "买到假货", at, "desk")
    payload = dispatch_payload(
        REF, order_no="SZ-20261128-0001", route=plan, call=call, at=at, assignment_ids=[_id() for _ in plan.assignees]
    )
    ev = Event(_id(), "order-1", "dispatch", at, at, "desk", "tester", payload=payload)
    return apply(None, ev)


def do(o: OrderState, action: Action, minutes: float = 1, **kw) -> OrderState:
    at = (o.updated_at or T0) + timedelta(minutes=minutes)
    ev = build(
        REF,
        o,
        Intent(action, **kw),
        event_id=_id(),
        at=at,
        desk="desk",
        actor="t",
        recorded_at=at,
        new_assignment_id=_id(),
    )
    return apply(o, ev)


def in_state(name: str) -> OrderState:
    """An onsite single-dispatch order (B01) brought to the named state."""
    o = new_order()
    steps = {
        "dispatched": [],
        "signed": [(Action.SIGN, {})],
        "arrived": [(Action.SIGN, {}), (Action.ARRIVE, {})],
        "extension_pending": [(Action.SIGN, {}), (Action.EXTEND, {"note": "需协调", "hours": 12})],
        "fed_back": [(Action.SIGN, {}), (Action.ARRIVE, {}), (Action.FEEDBACK, {"result": "resolved", "note": "好"})],
        "fed_back_unresolved": [
            (Action.SIGN, {}),
            (Action.ARRIVE, {}),
            (Action.FEEDBACK, {"result": "unresolved", "note": "未果"}),
        ],
        "visited": [
            (Action.SIGN, {}),
            (Action.ARRIVE, {}),
            (Action.FEEDBACK, {"result": "resolved", "note": "好"}),
            (Action.VISIT, {"satisfaction": "satisfied"}),
        ],
        "visited_unsatisfied": [
            (Action.SIGN, {}),
            (Action.ARRIVE, {}),
            (Action.FEEDBACK, {"result": "resolved", "note": "好"}),
            (Action.VISIT, {"satisfaction": "unsatisfied"}),
        ],
        "closed": [
            (Action.SIGN, {}),
            (Action.ARRIVE, {}),
            (Action.FEEDBACK, {"result": "resolved", "note": "好"}),
            (Action.VISIT, {"satisfaction": "satisfied"}),
            (Action.CLOSE, {}),
        ],
        "returned": [(Action.RETURN, {"note": "非本单位职责"})],
        "cancelled": [(Action.CANCEL, {"note": "报警人撤回"})],
    }[name]
    for action, kw in steps:
        o = do(o, action, **kw)
    return o


# Details each action needs, so that only the state decides.
DETAILS = {
    Action.SIGN: {},
    Action.ARRIVE: {},
    Action.FEEDBACK: {"result": "resolved", "note": "处理完毕"},
    Action.RETURN: {"note": "非本单位"},
    Action.REASSIGN: {"to": "ZJJ"},
    Action.EXTEND: {"note": "需协调", "hours": 24},
    Action.APPROVE_EXTENSION: {},
    Action.REFUSE_EXTENSION: {"note": "不同意"},
    Action.ESCALATE: {"note": "请尽快"},
    Action.VISIT: {"satisfaction": "satisfied"},
    Action.REOPEN: {"note": "重办"},
    Action.CLOSE: {},
    Action.CANCEL: {"note": "撤回"},
    Action.JUDGE_RETURN: {"justified": False},
}

S, A, F, R, RA, E, AE, RE, ES, V, RO, C, CA, J = (
    Action.SIGN,
    Action.ARRIVE,
    Action.FEEDBACK,
    Action.RETURN,
    Action.REASSIGN,
    Action.EXTEND,
    Action.APPROVE_EXTENSION,
    Action.REFUSE_EXTENSION,
    Action.ESCALATE,
    Action.VISIT,
    Action.REOPEN,
    Action.CLOSE,
    Action.CANCEL,
    Action.JUDGE_RETURN,
)

# The legal actions in each state, one minute after the previous event (nothing is overdue yet).
LEGAL = {
    "dispatched": {S, R, CA},
    "signed": {A, R, E, CA},
    "arrived": {F, E, CA},
    "extension_pending": {A, R, AE, RE, CA},
    "fed_back": {V},
    "fed_back_unresolved": {V, RO},
    "visited": {C},
    "visited_unsatisfied": {C, RO},
    "closed": set(),
    "returned": {RA, CA, J},
    "cancelled": set(),
}
EXPECTED_STATUS = {
    "dispatched": Status.DISPATCHED,
    "signed": Status.SIGNED,
    "arrived": Status.ARRIVED,
    "extension_pending": Status.SIGNED,
    "fed_back": Status.FED_BACK,
    "fed_back_unresolved": Status.FED_BACK,
    "visited": Status.VISITED,
    "visited_unsatisfied": Status.VISITED,
    "closed": Status.CLOSED,
    "returned": Status.RETURNED,
    "cancelled": Status.CANCELLED,
}
PAIRS = [(state, action) for state in LEGAL for action in DETAILS]


@pytest.mark.parametrize(("state", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_every_state_action_pair(state: str, action: Action) -> None:
    o = in_state(state)
    assert o.status == EXPECTED_STATUS[state]
    before = copy.deepcopy(o)
    if action in LEGAL[state]:
        after = do(copy.deepcopy(o), action, **DETAILS[action])
        assert after.updated_at > before.updated_at
    else:
        with pytest.raises(DomainError) as err:
            do(o, action, **DETAILS[action])
        message = str(err.value)
        assert o.order_no in message
        assert err.value.state == str(before.status)
        assert err.value.action == str(action)
        assert o == before, "a refused action must not change the order"


def test_legal_actions_matches_the_table() -> None:
    for state, legal in LEGAL.items():
        o = in_state(state)
        offered = {a for a, _ in legal_actions(o, o.updated_at + timedelta(minutes=1))}
        assert offered == legal | {Action.NOTE}, state  # a progress note fits any order


def test_escalate_only_when_overdue() -> None:
    o = in_state("dispatched")
    tag = REF.tags["B01"]
    with pytest.raises(DomainError):
        do(o, Action.ESCALATE, minutes=tag.sign_min - 1, note="催")
    o = do(o, Action.ESCALATE, minutes=tag.sign_min + 1, note="超时未签收")
    assert o.escalations == 1
    assert o.status == Status.DISPATCHED


def test_arrive_only_for_site_visits() -> None:
    o = new_order(tag="D01")  # policy enquiry: handled by phone
    o = do(o, Action.SIGN)
    with pytest.raises(DomainError, match="无需到场"):
        do(o, Action.ARRIVE)
    o = do(o, Action.FEEDBACK, result="resolved", note="已电话答复")
    assert o.status == Status.FED_BACK


def test_dual_order_waits_for_both_assignments() -> None:
    o = new_order(tag="B02", town="LS")  # property dispute: dual by default
    assert o.mode == "dual" and o.police is not None
    assert [a.assignee for a in o.assignments] == ["ZJJ", "GA-LS"]
    o = do(o, Action.SIGN)  # the department signs
    assert o.status == Status.DISPATCHED  # the police station has not
    o = do(o, Action.SIGN, assignee="GA")
    assert o.status == Status.SIGNED
    o = do(o, Action.ARRIVE, assignee="GA")
    o = do(o, Action.ARRIVE)
    o = do(o, Action.FEEDBACK, result="resolved", note="已调解")
    assert o.status == Status.ARRIVED
    o = do(o, Action.FEEDBACK, assignee="GA", result="resolved", note="现场稳定")
    assert o.status == Status.FED_BACK and o.result == "resolved"


def test_return_then_reassign_gets_fresh_deadlines() -> None:
    o = do(in_state("returned"), Action.REASSIGN, minutes=30, to="SFJ")
    new = o.primary
    assert new.assignee == "SFJ" and new.status == "dispatched"
    assert new.sign_due == new.dispatched_at + timedelta(minutes=REF.tags["B01"].sign_min)
    assert o.status == Status.DISPATCHED
    assert [a.active for a in o.assignments] == [False, True]


def test_reassign_refuses_the_same_unit() -> None:
    with pytest.raises(DomainError):
        do(in_state("returned"), Action.REASSIGN, to="SCJG")


def test_extension_moves_the_feedback_deadline() -> None:
    o = in_state("extension_pending")
    due = o.primary.feedback_due
    o = do(o, Action.APPROVE_EXTENSION)
    assert o.primary.feedback_due == due + timedelta(hours=12)
    assert o.primary.feedback_due_original == due


def test_extension_refused_after_deadline() -> None:
    o = in_state("signed")
    with pytest.raises(DomainError):
        do(o, Action.EXTEND, minutes=24 * 60 + 5, note="来不及", hours=12)


def test_reopen_after_unsatisfied_visit_needs_new_feedback() -> None:
    o = do(in_state("visited_unsatisfied"), Action.REOPEN, note="群众不满意")
    assert o.status == Status.ARRIVED and o.reopen_count == 1
    assert o.primary.result is None and o.visited_at is None
    o = do(o, Action.FEEDBACK, result="resolved", note="再次处理")
    o = do(o, Action.VISIT, satisfaction="basic")
    o = do(o, Action.CLOSE)
    assert o.status == Status.CLOSED and o.satisfaction == "basic"


def test_missing_details_are_validation_errors() -> None:
    o = in_state("arrived")
    with pytest.raises(ValidationError):
        do(o, Action.FEEDBACK, result="resolved", note="")
    with pytest.raises(ValidationError):
        do(o, Action.FEEDBACK, result="maybe", note="x")
    with pytest.raises(ValidationError):
        do(in_state("dispatched"), Action.RETURN)


def test_late_actions_record_the_first_overdue_moment() -> None:
    o = in_state("dispatched")
    due = o.primary.sign_due
    o = do(o, Action.SIGN, minutes=60)
    assert o.first_overdue_at == due


def test_replay_marks_redundant_and_conflicting_events() -> None:
    o = new_order()
    dispatch = Event(
        "e1",
        o.id,
        "dispatch",
        T0,
        T0,
        "desk",
        "t",
        payload=dispatch_payload(
            REF, order_no=o.order_no, route=route(REF, "B01", "SHH"), call=o.call, at=T0, assignment_ids=[o.primary.id]
        ),
    )
    sign_a = Event("e2", o.id, "sign", T0 + timedelta(minutes=1), T0, "desk-a", "a", assignment_id=o.primary.id)
    sign_b = Event("e3", o.id, "sign", T0 + timedelta(minutes=2), T0, "desk-b", "b", assignment_id=o.primary.id)
    close = Event("e4", o.id, "close", T0 + timedelta(minutes=3), T0, "desk-c", "c")
    future = Event("e5", o.id, "teleport", T0 + timedelta(minutes=4), T0, "desk-d", "d")
    result = replay([dispatch, sign_a, sign_b, close, future])
    assert result.statuses == {"e1": "applied", "e2": "applied", "e3": "redundant", "e4": "conflict", "e5": "unknown"}
    assert result.state is not None and result.state.status == Status.SIGNED


def test_redundant_is_a_domain_error() -> None:
    with pytest.raises(Redundant):
        do(in_state("signed"), Action.SIGN)


@pytest.mark.parametrize("action", sorted(INTENT_PAYLOADS))
def test_intent_payloads_depend_on_the_intent_alone(action: Action) -> None:
    """INTENT_PAYLOADS (the demo reuses one payload per intent): build() gives the same kind and payload for the
    same intent on other orders, in other states, at other times; the other actions are not in the set because
    some of them do not (a reassignment's deadlines follow its time)."""
    details = {**DETAILS, Action.NOTE: {"note": "已电话联系", "visibility": "caller"}, Action.URGE: {"note": "请加快"}}
    intent = Intent(action, **details[action])
    made = []
    for o, minutes in ((new_order(), 1), (in_state("arrived"), 300), (new_order("C14", "HZ", mode="dual"), 4000)):
        at = T0 + timedelta(minutes=minutes)
        ev = build(REF, o, intent, event_id=_id(), at=at, desk="d", actor="d", recorded_at=at, check=False)
        made.append((ev.kind, ev.payload))
    assert made[0] == made[1] == made[2]
    # and a state-dependent action is not in the set: its payload moves with the time
    o = in_state("returned")
    reassigned = [
        build(
            REF,
            o,
            Intent(Action.REASSIGN, to="ZJJ", note="改派"),
            event_id=_id(),
            at=T0 + timedelta(hours=h),
            desk="d",
            actor="d",
            recorded_at=T0,
            new_assignment_id="a",
            check=False,
        ).payload
        for h in (1, 2)
    ]
    assert reassigned[0] != reassigned[1] and Action.REASSIGN not in INTENT_PAYLOADS
