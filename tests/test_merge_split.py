"""Merge and split (issue 17 item 2): the store's steps, the replay rules, the parent that waits for its children."""

from __future__ import annotations

import itertools

import pytest

from fengqiao.models.errors import DomainError, FengqiaoError, ValidationError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent, Status, replay
from fengqiao.store.audit import verify
from fengqiao.store.orders import OrderStore
from fengqiao.store.projection import load_events

FORM = IntakeForm(phone="13857512345", town="SHH", description="店里买到假货，老板不给退", address="人民路1号")
FORM2 = IntakeForm(phone="13900000002", town="SHH", description="同一家店，我也买到假货", address="人民路1号")
FORM3 = IntakeForm(phone="13900000003", town="SHH", description="人民路那家店卖假货", address="人民路1号")


def three(store: OrderStore, clock):  # noqa: ANN001, ANN201
    a = store.dispatch(FORM, "B01")
    clock.advance(minutes=1)
    b = store.dispatch(FORM2, "B01")
    clock.advance(minutes=1)
    c = store.dispatch(FORM3, "B01", mode="dual")
    clock.advance(minutes=1)
    return a, b, c


def work_to_visit(store: OrderStore, order_no: str) -> None:
    store.act(order_no, Intent(Action.SIGN))
    if store.order(order_no).onsite:
        store.act(order_no, Intent(Action.ARRIVE))
    store.act(order_no, Intent(Action.FEEDBACK, result="resolved", note="已处理"))
    store.act(order_no, Intent(Action.VISIT, satisfaction="satisfied"))


def kinds(store: OrderStore, order_no: str) -> list[str]:
    state, events = store.order_with_events(order_no)
    return [e.kind for e in events]


def test_merge_withdraws_the_others_and_keeps_their_calls(store: OrderStore, clock) -> None:
    a, b, c = three(store, clock)
    store.act(b.order_no, Intent(Action.SIGN))
    result = store.merge(a.order_no, [b.order_no, c.order_no], reason="同一家店")
    assert {no for no, _ in result.withdrawn} == {b.order_no, c.order_no}
    assert len(result.withdrawn) == 3  # b's department, c's department and police station
    keep = store.order(a.order_no)
    assert keep.status == Status.DISPATCHED
    assert [x.order_no for x in store.merged_calls(keep)] == [b.order_no, c.order_no]
    assert [x.call.phone for x in store.merged_calls(keep)] == [FORM2.phone, FORM3.phone]
    for no in (b.order_no, c.order_no):
        gone = store.order(no)
        assert gone.status == Status.CANCELLED and gone.merge is not None and gone.merge.into_no == a.order_no
        assert gone.active_assignments == [] and gone.next_deadline() is None
        assert all(x.withdrawn == gone.merge.merge for x in gone.assignments)
        assert kinds(store, no)[-1] == "merge-into"
    assert kinds(store, a.order_no) == ["dispatch", "merged"]
    assert verify(store.db, clock=store.clock).faults == []


def test_undo_a_merge_gives_the_work_back_with_fresh_deadlines(store: OrderStore, clock) -> None:
    a, b, _c = three(store, clock)
    store.act(b.order_no, Intent(Action.SIGN))
    store.merge(a.order_no, [b.order_no], reason="重复")
    clock.advance(hours=5)  # past b's old deadlines
    back = store.unmerge(b.order_no, reason="不是同一件事")
    assert [o.order_no for o in back] == [b.order_no]
    again = store.order(b.order_no)
    assert again.status == Status.SIGNED and again.merge is None and again.cancelled_at is None
    primary = again.primary
    assert primary.active and primary.withdrawn is None and primary.window_start == clock()
    assert primary.feedback_due > clock() and not again.overdue_at(clock())
    assert store.merged_calls(store.order(a.order_no)) == []
    assert store.order(a.order_no).absorbed == []
    with pytest.raises(ValidationError, match=b.order_no):
        store.unmerge(b.order_no)  # nothing left to undo
    assert verify(store.db, clock=store.clock).faults == []


