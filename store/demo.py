"""Synthetic but realistic history for demos, tests and benchmarks.

Calls arrive through the day with an evening peak, spread over the 21 towns by size, with a tag mix in which
consumer, property, wage, neighbour, noise and utility matters dominate. Most orders run their whole course
(sign, arrive, feed back, follow-up visit, close); some are late, returned and reassigned, extended,
escalated, reopened after an unsatisfied visit, or cancelled; some callers ring again (repeat calls, some
linked to the open order). Orders whose next step falls after "now" stay open where they are, so the board
has fresh, near-due and overdue work.

Every event goes through the same domain functions as the console (routing, ``dispatch_payload``,
``build``/``apply`` of the state machine, the desk hash chain, the projection rows); only the writing is
batched, one transaction per batch. Events are written in time order, so each desk's chain reads
chronologically. For large demos a worker process computes the next batch while the writer stores this one.
"""

from __future__ import annotations

import heapq
import multiprocessing
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from fengqiao.models.clock import UTC, Clock, ensure_utc, local, local_day, system_clock
from fengqiao.models.events import GENESIS, new_id
from fengqiao.models.machine import (
    Action,
    CallInfo,
    Event,
    Intent,
    OrderState,
    apply,
    build,
    dispatch_payload,
    link_event,
)
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.routing import route

from .db import Connection, Database
from .demo_villages import DemoVillages
from .projection import (
    CALL_COLUMNS,
    INSERT_ASSIGNMENT,
    INSERT_CALL,
    INSERT_EVENT,
    INSERT_ORDER,
    UPDATE_ASSIGNMENT,
    UPDATE_ORDER,
    UPSERT_HEAD,
    DeskChain,
    assignment_tuples,
    assignment_update,
    call_tuple,
    order_tuple,
    order_update,
)
from .rollups import Tracker

# Relative call volume per tag (default 1): the matters that fill a real 110 linkage desk.
TAG_WEIGHTS = {
    "B01": 14,
    "B02": 10,
    "B03": 12,
    "B04": 12,
    "C14": 10,
    "C04": 7,
    "C01": 6,
    "C03": 5,
    "A02": 6,
    "B09": 5,
    "B05": 6,
    "C13": 5,
    "B14": 4,
    "A18": 5,
    "C15": 4,
    "B11": 4,
    "C09": 3,
    "A08": 3,
    "D01": 4,
    "D15": 4,
    "B22": 3,
    "A10": 3,
    "C06": 3,
    "B08": 3,
    "B10": 3,
    "C02": 2,
    "C05": 2,
    "A03": 2,
    "B16": 2,
    "D07": 2,
}
# Relative share of calls per town (subdistricts are the county town).
TOWN_WEIGHTS = {
    "SHH": 16,
    "SJ": 10,
    "LS": 10,
    "PK": 9,
    "GL": 6,
    "CL": 6,
    "CR": 6,
    "HZ": 5,
    "SJJ": 4,
    "SHG": 4,
    "GLL": 3,
    "XY": 3,
    "JT": 3,
    "BZ": 3,
    "XW": 3,
    "GM": 1,
    "LN": 1,
    "ZX": 1,
    "YH": 1,
    "WY": 1,
    "TY": 1,
}
# Share of calls per local hour: quiet nights, a morning rise, an evening peak.
HOUR_WEIGHTS = [
    1.0,
    0.7,
    0.5,
    0.4,
    0.4,
    0.6,
    1.2,
    2.2,
    3.2,
    3.8,
    4.0,
    3.8,
    3.4,
    3.4,
    3.8,
    4.0,
    4.2,
    4.6,
    5.4,
    6.2,
    6.4,
    5.6,
    3.8,
    2.0,
]
ROADS = [
    "人民路",
    "兴盛街",
    "剡湖路",
    "东前街",
    "北直街",
    "官河路",
    "江滨路",
    "长乐路",
    "城南路",
    "鹿门大道",
    "新建路",
    "三江路",
    "浦南大道",
    "罗星路",
    "环城西路",
]
VILLAGES = ["村", "社区", "小区"]
SAYINGS = [
    "请尽快派人处理",
    "已经好几天了",
    "希望有关部门来看看",
    "情绪比较激动",
    "现场有人围观",
    "之前反映过没人管",
    "老人小孩都受影响",
    "麻烦快一点",
]
FREQUENT_CALLERS = 400  # numbers that ring again and again (the 鹿山街道 property-row pattern)
# Events per batch (one transaction). An order whose life spans several batches has its row written once in each,
# so larger batches write fewer rows (about 1.3 writes an order at 100,000 events, 2.5 at 20,000).
BATCH_EVENTS = 100_000
# The page cache while the demo writes (KiB, SQLite's negative form): the orders table and its indexes stay in
# memory instead of being read back from the file for every batch (the default is 2 MB).
DEMO_CACHE_KIB = 256 * 1024


