"""Synthetic but realistic history for demos, tests and benchmarks.

Calls arrive through the day with an evening peak, spread over the 21 towns by size, with a tag mix in which
consumer, property, wage, neighbour, noise and utility matters dominate. Most orders run their whole course
(sign, arrive, feed back, follow-up visit, close); some are late, returned and reassigned, extended,
escalated, reopened after an unsatisfied visit, or cancelled; some callers ring again (repeat calls, some
linked to the open order). Orders whose next step falls after "now" stay open where they are, so the board
has fresh, near-due and overdue work.

Every event goes through the same domain functions as the console (routing, ``dispatch_payload``,
``build``/``apply`` of the state machine, the desk hash chain, the projection rows). How it is computed:

1. **The plan** (:func:`_plan`, one random stream, in call order): each call's caller, place, tag and words,
   whether it is a repeat call linked to the caller's open order, and each order's number, route and the steps
   of its life with their times. An order is handed on once no later call can link to it (72 hours after its
   call), in chunks of :data:`CHUNK` orders (the route by its key: the simulator works it out again).
2. **The orders' lives** (:func:`_simulate`, per chunk): each order's dispatch, steps and linked calls, in time
   order, built and applied to its state in place; a step the state refuses is left out. This is pure
   computation and the bulk of the work: with ``parallel`` two worker processes take the chunks in turn.
3. **The writing** (in the calling process): the events of all chunks in one time order (the plan's order: time,
   then steps before the calls of that moment), sealed into each desk's hash chain, and the final rows of
   orders, assignments and calls, into a bulk build of the store (store/bulk.py: no secondary index or insert
   trigger until the end, then the indexes, search index, repeat calls and KPI rollups built once, and the
   finished file renamed over the store).

The same seed gives the same history whatever the number of processes (ids aside: they are fresh UUIDs). While a
demo is made, the garbage collector runs less often in every process of it (:data:`GC_THRESHOLDS`).
"""

from __future__ import annotations

import gc
import multiprocessing
import random
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from itertools import accumulate
from typing import Any

from fengqiao.models.clock import UTC, Clock, ensure_utc, local, local_day, system_clock, to_db
from fengqiao.models.events import GENESIS, link_hash, new_id, payload_text
from fengqiao.models.machine import (
    ASSIGNMENT_ACTIONS,
    INTENT_PAYLOADS,
    Action,
    CallInfo,
    Event,
    Intent,
    OrderState,
    apply,
    build,
    dispatch_payload,
    link_event,
    pick_assignment,
)
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.routing import Route, route

from .bulk import BulkBuild
from .db import Database
from .demo_villages import DemoVillages
from .projection import (
    INSERT_ASSIGNMENT,
    INSERT_CALL,
    INSERT_EVENT,
    INSERT_ORDER,
    UPSERT_HEAD,
    assignment_tuples,
    call_tuple,
    order_tuple,
)

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
REPEAT_WINDOW = timedelta(hours=72)  # a call this soon after the caller's last order is a repeat call
CHUNK = 2000  # orders simulated (and written) together; the chunks, not the processes, fix the history
_QUARTERS = ["东", "西", "南", "北", "新", "前", "后", "上", "下"]
_LANDFORMS = ["山", "溪", "湖", "塘", "岙", "坂"]
_SATISFACTIONS = ["satisfied", "basic", "unsatisfied"]
_SATISFACTION_CUM = list(accumulate([85, 10, 5]))
_FORMS = (0, 1, 2, 3)  # the four ways a description is worded
_DEPT_STEPS = frozenset((Action.SIGN, Action.ARRIVE, Action.FEEDBACK, Action.EXTEND))
_LAST = 1 << 30  # the dispatch comes after the calls linked in its own call slot
_UNSEALED = ""  # the id of an event not yet written (the writer gives it one)


@dataclass
class DemoResult:
    orders: int
    calls: int
    events: int
    order_rows: int = 0  # order rows written (each order once, as its life ends)


def _weighted(rng: random.Random, table: Mapping[str, float], keys: list[str]) -> Callable[[], str]:
    weights = [table.get(k, 1.0) for k in keys]
    cum = list(accumulate(weights))
    total = cum[-1]

    def pick() -> str:
        return keys[bisect_left(cum, rng.random() * total)]

    return pick


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