def test_unmerge_from_the_order_kept_lets_every_absorbed_order_go(store: OrderStore, clock) -> None:
    a, b, c = three(store, clock)
    store.merge(a.order_no, [b.order_no, c.order_no])
    back = store.unmerge(a.order_no, reason="合并错了")
    assert sorted(o.order_no for o in back) == sorted([b.order_no, c.order_no])
    assert store.order(b.order_no).status == Status.DISPATCHED
    assert store.order(c.order_no).police is not None and store.order(c.order_no).police.active
    assert store.order(a.order_no).absorbed == []


@pytest.mark.parametrize(
    ("keep", "others", "message"),
    [
        (0, [0], "写了两次"),
        (0, [1, 1], "写了两次"),
        (0, [], "至少一张"),
    ],
)
def test_bad_merges_are_refused_with_one_line(store: OrderStore, clock, keep, others, message) -> None:  # noqa: ANN001
    orders = three(store, clock)
    with pytest.raises(FengqiaoError, match=message) as exc:
        store.merge(orders[keep].order_no, [orders[i].order_no for i in others])
    assert "\n" not in str(exc.value)
    assert kinds(store, orders[0].order_no) == ["dispatch"]


def test_an_order_holding_merged_orders_cannot_be_merged_itself(store: OrderStore, clock) -> None:
    a, b, c = three(store, clock)
    store.merge(a.order_no, [b.order_no])
    with pytest.raises(DomainError, match="须先撤销合并"):
        store.merge(c.order_no, [a.order_no])
    with pytest.raises(ValidationError, match="已并入"):
        store.merge(b.order_no, [c.order_no])  # b is merged: it cannot be the order kept


def test_split_makes_child_orders_and_the_parent_waits_for_them(store: OrderStore, clock) -> None:
    a, _b, _c = three(store, clock)
    result = store.split(a.order_no, ["ZJJ", "SW"], reason="两个单位各管一部分")
    parent = store.order(a.order_no)
    assert [c.order_no for c in parent.children] == [c.order_no for c in result.children]
    assert [c.primary.assignee for c in result.children] == ["ZJJ", "SW"]
    for child in result.children:
        assert child.parent == (parent.id, parent.order_no)
        assert child.call.phone == parent.call.phone and child.call.id != parent.call.id
        assert child.tag == parent.tag and child.order_no.startswith("SZ-")
    assert [(no, unit, st) for no, unit, st in store.children(parent)] == [
        (result.children[0].order_no, "ZJJ", "dispatched"),
        (result.children[1].order_no, "SW", "dispatched"),
    ]
    # the parent is worked to a visit; it still cannot close while a child is open
    work_to_visit(store, a.order_no)
    parent = store.order(a.order_no)
    assert Action.CLOSE not in {act for act, _ in store.allowed(parent)}
    with pytest.raises(ValidationError, match=f"子工单 {result.children[0].order_no}"):
        store.act(a.order_no, Intent(Action.CLOSE))
    for child in result.children:
        work_to_visit(store, child.order_no)
        store.act(child.order_no, Intent(Action.CLOSE))
    assert Action.CLOSE in {act for act, _ in store.allowed(store.order(a.order_no))}
    assert store.act(a.order_no, Intent(Action.CLOSE)).status == Status.CLOSED
    assert verify(store.db, clock=store.clock).faults == []


def test_bad_splits_are_refused_with_one_line(store: OrderStore, clock) -> None:
    a, b, _c = three(store, clock)
    for units, message in [([], "--to"), (["NOPE"], "NOPE"), (["GA"], "派出所|police"), (["ZJJ", "zjj"], "ZJJ")]:
        with pytest.raises(FengqiaoError, match=message) as exc:
            store.split(a.order_no, units)
        assert "\n" not in str(exc.value)
    store.merge(a.order_no, [b.order_no])
    with pytest.raises(ValidationError, match="不能拆分"):
        store.split(b.order_no, ["ZJJ"])
    assert kinds(store, a.order_no) == ["dispatch", "merged"]