@dataclass
class DemoResult:
    orders: int
    calls: int
    events: int
    order_rows: int = 0  # order rows written (an order whose events span several batches is written in each)


@dataclass
class _Flight:
    """An order in progress: its state and the steps still to come."""

    state: OrderState
    plan: list[tuple[datetime, Intent]]


def _weighted(rng: random.Random, table: Mapping[str, float], keys: list[str]) -> Callable[[], str]:
    weights = [table.get(k, 1.0) for k in keys]
    cum: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)

    def pick() -> str:
        import bisect

        return keys[bisect.bisect_left(cum, rng.random() * total)]

    return pick


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


class _Generator:
    def __init__(self, ref: Reference, rng: random.Random, start: datetime, end: datetime) -> None:
        self.ref = ref
        self.rng = rng
        self.start = start
        self.end = end
        self.pick_tag = _weighted(rng, TAG_WEIGHTS, list(ref.tags))
        self.pick_town = _weighted(rng, TOWN_WEIGHTS, list(ref.towns))
        self.frequent = [(_mobile(rng), self.pick_town(), self._address(None)) for _ in range(FREQUENT_CALLERS)]
        self.depts = [d for d in ref.departments if d not in ("GA", "RX")]

    def _address(self, town: str | None) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return f"{rng.choice(ROADS)}{rng.randrange(1, 400)}号"
        return (
            f"{rng.choice(['东', '西', '南', '北', '新', '前', '后', '上', '下'])}{rng.choice(['山', '溪', '湖', '塘', '岙', '坂'])}"
            f"{rng.choice(VILLAGES)}{rng.randrange(1, 30)}幢"
        )

    def call_times(self, n: int) -> list[datetime]:
        """``n`` call times between start and end, by local hour of day (evening peak), sorted."""
        rng = self.rng
        midnight = local(self.start).replace(hour=0, minute=0, second=0, microsecond=0)
        span_days = (self.end - self.start).days + 2
        cum = list(accumulate(HOUR_WEIGHTS))
        times: list[datetime] = []
        while len(times) < n:
            hour = rng.choices(range(24), cum_weights=cum)[0]
            when = (
                midnight + timedelta(days=rng.randrange(span_days), hours=hour, seconds=rng.random() * 3600)
            ).astimezone(UTC)
            if self.start <= when < self.end:
                times.append(when)
        times.sort()
        return times

    def caller(self) -> tuple[str, str, str]:
        rng = self.rng
        if rng.random() < 0.08:
            return rng.choice(self.frequent)
        town = self.pick_town()
        phone = _mobile(rng) if rng.random() < 0.9 else f"0575-8{rng.randrange(10**7):07d}"
        return phone, town, self._address(town)

    def description(self, tag_code: str) -> str:
        rng = self.rng
        tag = self.ref.tags[tag_code]
        words = tag.keywords or (tag.name_zh,)
        kw = rng.choice(words)
        other = rng.choice(words)
        forms = [
            f"报警人称{kw}，{rng.choice(SAYINGS)}",
            f"{kw}的问题，{other}，{rng.choice(SAYINGS)}",
            f"来电反映{tag.name_zh}：{kw}，{rng.choice(SAYINGS)}",
            f"{kw}，对方不肯处理，{rng.choice(SAYINGS)}",
        ]
        return rng.choice(forms)

    def plan(self, o: OrderState, at: datetime) -> list[tuple[datetime, Intent]]:
        """The rest of this order's life, as (time, intent) steps; cut off at 'now' by the caller."""
        rng = self.rng
        tag = self.ref.tags[o.tag]
        steps: list[tuple[datetime, Intent]] = []
        if rng.random() < 0.02:
            steps.append(
                (at + timedelta(minutes=rng.uniform(2, 40)), Intent(Action.CANCEL, note="报警人称已自行解决，撤销"))
            )
            return steps

        def late(limit_min: float, p_late: float) -> float:
            if rng.random() < p_late:
                return limit_min * rng.uniform(1.05, 2.5)
            return limit_min * rng.uniform(0.15, 0.95)

        t = at
        if rng.random() < 0.03:  # returned to the call-taker, then reassigned
            t = t + timedelta(minutes=late(tag.sign_min, 0.1))
            steps.append((t, Intent(Action.RETURN, assignee=o.primary.assignee, note="不属于本单位职责范围")))
            to = rng.choice([d for d in self.depts if d != o.primary.dept])
            t = t + timedelta(minutes=rng.uniform(3, 30))
            steps.append((t, Intent(Action.REASSIGN, to=to, note="重新研判后改派")))
            if rng.random() < 0.5:
                steps.append(
                    (
                        t + timedelta(hours=rng.uniform(1, 48)),
                        Intent(Action.JUDGE_RETURN, justified=rng.random() < 0.6, note="督导判定"),
                    )
                )
        base = t
        # None stands for the department's assignment as it is when the step runs (after any reassignment).
        for code in [None] + ([o.police.assignee] if o.police else []):
            sign_after = late(tag.sign_min, 0.08)
            if code is None and sign_after > tag.sign_min * 1.3 and rng.random() < 0.4:
                steps.append(
                    (
                        base + timedelta(minutes=tag.sign_min * 1.15),
                        Intent(Action.ESCALATE, note="超时未签收，请立即签收处置"),
                    )
                )
            tw = base + timedelta(minutes=sign_after)
            steps.append((tw, Intent(Action.SIGN, assignee=code)))
            if tag.onsite:
                arrive_after = max(late(tag.arrive_min or 30, 0.1), sign_after + rng.uniform(1, 10))
                tw = base + timedelta(minutes=arrive_after)
                steps.append((tw, Intent(Action.ARRIVE, assignee=code)))
            if code is None and rng.random() < 0.03:
                steps.append((tw + timedelta(minutes=5), Intent(Action.EXTEND, hours=24, note="需协调多方，申请延期")))
                steps.append(
                    (tw + timedelta(minutes=rng.uniform(20, 120)), Intent(Action.APPROVE_EXTENSION, note="同意延期"))
                )
            feedback_after = max(late(tag.feedback_h, 0.06), (tw - base).total_seconds() / 3600 + 0.2)
            resolved = rng.random() < 0.9
            steps.append(
                (
                    base + timedelta(hours=feedback_after),
                    Intent(
                        Action.FEEDBACK,
                        assignee=code,
                        result="resolved" if resolved else "unresolved",
                        note="已到场处置，双方达成一致" if resolved else "双方分歧较大，建议走法律途径",
                    ),
                )
            )
        steps.sort(key=lambda s: s[0])
        last = steps[-1][0]
        satisfaction = rng.choices(["satisfied", "basic", "unsatisfied"], weights=[85, 10, 5])[0]
        visit_at = last + timedelta(hours=rng.uniform(2, 30))
        steps.append((visit_at, Intent(Action.VISIT, satisfaction=satisfaction, note="电话回访")))
        if satisfaction == "unsatisfied" and rng.random() < 0.6:
            steps.append((visit_at + timedelta(minutes=10), Intent(Action.REOPEN, note="群众不满意，重新办理")))
            fb = visit_at + timedelta(hours=rng.uniform(2, tag.feedback_h))
            steps.append((fb, Intent(Action.FEEDBACK, result="resolved", note="重新处置，已化解")))
            visit_at = fb + timedelta(hours=rng.uniform(2, 24))
            steps.append((visit_at, Intent(Action.VISIT, satisfaction="basic", note="二次回访")))
        steps.append((visit_at + timedelta(minutes=rng.uniform(1, 120)), Intent(Action.CLOSE, note="")))
        return steps