@cache
def _intent(
    action: Action,
    assignee: str | None = None,
    note: str = "",
    result: str | None = None,
    satisfaction: str | None = None,
    to: str | None = None,
    hours: int | None = None,
    justified: bool | None = None,
) -> Intent:
    """One Intent object per distinct step (a plan has about seven; there are a few hundred distinct ones)."""
    return Intent(action, assignee, note, result, satisfaction, to, hours, justified)


@cache
def _with_assignee(intent: Intent, assignee: str) -> Intent:
    return replace(intent, assignee=assignee)


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
        self.others: dict[str, list[str]] = {}  # departments to reassign to, by the department returning

    def _address(self, town: str | None) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return f"{rng.choice(ROADS)}{rng.randrange(1, 400)}号"
        return f"{rng.choice(_QUARTERS)}{rng.choice(_LANDFORMS)}{rng.choice(VILLAGES)}{rng.randrange(1, 30)}幢"

    def call_times(self, n: int) -> list[datetime]:
        """``n`` call times between start and end, by local hour of day (evening peak), sorted."""
        rng = self.rng
        midnight = local(self.start).replace(hour=0, minute=0, second=0, microsecond=0)
        span_days = (self.end - self.start).days + 2
        cum = list(accumulate(HOUR_WEIGHTS))
        total = cum[-1] + 0.0
        times: list[datetime] = []
        while len(times) < n:
            hour = bisect_right(cum, rng.random() * total, 0, 23)  # rng.choices(range(24), cum_weights=cum)
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
        sayings = [rng.choice(SAYINGS) for _ in _FORMS]  # one drawn for each wording, then a wording
        form = rng.choice(_FORMS)
        if form == 0:
            return f"报警人称{kw}，{sayings[0]}"
        if form == 1:
            return f"{kw}的问题，{other}，{sayings[1]}"
        if form == 2:
            return f"来电反映{tag.name_zh}：{kw}，{sayings[2]}"
        return f"{kw}，对方不肯处理，{sayings[3]}"

    def plan(
        self, tag_code: str, primary: str, primary_dept: str, police: str | None, at: datetime
    ) -> list[tuple[datetime, Intent]]:
        """The rest of an order's life, as (time, intent) steps in time order; cut off at 'now' by the caller.
        ``primary``/``primary_dept``: the lead unit's assignee and department; ``police``: the station's."""
        rng = self.rng
        tag = self.ref.tags[tag_code]
        steps: list[tuple[datetime, Intent]] = []
        if rng.random() < 0.02:
            steps.append(
                (at + timedelta(minutes=rng.uniform(2, 40)), _intent(Action.CANCEL, note="报警人称已自行解决，撤销"))
            )
            return steps

        def late(limit_min: float, p_late: float) -> float:
            if rng.random() < p_late:
                return limit_min * rng.uniform(1.05, 2.5)
            return limit_min * rng.uniform(0.15, 0.95)

        t = at
        if rng.random() < 0.03:  # returned to the call-taker, then reassigned
            t = t + timedelta(minutes=late(tag.sign_min, 0.1))
            steps.append((t, _intent(Action.RETURN, assignee=primary, note="不属于本单位职责范围")))
            others = self.others.get(primary_dept)
            if others is None:
                others = self.others[primary_dept] = [d for d in self.depts if d != primary_dept]
            to = rng.choice(others)
            t = t + timedelta(minutes=rng.uniform(3, 30))
            steps.append((t, _intent(Action.REASSIGN, to=to, note="重新研判后改派")))
            if rng.random() < 0.5:
                steps.append(
                    (
                        t + timedelta(hours=rng.uniform(1, 48)),
                        _intent(Action.JUDGE_RETURN, justified=rng.random() < 0.6, note="督导判定"),
                    )
                )
        base = t
        # None stands for the department's assignment as it is when the step runs (after any reassignment).
        for code in [None] + ([police] if police else []):
            sign_after = late(tag.sign_min, 0.08)
            if code is None and sign_after > tag.sign_min * 1.3 and rng.random() < 0.4:
                steps.append(
                    (
                        base + timedelta(minutes=tag.sign_min * 1.15),
                        _intent(Action.ESCALATE, note="超时未签收，请立即签收处置"),
                    )
                )
            tw = base + timedelta(minutes=sign_after)
            steps.append((tw, _intent(Action.SIGN, assignee=code)))
            if tag.onsite:
                arrive_after = max(late(tag.arrive_min or 30, 0.1), sign_after + rng.uniform(1, 10))
                tw = base + timedelta(minutes=arrive_after)
                steps.append((tw, _intent(Action.ARRIVE, assignee=code)))
            if code is None and rng.random() < 0.03:
                steps.append((tw + timedelta(minutes=5), _intent(Action.EXTEND, hours=24, note="需协调多方，申请延期")))
                steps.append(
                    (
                        tw + timedelta(minutes=rng.uniform(20, 120)),
                        _intent(Action.APPROVE_EXTENSION, note="同意延期"),
                    )
                )
            feedback_after = max(late(tag.feedback_h, 0.06), (tw - base).total_seconds() / 3600 + 0.2)
            resolved = rng.random() < 0.9
            steps.append(
                (
                    base + timedelta(hours=feedback_after),
                    _intent(
                        Action.FEEDBACK,
                        assignee=code,
                        result="resolved" if resolved else "unresolved",
                        note="已到场处置，双方达成一致" if resolved else "双方分歧较大，建议走法律途径",
                    ),
                )
            )
        steps.sort(key=lambda s: s[0])
        last = steps[-1][0]
        # rng.choices(_SATISFACTIONS, weights=[85, 10, 5])[0], drawn the same way
        satisfaction = _SATISFACTIONS[bisect_right(_SATISFACTION_CUM, rng.random() * 100.0, 0, 2)]
        visit_at = last + timedelta(hours=rng.uniform(2, 30))
        steps.append((visit_at, _intent(Action.VISIT, satisfaction=satisfaction, note="电话回访")))
        if satisfaction == "unsatisfied" and rng.random() < 0.6:
            steps.append((visit_at + timedelta(minutes=10), _intent(Action.REOPEN, note="群众不满意，重新办理")))
            fb = visit_at + timedelta(hours=rng.uniform(2, tag.feedback_h))
            steps.append((fb, _intent(Action.FEEDBACK, result="resolved", note="重新处置，已化解")))
            visit_at = fb + timedelta(hours=rng.uniform(2, 24))
            steps.append((visit_at, _intent(Action.VISIT, satisfaction="basic", note="二次回访")))
        steps.append((visit_at + timedelta(minutes=rng.uniform(1, 120)), _intent(Action.CLOSE, note="")))
        return steps