def test_a_split_child_may_go_to_a_grassroots_unit_of_the_orders_town(store: OrderStore, clock) -> None:
    a, _b, _c = three(store, clock)  # calls in 剡湖街道 (SHH)
    result = store.split(
        a.order_no, ["tj-shh-gs", "WG-SHH-GS-2", "SO-CQ-AX"], reason="社区调解、网格员和志愿者各管一块"
    )
    assert [(c.primary.assignee, c.primary.dept, c.primary.town) for c in result.children] == [
        ("TJ-SHH-GS", "TJ", "SHH"),
        ("WG-SHH-GS-2", "WG", "SHH"),
        ("SO-CQ-AX", "SO", "SHH"),
    ]
    for child in result.children:  # each grassroots unit works its child like any unit
        work_to_visit(store, child.order_no)
    assert verify(store.db, clock=store.clock).faults == []


def test_a_split_to_a_grassroots_unit_of_another_town_or_an_unknown_one_is_refused(store: OrderStore, clock) -> None:
    a, _b, _c = three(store, clock)
    before = kinds(store, a.order_no)
    for units, message in [
        (["TJ-HZ-QY"], "TJ-HZ-QY 不在剡湖街道"),  # 前岩村 is in 黄泽镇
        (["WG-HZ-QY-1"], "WG-HZ-QY-1 不在剡湖街道"),
        (["TJ-NOWHERE"], "未知单位「TJ-NOWHERE」"),
        (["TJ-SHH-GS", "tj-shh-gs"], "鼓山社区.*（TJ-SHH-GS）写了两次"),
    ]:
        with pytest.raises(ValidationError, match=message) as exc:
            store.split(a.order_no, units)
        assert "\n" not in str(exc.value)
    assert kinds(store, a.order_no) == before  # nothing written


# ---- the replay rule of concurrent merges --------------------------------------------------------


def _interleavings(x: list, y: list):  # noqa: ANN001, ANN202 - every merge of two sequences keeping their orders
    n = len(x) + len(y)
    for picks in itertools.combinations(range(n), len(x)):
        out, xi, yi = [], iter(x), iter(y)
        for i in range(n):
            out.append(next(xi) if i in picks else next(yi))
        yield out


def test_two_desks_merging_a_into_b_and_b_into_a_never_both_take(store: OrderStore, clock) -> None:
    """Whatever the server order of the two desks' events (each desk's own order kept), at most one merge
    takes: never a cycle, never two absorbed orders. When both ``merged`` events come before both ``merge-into``
    events, neither takes (two conflicts, nothing lost: the desks see them and merge again)."""
    a, b, _c = three(store, clock)
    with store.db.read() as conn:
        base = {o.id: load_events(conn, o.id) for o in (a, b)}
    sa, sb = store.order(a.order_no), store.order(b.order_no)
    from fengqiao.models.merging import Stamp, merge_events

    stamp = Stamp(clock(), clock(), "D1", "x")
    one = merge_events(sb, [sa], merge_id="m1", ids=["e1", "e2"], stamp=stamp, reason="")  # A into B
    two = merge_events(sa, [sb], merge_id="m2", ids=["e3", "e4"], stamp=stamp, reason="")  # B into A
    outcomes = {}
    for order in _interleavings(one, two):
        states = {oid: replay(base[oid] + [e for e in order if e.order_id == oid]).state for oid in base}
        merged = [s for s in states.values() if s.merge is not None]
        assert len(merged) <= 1, [e.id for e in order]
        for winner in merged:
            survivor = states[winner.merge.into]
            assert survivor.merge is None and any(x.order_id == winner.id for x in survivor.absorbed)
        outcomes[tuple(e.id for e in order)] = merged[0].merge.merge if merged else None
    assert outcomes[("e1", "e2", "e3", "e4")] == "m1" and outcomes[("e3", "e4", "e1", "e2")] == "m2"
    assert outcomes[("e1", "e3", "e2", "e4")] is None


def test_two_desks_merging_one_order_into_two_targets(store: OrderStore, clock) -> None:
    a, b, c = three(store, clock)
    store.merge(b.order_no, [a.order_no])  # desk 1
    with store.db.read() as conn:
        events = load_events(conn, a.id)
    from fengqiao.models.merging import Stamp, merge_events

    sa_before = replay(events[:1]).state
    late = merge_events(
        store.order(c.order_no),
        [sa_before],
        merge_id="m9",
        ids=["x1", "x2"],
        stamp=Stamp(clock(), clock(), "D2", "y"),
        reason="",
    )
    result = replay([*events, late[1]])  # desk 2's merge-into reaches the server second
    assert result.statuses["x2"] == "conflict" and result.state.merge.into == b.id