def _desk_for(action: Action, assignee: str | None) -> str:
    if action in (Action.SIGN, Action.ARRIVE, Action.FEEDBACK, Action.RETURN, Action.EXTEND):
        return f"dept-{assignee}" if assignee else "dept"
    if action in (Action.CANCEL, Action.REASSIGN):
        return "110-1"
    return "supervisor-1"


@dataclass
class _Batch:
    """Rows ready to write: what one transaction of the demo adds."""

    events: list[tuple[Any, ...]]
    calls: list[tuple[Any, ...]]
    orders: list[tuple[Any, ...]]  # orders new in this batch: full rows (INSERT_ORDER)
    assignments: list[tuple[Any, ...]]  # assignments new in this batch (INSERT_ASSIGNMENT)
    order_updates: list[tuple[Any, ...]]  # orders stored by an earlier batch (UPDATE_ORDER)
    assignment_updates: list[tuple[Any, ...]]  # their assignments stored by an earlier batch (UPDATE_ASSIGNMENT)
    heads: list[tuple[str, int, str]]  # (desk, seq, hash) after this batch
    counters: list[tuple[str, str, int]]  # (prefix, day, last) after this batch
    done: int  # calls slots handled so far (for progress)
    orders_made: int
    calls_made: int


def _produce(
    ref: Reference,
    *,
    orders: int,
    days: int,
    seed: int,
    end: datetime,
    heads: dict[str, tuple[int, str]],
    counters: dict[tuple[str, str], int],
) -> Iterator[_Batch]:
    """The history, as batches of rows in time order. Pure computation: no database (it may run in a worker
    process while the caller writes the previous batch)."""
    rng = random.Random(seed)
    start = end - timedelta(days=days)
    gen = _Generator(ref, rng, start, end)
    places = DemoVillages(ref)  # villages and grids for the calls (no random numbers drawn)
    times = gen.call_times(orders)

    chains: dict[str, DeskChain] = {}
    heap: list[tuple[datetime, int, str]] = []  # (when, tiebreak, order id)
    flights: dict[str, _Flight] = {}
    last_by_phone: dict[str, tuple[str, datetime]] = {}
    tiebreak = 0
    made = calls = 0
    pending_events: list[tuple[str, Event]] = []
    pending_calls: list[tuple[Any, ...]] = []
    dirty: dict[str, OrderState] = {}  # the orders this batch changed, each written once, as its events leave it
    stored: dict[str, int] = {}  # open orders written by an earlier batch: how many assignments were stored

    def chain(desk: str) -> DeskChain:
        if desk not in chains:
            chains[desk] = DeskChain.at(desk, *heads.get(desk, (0, GENESIS)))
        return chains[desk]

    def batch(done: int) -> _Batch:
        rows = [chain(desk).seal(ev) for desk, ev in pending_events]
        new_orders, new_assignments, order_updates, assignment_updates = [], [], [], []
        for order_id, o in dirty.items():
            row = order_tuple(o)
            have = stored.get(order_id)  # None: the order's row is not stored yet
            if have is None:
                new_orders.append(row)
            else:
                order_updates.append(order_update(row))
            for k, a in enumerate(assignment_tuples(o)):
                if have is not None and k < have:
                    assignment_updates.append(assignment_update(a))
                else:
                    new_assignments.append(a)
            if order_id in flights:
                stored[order_id] = len(o.assignments)
            else:
                stored.pop(order_id, None)  # closed or cancelled: no later batch writes it
        out = _Batch(
            events=rows,
            calls=list(pending_calls),
            orders=new_orders,
            assignments=new_assignments,
            order_updates=order_updates,
            assignment_updates=assignment_updates,
            heads=[(c.desk, c.seq, c.hash) for c in chains.values()],
            counters=[(p, d, n) for (p, d), n in counters.items()],
            done=done,
            orders_made=made,
            calls_made=calls,
        )
        pending_events.clear()
        pending_calls.clear()
        dirty.clear()
        return out

    def push(when: datetime, order_id: str) -> None:
        nonlocal tiebreak
        tiebreak += 1
        heapq.heappush(heap, (when, tiebreak, order_id))

    def run_steps_until(limit: datetime) -> None:
        while heap and heap[0][0] <= limit:
            _when, _, order_id = heapq.heappop(heap)
            flight = flights[order_id]
            step_at, intent = flight.plan.pop(0)
            o = flight.state
            assignee = intent.assignee
            if intent.action in (Action.SIGN, Action.ARRIVE, Action.FEEDBACK, Action.EXTEND) and assignee is None:
                assignee = o.primary.assignee
                intent = replace(intent, assignee=assignee)
            desk = _desk_for(Action(intent.action), assignee)
            try:
                ev = build(
                    ref,
                    o,
                    intent,
                    event_id=new_id(),
                    at=step_at,
                    desk=desk,
                    actor=desk,
                    recorded_at=step_at,
                    new_assignment_id=new_id() if intent.action == Action.REASSIGN else None,
                    check=False,
                )
                apply(o, ev)
            except Exception:  # a plan step the state no longer allows (e.g. escalation after the fact): skip it
                ev = None
            if ev is not None:
                pending_events.append((desk, ev))
                dirty[o.id] = o
            if not flight.plan:
                del flights[order_id]  # done: closed or cancelled
            elif flight.plan[0][0] <= end:
                push(flight.plan[0][0], order_id)

    for i, at in enumerate(times):
        run_steps_until(at)
        while True:  # a linked repeat call opens no order: take another call in the same slot
            phone, town, address = gen.caller()
            address, village, grid = places.place(town, address)
            tag = gen.pick_tag()
            call = CallInfo(new_id(), phone, "", town, address, gen.description(tag), at, "110-1", village, grid)
            calls += 1
            earlier = last_by_phone.get(phone)
            repeat_of = earlier[0] if earlier and at - earlier[1] <= timedelta(hours=72) else None
            if repeat_of is None or repeat_of not in flights or rng.random() >= 0.5:
                break
            o = flights[repeat_of].state
            ev = link_event(o, call, event_id=new_id(), at=at, desk="110-1", actor="110-1", recorded_at=at)
            apply(o, ev)
            pending_events.append(("110-1", ev))
            pending_calls.append(call_tuple(call, o.id, linked=True, repeat_of=o.id))
            dirty[o.id] = o
        mode = ref.tags[tag].dispatch
        if rng.random() < 0.04:
            mode = "dual" if mode == "single" else "single"
        plan = route(ref, tag, town, mode=mode, village=call.village, grid=call.grid)
        day = local_day(at)
        counters[("SZ", day)] = counters.get(("SZ", day), 0) + 1
        order_no = f"SZ-{day}-{counters[('SZ', day)]:04d}"
        order_id = new_id()
        payload = dispatch_payload(
            ref,
            order_no=order_no,
            route=plan,
            call=call,
            at=at,
            assignment_ids=[new_id() for _ in plan.assignees],
            repeat_of=repeat_of,
        )
        ev = Event(
            id=new_id(),
            order_id=order_id,
            kind=str(Action.DISPATCH),
            event_at=at,
            recorded_at=at,
            desk="110-1",
            actor="110-1",
            payload=payload,
        )
        o = apply(None, ev)
        pending_events.append(("110-1", ev))
        pending_calls.append(call_tuple(call, order_id, linked=False, repeat_of=repeat_of))
        dirty[order_id] = o
        last_by_phone[phone] = (order_id, at)
        made += 1
        steps = gen.plan(o, at)
        flights[order_id] = _Flight(o, steps)
        if steps[0][0] <= end:
            push(steps[0][0], order_id)
        if len(pending_events) >= BATCH_EVENTS:
            yield batch(i + 1)
    run_steps_until(end)
    yield batch(len(times))