@cache
def _desk_for(action: Action, assignee: str | None) -> str:
    if action in (Action.SIGN, Action.ARRIVE, Action.FEEDBACK, Action.RETURN, Action.EXTEND):
        return f"dept-{assignee}" if assignee else "dept"
    if action in (Action.CANCEL, Action.REASSIGN):
        return "110-1"
    return "supervisor-1"


class _Routes:
    """route() by (tag, town, mode, village, grid), each worked out once."""

    def __init__(self, ref: Reference) -> None:
        self.ref = ref
        self.known: dict[tuple[str, str, str, str | None, str | None], Route] = {}

    def __call__(self, tag: str, town: str, mode: str, village: str | None, grid: str | None) -> Route:
        key = (tag, town, mode, village, grid)
        found = self.known.get(key)
        if found is None:
            found = self.known[key] = route(self.ref, tag, town, mode=mode, village=village, grid=grid)
        return found


# One order as the plan hands it on: (slot, order id, order number, call time, (call id, phone, town, address,
# description, village, grid), the route's key (tag, town, mode, village, grid: the simulator works the route out
# again, cheaper than pickling it), repeat_of, steps up to now, linked calls). A linked call:
# (time, slot, its place in the slot, (call id, phone, town, address, description, village, grid)).
Script = tuple[Any, ...]


@dataclass
class _Chunk:
    orders: list[Script]
    first_slot: int  # the first order's call slot
    limit: str | None  # the next chunk's first call time (stored text); None for the last chunk
    calls: int  # calls made so far (linked repeat calls included)
    counters: dict[tuple[str, str], int] | None = None  # the order-number counters, with the last chunk