# ---- KPIs ----------------------------------------------------------------------------------------


def test_an_absorbed_order_counts_in_no_kpi_and_its_calls_count_once(store: OrderStore, clock) -> None:
    """An absorbed order is cancelled-like: out of every rate, so its withdrawn assignment (past its sign-off
    deadline when merged) is neither late nor failed; the department is graded on the order kept."""
    from datetime import date

    from fengqiao.models.kpi import Window
    from fengqiao.store.kpi import KpiStore

    a, b, _c = three(store, clock)
    store.act(a.order_no, Intent(Action.SIGN))
    clock.advance(hours=2)  # b's sign-off deadline has passed
    store.merge(a.order_no, [b.order_no], reason="同一件事")
    week = Window(date(2026, 11, 21), date(2026, 11, 28))
    row = next(r for r in KpiStore(store.db, clock=clock).table(week, "department").rows if r.key == "SCJG").to_json()
    # a (signed on time) and c (dual, still open, past its deadline): b is left out
    assert row["dispatched"] == 2 and row["orders"] == 2
    assert (row["signed_on_time"], row["sign_base"]) == (1, 2)
    store.unmerge(b.order_no)  # back at work, with a fresh window: graded again, from now on
    row = next(r for r in KpiStore(store.db, clock=clock).table(week, "department").rows if r.key == "SCJG").to_json()
    assert row["dispatched"] == 3


def test_merged_before_merge_into_is_what_prevents_cycles(store: OrderStore, clock) -> None:
    """The planted bug: with ``merge-into`` written before ``merged``, two offline desks' merges A→B and B→A can
    both take; the simulation's cross-order check (tests/sync/sim.py) reports the cycle."""
    from fengqiao.models.merging import Stamp, merge_events

    from .sync.sim import _merge_problems

    a, b, _c = three(store, clock)
    with store.db.read() as conn:
        base = {o.id: load_events(conn, o.id) for o in (a, b)}
    sa, sb = store.order(a.order_no), store.order(b.order_no)
    stamp = Stamp(clock(), clock(), "D1", "x")
    one = merge_events(sb, [sa], merge_id="m1", ids=["e1", "e2"], stamp=stamp, reason="")[::-1]  # wrong order
    two = merge_events(sa, [sb], merge_id="m2", ids=["e3", "e4"], stamp=stamp, reason="")[::-1]
    order = [one[0], two[0], one[1], two[1]]  # both merge-into first, then both merged
    truth = {oid: replay(base[oid] + [e for e in order if e.order_id == oid]) for oid in base}
    assert all(r.state.merge is not None for r in truth.values())  # both took: a cycle
    assert any("cycle" in p for p in _merge_problems(truth))
    right = [*merge_events(sb, [sa], merge_id="m1", ids=["e1", "e2"], stamp=stamp, reason="")]
    truth = {oid: replay(base[oid] + [e for e in right if e.order_id == oid]) for oid in base}
    assert _merge_problems(truth) == []


def test_replaying_merge_histories_with_clone_equals_deepcopy(store: OrderStore, clock) -> None:
    """OrderState.clone() copies the merge and split lists too (tests/sync/test_merge.py checks the rest)."""
    import random

    from .sync.test_merge import deep_replay

    a, b, c = three(store, clock)
    store.merge(a.order_no, [b.order_no, c.order_no])
    clock.advance(minutes=5)
    store.unmerge(c.order_no)
    store.split(a.order_no, ["ZJJ"])
    with pytest.raises(DomainError):
        store.merge(c.order_no, [a.order_no])  # refused: a holds b
    with store.db.read() as conn:
        histories = [load_events(conn, o.id) for o in (a, b, c)]
    rng = random.Random(3)
    for events in histories:
        for order in (events, [events[0], *rng.sample(events[1:], len(events) - 1)]):
            fast = replay(order)
            state, statuses = deep_replay(order)
            assert fast.statuses == statuses
            assert fast.state == state