_CALL_LINKED = CALL_COLUMNS.index("linked")
_CALL_PHONE, _CALL_AT = CALL_COLUMNS.index("phone"), CALL_COLUMNS.index("received_at")


def _write(conn: Connection, b: _Batch) -> None:
    if b.events:
        conn.exec_driver_sql(INSERT_EVENT, b.events)
    # An order's own call first (orders.call_id refers to it), then the orders, then the linked repeat calls. The
    # search index takes a linked call in either order (0015: the order's trigger also indexes linked calls already
    # stored), this order only spares the lookup.
    own = [c for c in b.calls if not c[_CALL_LINKED]]
    linked = [c for c in b.calls if c[_CALL_LINKED]]
    # The KPI rollups of every order the batch changes (one not stored yet contributes nothing before) or makes a
    # repeat-call order.
    rollups = Tracker(conn)
    rollups.watch(u[-1] for u in b.order_updates)
    rollups.watch_new(o[0] for o in b.orders)
    rollups.watch_calls((c[_CALL_PHONE], c[_CALL_AT]) for c in b.calls)
    if own:
        conn.exec_driver_sql(INSERT_CALL, own)
    if b.orders:
        conn.exec_driver_sql(INSERT_ORDER, b.orders)
    if b.order_updates:
        conn.exec_driver_sql(UPDATE_ORDER, b.order_updates)
    if b.assignments:
        conn.exec_driver_sql(INSERT_ASSIGNMENT, b.assignments)
    if b.assignment_updates:
        conn.exec_driver_sql(UPDATE_ASSIGNMENT, b.assignment_updates)
    if linked:
        conn.exec_driver_sql(INSERT_CALL, linked)
    rollups.finish()
    if b.heads:
        conn.exec_driver_sql(UPSERT_HEAD, b.heads)
    if b.counters:
        conn.exec_driver_sql(
            "INSERT INTO order_counters (prefix, day, last) VALUES (?, ?, ?) "
            "ON CONFLICT (prefix, day) DO UPDATE SET last = excluded.last",
            b.counters,
        )