@dataclass
class _Lives:
    """What :func:`_simulate` makes of a chunk: events not yet in any desk's chain, and final rows."""

    events: list[tuple[Any, ...]]  # (time, 0 step | 1 call, slot, n, order id, assignment id, kind, desk, payload)
    orders: list[tuple[Any, ...]]
    assignments: list[tuple[Any, ...]]
    calls: list[tuple[Any, ...]]
    first_slot: int
    limit: str | None
    done: int  # call slots handled so far (for progress)
    call_count: int
    counters: dict[tuple[str, str], int] | None


def _plan(
    ref: Reference, *, orders: int, days: int, seed: int, end: datetime, counters: dict[tuple[str, str], int]
) -> Iterator[_Chunk]:
    """The history's random choices, in call order (one random stream: see the module docstring), as chunks of
    orders no later call can link to."""
    rng = random.Random(seed)
    start = end - timedelta(days=days)
    gen = _Generator(ref, rng, start, end)
    places = DemoVillages(ref)  # villages and grids for the calls (no random numbers drawn)
    routes = _Routes(ref)
    times = gen.call_times(orders)
    days_of: dict[tuple[int, int, int, int], str] = {}  # local day by UTC hour (China keeps whole-hour offsets)
    # Orders a later call may still link to, in call order, and by id: (time of the last step of its plan, its
    # linked calls); it is open before that time.
    waiting: deque[Script] = deque()
    open_orders: dict[str, tuple[datetime, list[tuple[Any, ...]]]] = {}
    last_by_phone: dict[str, tuple[str, datetime]] = {}
    chunk: list[Script] = []
    calls = 0
    first = 0

    def hand_on(upto: datetime | None) -> Iterator[_Chunk]:
        nonlocal chunk, first
        while waiting and (upto is None or waiting[0][3] < upto):
            script = waiting.popleft()
            del open_orders[script[1]]
            chunk.append(script)
            if len(chunk) == CHUNK:
                nxt = first + CHUNK
                yield _Chunk(chunk, first, to_db(times[nxt]) if nxt < len(times) else None, calls)
                chunk, first = [], nxt

    for i, at in enumerate(times):
        yield from hand_on(at - REPEAT_WINDOW)
        k = 0
        while True:  # a linked repeat call opens no order: take another call in the same slot
            phone, town, address = gen.caller()
            address, village, grid = places.place(town, address)
            tag = gen.pick_tag()
            call = (new_id(), phone, town, address, gen.description(tag), village, grid)
            calls += 1
            earlier = last_by_phone.get(phone)
            repeat_of = earlier[0] if earlier and at - earlier[1] <= REPEAT_WINDOW else None
            # the earlier order is still open when a step of its plan is still to come
            target = open_orders[repeat_of] if repeat_of is not None else None
            if target is None or not target[0] > at or rng.random() >= 0.5:
                break
            target[1].append((at, i, k, call))
            k += 1
        mode = ref.tags[tag].dispatch
        if rng.random() < 0.04:
            mode = "dual" if mode == "single" else "single"
        key = (tag, town, mode, village, grid)
        plan = routes(*key)
        hour = (at.year, at.month, at.day, at.hour)
        day = days_of.get(hour)
        if day is None:
            day = days_of[hour] = local_day(at)
        counters[("SZ", day)] = counters.get(("SZ", day), 0) + 1
        order_no = f"SZ-{day}-{counters[('SZ', day)]:04d}"
        order_id = new_id()
        last_by_phone[phone] = (order_id, at)
        police = plan.police.code if plan.police else None
        steps = gen.plan(tag, plan.primary.code, plan.primary.dept, police, at)
        links: list[tuple[Any, ...]] = []
        open_orders[order_id] = (steps[-1][0], links)
        now = [s for s in steps if s[0] <= end] if steps[-1][0] > end else steps
        waiting.append((i, order_id, order_no, at, call, key, repeat_of, now, links))
    yield from hand_on(None)
    yield _Chunk(chunk, first, None, calls, counters)


class _Templates:
    """What a simulating process works out once: the routes, by their keys; the kind, payload and its text that
    build() made for each intent of INTENT_PAYLOADS, found by the intent's value, and during one chunk by the
    intent object (equal intents of a chunk are one object: the plan's cached ones, pickled once per chunk), which
    spares hashing the intent at every step."""

    def __init__(self, ref: Reference) -> None:
        self.routes = _Routes(ref)  # the routes of the orders (their keys come with the chunk)
        self.by_value: dict[Intent, tuple[str, Any, str]] = {}
        self.by_object: dict[int, tuple[str, Any, str]] = {}
        self.assigned: dict[tuple[int, str], Intent] = {}

    def start(self) -> None:
        """A new chunk: the objects of the last one may be gone, and their ids reused."""
        self.by_object.clear()
        self.assigned.clear()

    def with_assignee(self, intent: Intent, assignee: str) -> Intent:
        key = (id(intent), assignee)
        found = self.assigned.get(key)
        if found is None:
            found = self.assigned[key] = _with_assignee(intent, assignee)
        return found

    def get(self, intent: Intent) -> tuple[str, Any, str] | None:
        found = self.by_object.get(id(intent))
        if found is None:
            found = self.by_value.get(intent)
            if found is not None:
                self.by_object[id(intent)] = found
        return found

    def put(self, intent: Intent, made: tuple[str, Any, str]) -> None:
        self.by_value[intent] = self.by_object[id(intent)] = made


def _simulate(ref: Reference, chunk: _Chunk, templates: _Templates) -> _Lives:
    """Each order's life: its dispatch, the steps of its plan and its linked calls in time order, each built and
    applied to the order's state (in place); a step the state refuses is left out, as a desk would be refused it."""
    templates.start()
    events: list[tuple[Any, ...]] = []
    orders: list[tuple[Any, ...]] = []
    assignments: list[tuple[Any, ...]] = []
    calls: list[tuple[Any, ...]] = []
    routes = templates.routes
    for slot, order_id, order_no, at, fields, key, repeat_of, steps, links in chunk.orders:
        plan = routes(*key)
        call_id, phone, town, address, description, village, grid = fields
        call = CallInfo(call_id, phone, "", town, address, description, at, "110-1", village, grid)
        payload = dispatch_payload(
            ref,
            order_no=order_no,
            route=plan,
            call=call,
            at=at,
            assignment_ids=[new_id() for _ in plan.assignees],
            repeat_of=repeat_of,
        )
        ev = Event(_UNSEALED, order_id, "dispatch", at, at, "110-1", "110-1", None, payload)
        o = apply(None, ev)
        _event(events, to_db(at), 1, slot, _LAST, ev, payload_text(payload))
        calls.append(call_tuple(call, order_id, linked=False, repeat_of=repeat_of))
        pending = iter(links)
        nxt = next(pending, None)
        for n, (step_at, intent) in enumerate(steps):
            while nxt is not None and nxt[0] < step_at:  # a call at a step's very time comes after the step
                _link(o, nxt, events, calls)
                nxt = next(pending, None)
            _step(ref, o, n, slot, step_at, intent, events, templates)
        while nxt is not None:
            _link(o, nxt, events, calls)
            nxt = next(pending, None)
        orders.append(order_tuple(o))
        assignments.extend(assignment_tuples(o))
    events.sort()
    return _Lives(
        events,
        orders,
        assignments,
        calls,
        chunk.first_slot,
        chunk.limit,
        chunk.first_slot + len(chunk.orders),
        chunk.calls,
        chunk.counters,
    )


def _link(o: OrderState, link: tuple[Any, ...], events: list[tuple[Any, ...]], calls: list[tuple[Any, ...]]) -> None:
    at, slot, k, (call_id, phone, town, address, description, village, grid) = link
    call = CallInfo(call_id, phone, "", town, address, description, at, "110-1", village, grid)
    ev = link_event(o, call, event_id=_UNSEALED, at=at, desk="110-1", actor="110-1", recorded_at=at)
    apply(o, ev)
    _event(events, to_db(at), 1, slot, k, ev, payload_text(ev.payload))
    calls.append(call_tuple(call, o.id, linked=True, repeat_of=o.id))