def _worker(queue: Any, kwargs: dict[str, Any]) -> None:
    """Runs :func:`_produce` in a child process and hands each batch over; an error travels as text."""
    try:
        for b in _produce(default_reference(), **kwargs):
            queue.put(b)
        queue.put(None)
    except BaseException:  # noqa: BLE001 - reported by the parent
        import traceback

        queue.put(traceback.format_exc())


def _batches_in_worker(kwargs: dict[str, Any]) -> Iterator[_Batch]:
    ctx: Any = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    queue = ctx.Queue(maxsize=2)
    proc = ctx.Process(target=_worker, args=(queue, kwargs), daemon=True)
    proc.start()
    try:
        while True:
            item = queue.get()
            if item is None:
                return
            if isinstance(item, str):
                raise RuntimeError(f"demo generator failed:\n{item}")
            yield item
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join()


def generate(
    db: Database,
    *,
    orders: int,
    days: int = 90,
    seed: int = 1,
    clock: Clock = system_clock,
    ref: Reference | None = None,
    progress: Callable[[int, int], None] | None = None,
    parallel: bool | None = None,
) -> DemoResult:
    """Write ``orders`` orders spread over the ``days`` days up to ``clock()``.

    The history is computed in batches; each batch is written in its own transaction, so a demo interrupted
    half-way leaves a consistent store. With ``parallel`` (the default for 5,000 orders or more, and when the
    packaged reference data is used) a worker process computes the next batch while this one writes.
    """
    end = ensure_utc(clock())
    with db.read() as conn:
        heads = {d: (int(q), str(h)) for d, q, h in conn.exec_driver_sql("SELECT desk, seq, hash FROM desk_heads")}
        counters = {(p, d): int(n) for p, d, n in conn.exec_driver_sql("SELECT prefix, day, last FROM order_counters")}
    kwargs: dict[str, Any] = {
        "orders": orders,
        "days": days,
        "seed": seed,
        "end": end,
        "heads": heads,
        "counters": counters,
    }
    if parallel is None:
        parallel = orders >= 5000 and ref is None
    batches = _batches_in_worker(kwargs) if parallel else _produce(ref or default_reference(), **kwargs)
    made = calls = events = rows = 0
    try:
        for b in batches:
            with db.write() as conn:
                conn.exec_driver_sql(f"PRAGMA cache_size = -{DEMO_CACHE_KIB}")
                _write(conn, b)
            made, calls, events = b.orders_made, b.calls_made, events + len(b.events)
            rows += len(b.orders) + len(b.order_updates)
            if progress:
                progress(b.done, orders)
    finally:
        with db.write() as conn:  # back to SQLite's default for whoever borrows the connection next
            conn.exec_driver_sql("PRAGMA cache_size = -2000")
    return DemoResult(orders=made, calls=calls, events=events, order_rows=rows)