def _step(
    ref: Reference,
    o: OrderState,
    n: int,
    slot: int,
    at: datetime,
    intent: Intent,
    events: list[tuple[Any, ...]],
    templates: _Templates,
) -> None:
    action = intent.action
    assignee = intent.assignee
    if assignee is None and action in _DEPT_STEPS:
        assignee = o.primary.assignee
        intent = templates.with_assignee(intent, assignee)
    desk = _desk_for(action, assignee)
    try:
        known = templates.get(intent)
        if known is not None:  # the same payload as the first event built for this intent (INTENT_PAYLOADS)
            kind, payload, text = known
            target = pick_assignment(o, action, intent.assignee).id if action in ASSIGNMENT_ACTIONS else None
            ev = Event(_UNSEALED, o.id, kind, at, at, desk, desk, target, payload)
        else:
            ev = build(
                ref,
                o,
                intent,
                event_id=_UNSEALED,
                at=at,
                desk=desk,
                actor=desk,
                recorded_at=at,
                new_assignment_id=new_id() if action == Action.REASSIGN else None,
                check=False,
            )
            text = payload_text(ev.payload)
            if action in INTENT_PAYLOADS:
                templates.put(intent, (ev.kind, ev.payload, text))
        apply(o, ev)
    except Exception:  # a plan step the state no longer allows (e.g. escalation after the fact): skip it
        return
    _event(events, to_db(at), 0, slot, n, ev, text)


def _event(events: list[tuple[Any, ...]], at: str, rank: int, slot: int, n: int, ev: Event, text: str) -> None:
    """An event as the writer seals it into its desk's chain: in the order of (time, steps before the calls of
    that moment, the call slot, the place in it); the desk is the actor too. Its id is given when it is sealed."""
    events.append((at, rank, slot, n, ev.order_id, ev.assignment_id, ev.kind, ev.desk, text))


def _lives_here(ref: Reference, chunks: Iterable[_Chunk]) -> Iterator[_Lives]:
    templates = _Templates(ref)
    for chunk in chunks:
        yield _simulate(ref, chunk, templates)


# ---- processes ---------------------------------------------------------------------------------------------

WORKERS = 2
# The cyclic garbage collector's thresholds while a demo is made (Python's default: 700, 10, 10). Planning, pickling
# and unpickling make millions of container objects that live on (chunks, rows, events waiting for their turn) and
# hold no cycles worth collecting early: with the default the collector walks them again and again (a fifth of the
# planner's time, three quarters of unpickling a chunk). Cycles are still collected, less often.
GC_THRESHOLDS = (50_000, 20, 100)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """:data:`GC_THRESHOLDS` meanwhile, then the caller's thresholds again."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _planner_main(queues: list[Any], kwargs: dict[str, Any]) -> None:
    """Plans the history in a child process; chunk c goes to worker c mod the number of workers."""
    end: str | None = None
    gc.set_threshold(*GC_THRESHOLDS)  # a process of its own (spawn starts it with the default)
    try:
        for c, chunk in enumerate(_plan(default_reference(), **kwargs)):
            queues[c % len(queues)].put(chunk)
    except BaseException:  # noqa: BLE001 - reported by the parent through the workers
        import traceback

        end = traceback.format_exc()
    for q in queues:
        q.put(end)


def _worker_main(inbox: Any, outbox: Any) -> None:
    """Simulates the chunks it is given, in order, and hands on what they make; an error travels as text."""
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        ref = default_reference()
        templates = _Templates(ref)
        while True:
            item = inbox.get()
            if item is None or isinstance(item, str):
                outbox.put(item)
                return
            outbox.put(_simulate(ref, item, templates))
    except BaseException:  # noqa: BLE001 - reported by the parent
        import traceback

        outbox.put(traceback.format_exc())


def _start_method() -> str:
    """fork where there is one (no start-up, and a caller's unguarded main script is not run again); the workers
    need nothing from this process but their arguments, so spawn works as well (tests/test_demo.py runs it)."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def _lives_in_workers(kwargs: dict[str, Any]) -> Iterator[_Lives]:
    ctx: Any = multiprocessing.get_context(_start_method())
    inboxes = [ctx.Queue(maxsize=2) for _ in range(WORKERS)]
    outboxes = [ctx.Queue(maxsize=2) for _ in range(WORKERS)]
    procs = [ctx.Process(target=_planner_main, args=(inboxes, kwargs), daemon=True)]
    procs += [
        ctx.Process(target=_worker_main, args=(inbox, outbox), daemon=True)
        for inbox, outbox in zip(inboxes, outboxes, strict=True)
    ]
    for p in procs:
        p.start()
    try:
        c = 0
        while True:
            item = _receive(outboxes[c % WORKERS], procs)
            if item is None:
                return
            if isinstance(item, str):
                raise RuntimeError(f"demo generator failed:\n{item}")
            yield item
            c += 1
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join()


def _receive(box: Any, procs: list[Any]) -> Any:
    import queue

    while True:
        try:
            return box.get(timeout=2)
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"demo generator failed: a worker process exited with {dead[0].exitcode}") from None


# ---- writing -----------------------------------------------------------------------------------------------


class _Writer:
    """Seals the events into their desks' chains in time order and writes every row into the bulk build."""

    def __init__(self, conn: Any, heads: dict[str, tuple[int, str]]) -> None:
        self.conn = conn
        self.heads: dict[str, list[Any]] = {desk: [seq, h] for desk, (seq, h) in heads.items()}  # desk -> [seq, hash]
        self.waiting: list[tuple[Any, ...]] = []  # events of orders handed on, later than what is written
        self.events = 0

    def write(self, lives: _Lives) -> None:
        conn = self.conn
        conn.executemany(INSERT_CALL, lives.calls)
        conn.executemany(INSERT_ORDER, lives.orders)
        conn.executemany(INSERT_ASSIGNMENT, lives.assignments)
        waiting = self.waiting
        waiting += lives.events
        waiting.sort()
        if lives.limit is None:
            cut = len(waiting)
        else:  # every event before the next chunk's first call is known now
            cut = bisect_left(waiting, (lives.limit, 1, lives.first_slot + len(lives.orders), -1))
        heads = self.heads
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        for at, _, _, _, order_id, assignment_id, kind, desk, text in waiting[:cut]:
            event_id = new_id()  # in the order events are written, as on a desk (and the id index grows at its end)
            head = heads.get(desk)
            if head is None:
                head = heads[desk] = [0, GENESIS]
            seq = head[0] + 1
            row = (event_id, order_id, assignment_id, kind, desk, desk, seq, at, at, text, head[1])
            digest = link_hash(row)
            append((*row, digest))
            head[0], head[1] = seq, digest
        conn.executemany(INSERT_EVENT, rows)
        del waiting[:cut]
        self.events += len(rows)

    def close(self, counters: Mapping[tuple[str, str], int]) -> None:
        self.conn.executemany(UPSERT_HEAD, [(desk, seq, h) for desk, (seq, h) in self.heads.items()])
        self.conn.executemany(
            "INSERT INTO order_counters (prefix, day, last) VALUES (?, ?, ?) "
            "ON CONFLICT (prefix, day) DO UPDATE SET last = excluded.last",
            [(p, d, n) for (p, d), n in counters.items()],
        )


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

    The store is built in bulk (store/bulk.py): a copy of it is filled, indexed and renamed over it only when
    complete, so a demo interrupted half-way leaves the store as it was. With ``parallel`` (the default for
    5,000 orders or more, and when the packaged reference data is used) the plan and the orders' lives are
    computed in three worker processes while this one writes.
    """
    end = ensure_utc(clock())
    if parallel is None:
        parallel = orders >= 5000 and ref is None
    with _fewer_collections():  # the writer's rows and events, as in the workers
        bulk = BulkBuild(db)
        conn = bulk.open()
        try:
            heads = {d: (int(q), str(h)) for d, q, h in conn.execute("SELECT desk, seq, hash FROM desk_heads")}
            counters = {(p, d): int(n) for p, d, n in conn.execute("SELECT prefix, day, last FROM order_counters")}
            kwargs: dict[str, Any] = {"orders": orders, "days": days, "seed": seed, "end": end, "counters": counters}
            if parallel:
                lives = _lives_in_workers(kwargs)
            else:
                reference = ref or default_reference()
                lives = _lives_here(reference, _plan(reference, **kwargs))
            writer = _Writer(conn, heads)
            made = calls = 0
            for part in lives:
                writer.write(part)
                made, calls = part.done, part.call_count
                if part.counters is not None:
                    counters = part.counters
                if progress:
                    progress(part.done, orders)
            writer.close(counters)
            bulk.finish()
        except BaseException:
            bulk.abort()
            raise
    return DemoResult(orders=made, calls=calls, events=writer.events, order_rows=made)
