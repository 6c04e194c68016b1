"""Risk warnings (预警) and task-force cases (专班): their events, state machines and rules. Pure: no I/O.

A warning or a case is a *subject* of the event log beside orders: its events carry the subject's id in the
log's ``order_id`` column (``warn-…`` or ``case-…``), are sealed into the writing desk's hash chain, synced and
replayed like an order's, through :func:`step` here instead of the order machine.

Warning lifecycle::

    open ─sign→ signed ─measure→ signed (each measure recorded) ─close→ closed
      └──────────────┴─escalate→ escalated (a case was opened from it)

Case lifecycle: ``open`` (orders added, notes) ─close→ ``closed`` (a resolution and a follow-up date).

Rules (:class:`WarningRules`) decide when a call raises a warning; the store feeds them the recent calls
(:func:`evaluate`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from .errors import DomainError, Redundant
from .i18n import t
from .machine import Event, step_with
from .reference import Reference
from .roles import Desk, Role

WARN_PREFIX = "warn-"
CASE_PREFIX = "case-"
NOTICE_PREFIX = "notice-"
ANSWER_PREFIX = "ans-"


class GKind(StrEnum):
    WARN_RAISE = "warn_raise"
    WARN_SIGN = "warn_sign"
    WARN_MEASURE = "warn_measure"
    WARN_CLOSE = "warn_close"
    WARN_ESCALATE = "warn_escalate"
    CASE_OPEN = "case_open"
    CASE_ADD = "case_add"
    CASE_NOTE = "case_note"
    CASE_CLOSE = "case_close"
    NOTICE_POST = "notice_post"
    NOTICE_CALL = "notice_call"
    NOTICE_END = "notice_end"
    ANSWER_CALL = "answer_call"


WARN_KINDS = frozenset(k for k in GKind if k.startswith("warn_"))
CASE_KINDS = frozenset(k for k in GKind if k.startswith("case_"))
NOTICE_KINDS = frozenset(k for k in GKind if k.startswith("notice_"))
KINDS = WARN_KINDS | CASE_KINDS | NOTICE_KINDS | {GKind.ANSWER_CALL}
NOTICE_TYPES = ("water", "power", "gas", "traffic", "incident", "other")  # 停水 停电 停气 交通 已知事件 其他
MAX_NOTICE_TOWNS = 21

LEVELS = ("red", "orange", "yellow")  # 红 / 橙 / 黄, most urgent first
RULES = ("address", "caller", "similar", "dispute", "danger", "manual")
WARN_OPEN = ("open", "signed")
MAX_CASE_MEMBERS = 8
MAX_CASE_ORDERS = 500


def is_subject(subject_id: str) -> bool:
    """Whether a log id names a warning or a case (not an order)."""
    return subject_id.startswith((WARN_PREFIX, CASE_PREFIX, NOTICE_PREFIX, ANSWER_PREFIX))


def is_kind(kind: str) -> bool:
    return kind in KINDS


# ---- text keys ---------------------------------------------------------------------------------------

_STRIP = re.compile(r"[\s\-_.,，。、;；:：'\"“”‘’()（）\[\]【】#＃/\\]+")


def address_key(address: str) -> str:
    """The form two addresses are compared in: width folded (NFKC), spaces and punctuation gone, lower case.
    "黄泽镇 前岩村 3号" and "黄泽镇前岩村3号" are one address."""
    return _STRIP.sub("", unicodedata.normalize("NFKC", address or "")).lower()


def shingles(text: str) -> frozenset[str]:
    """Character bigrams of the text's words (the similarity of two descriptions)."""
    s = address_key(text)
    return frozenset(s[i : i + 2] for i in range(len(s) - 1)) if len(s) > 1 else frozenset({s} if s else ())


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two shingle sets (0–1)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


# ---- rules ---------------------------------------------------------------------------------------------

DANGER_WORDS = (
    "扬言",
    "要杀",
    "杀了",
    "砍人",
    "拿刀",
    "持刀",
    "菜刀",
    "刀具",
    "汽油",
    "炸药",
    "炸了",
    "同归于尽",
    "自杀",
    "轻生",
    "跳楼",
    "跳河",
    "喝农药",
    "不想活",
    "上吊",
    "报复",
)


@dataclass(frozen=True)
class WarningRules:
    """When a call raises a warning. Shipped defaults; a desk's config ``[warnings]`` may change each."""

    address_calls: int = 3  # this many calls about one address in one town …
    address_days: int = 7  # … within this many days raise a warning
    address_level: str = "yellow"
    caller_calls: int = 4  # one caller, this many calls …
    caller_days: int = 30
    caller_level: str = "yellow"
    similar_callers: int = 3  # this many different callers with similar words in one town …
    similar_days: int = 3
    similar_threshold: float = 0.5  # … at this similarity (Jaccard of character bigrams)
    similar_level: str = "orange"
    dispute_level: str = "orange"  # a second call about an unresolved dispute
    danger_level: str = "red"  # words that signal danger, flagged at intake
    danger_words: tuple[str, ...] = DANGER_WORDS
    dispute_tags: frozenset[str] = frozenset()  # tags that are disputes; empty: the store fills them in

    def with_changes(self, **changes: Any) -> WarningRules:
        return replace(self, **changes)


@dataclass(frozen=True)
class RecentCall:
    """One earlier call as the rules see it."""

    call_id: str
    order_id: str | None
    phone: str
    town: str
    address: str
    description: str
    received_at: datetime


@dataclass(frozen=True)
class Trigger:
    """A rule that fired on a call: which rule, the level, the key it groups calls by and the calls."""

    rule: str
    level: str
    town: str
    key: str  # the address key, the phone, or the first call's id (similar / dispute / danger)
    calls: tuple[str, ...]  # call ids, the new one last
    detail: str  # what matched: a count, a word


def danger_words(text: str, rules: WarningRules) -> list[str]:
    """The danger words in ``text`` (folded for width), in the order of the rules' list."""
    folded = unicodedata.normalize("NFKC", text or "")
    return [w for w in rules.danger_words if w and w in folded]


def evaluate(
    rules: WarningRules,
    call: RecentCall,
    history: Sequence[RecentCall],
    *,
    tag: str | None = None,
    repeat_open: bool = False,
) -> list[Trigger]:
    """The rules that fire on ``call`` given the town's earlier calls (``history``, any order; the call itself
    left out). ``repeat_open``: the call is a repeat of an order still open; ``tag``: that order's tag."""
    out: list[Trigger] = []
    at = call.received_at
    akey = address_key(call.address)
    if akey and rules.address_calls > 0:
        since = at - timedelta(days=rules.address_days)
        same = [
            c
            for c in history
            if c.town == call.town and since <= c.received_at <= at and address_key(c.address) == akey
        ]
        if len(same) + 1 >= rules.address_calls:
            ids = tuple(c.call_id for c in sorted(same, key=lambda c: c.received_at)) + (call.call_id,)
            out.append(Trigger("address", rules.address_level, call.town, akey, ids, str(len(ids))))
    if call.phone and rules.caller_calls > 0:
        since = at - timedelta(days=rules.caller_days)
        mine = [c for c in history if c.phone == call.phone and since <= c.received_at <= at]
        if len(mine) + 1 >= rules.caller_calls:
            ids = tuple(c.call_id for c in sorted(mine, key=lambda c: c.received_at)) + (call.call_id,)
            out.append(Trigger("caller", rules.caller_level, call.town, call.phone, ids, str(len(ids))))
    words = shingles(call.description)
    if words and rules.similar_callers > 1:
        since = at - timedelta(days=rules.similar_days)
        alike = [
            c
            for c in history
            if c.town == call.town
            and since <= c.received_at <= at
            and c.phone != call.phone
            and similarity(words, shingles(c.description)) >= rules.similar_threshold
        ]
        callers = {c.phone or c.call_id for c in alike} | {call.phone or call.call_id}
        covered = {c for trig in out if trig.rule == "address" for c in trig.calls}
        if len(callers) >= rules.similar_callers and not {c.call_id for c in alike} <= covered:
            first = min(alike, key=lambda c: c.received_at)
            ids = tuple(c.call_id for c in sorted(alike, key=lambda c: c.received_at)) + (call.call_id,)
            out.append(Trigger("similar", rules.similar_level, call.town, first.call_id, ids, str(len(callers))))
    if repeat_open and tag is not None and tag in rules.dispute_tags:
        out.append(
            Trigger("dispute", rules.dispute_level, call.town, call.order_id or call.call_id, (call.call_id,), tag)
        )
    found = danger_words(call.description, rules)
    if found:
        out.append(Trigger("danger", rules.danger_level, call.town, call.call_id, (call.call_id,), "、".join(found)))
    return out


def level_rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


# ---- states ------------------------------------------------------------------------------------------


@dataclass
class Entry:
    """One step on a warning's or a case's timeline."""

    kind: str
    at: datetime
    actor: str
    desk: str
    text: str = ""


@dataclass
class WarningState:
    id: str
    no: str
    rule: str
    level: str
    town: str
    key: str
    address: str
    phone: str
    summary: str
    calls: list[str]
    orders: list[str]
    raised_at: datetime
    desk: str
    status: str = "open"  # open | signed | closed | escalated
    signed_at: datetime | None = None
    signed_by: str = ""
    closed_at: datetime | None = None
    close_note: str = ""
    case_id: str | None = None
    updated_at: datetime | None = None
    timeline: list[Entry] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in WARN_OPEN

    def clone(self) -> WarningState:
        return replace(self, calls=list(self.calls), orders=list(self.orders), timeline=list(self.timeline))


@dataclass
class CaseState:
    id: str
    no: str
    title: str
    town: str
    address: str
    owner: str
    members: list[str]
    orders: list[str]
    opened_at: datetime
    desk: str
    follow_up: str | None  # a local date, YYYY-MM-DD
    warning_id: str | None = None
    status: str = "open"  # open | closed
    resolution: str = ""
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    timeline: list[Entry] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def clone(self) -> CaseState:
        return replace(self, members=list(self.members), orders=list(self.orders), timeline=list(self.timeline))


@dataclass
class NoticeState:
    """An outage or event notice (停水停电通知、已知事件): matching calls are recorded on it, nothing dispatched."""

    id: str
    no: str
    kind: str
    title: str
    script: str  # what the call-taker tells the caller
    towns: list[str]
    keywords: list[str]  # a call matches when its words hold one of them (empty: every call in the towns)
    owner: str  # the unit that posted it and gets the summaries (a utility, a bureau)
    starts: datetime
    ends: datetime
    every: int  # the owner gets one summary message per this many calls
    calls: list[str]
    opened_at: datetime
    desk: str
    status: str = "open"  # open | ended
    ended_at: datetime | None = None
    updated_at: datetime | None = None
    timeline: list[Entry] = field(default_factory=list)

    @property
    def town(self) -> str:
        return self.towns[0] if self.towns else ""

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def active_at(self, at: datetime) -> bool:
        return self.status == "open" and self.starts <= at <= self.ends

    def matches(self, town: str, words: str, at: datetime) -> bool:
        """Whether a call in ``town`` saying ``words`` at ``at`` is about this notice."""
        if not self.active_at(at) or town not in self.towns:
            return False
        folded = unicodedata.normalize("NFKC", words or "").lower()
        return not self.keywords or any(k.lower() in folded for k in self.keywords)

    def clone(self) -> NoticeState:
        return replace(
            self,
            towns=list(self.towns),
            keywords=list(self.keywords),
            calls=list(self.calls),
            timeline=list(self.timeline),
        )


@dataclass
class AnsweredState:
    """A call answered on the spot from the knowledge base (直接办结): stored with its tag and the answer used,
    closed without dispatch."""

    id: str
    call_id: str
    phone: str
    town: str
    tag: str
    answer_id: str
    title: str
    owner: str  # the answer's owner unit
    received_at: datetime
    desk: str
    actor: str
    at: datetime
    status: str = "answered"
    updated_at: datetime | None = None
    timeline: list[Entry] = field(default_factory=list)

    @property
    def no(self) -> str:
        return self.id

    def clone(self) -> AnsweredState:
        return replace(self, timeline=list(self.timeline))


Subject = WarningState | CaseState | NoticeState | AnsweredState


def _refuse(subject: Subject | None, kind: str, reason: str, *, redundant: bool = False) -> DomainError:
    name = subject.no if subject is not None else "-"
    status = subject.status if subject is not None else "-"
    shown = t(f"gov.status_{status}") if subject is not None else "-"
    msg = t(f"gov.refuse_{reason}", no=name, action=t(f"gov.kind_{kind}") if kind in KINDS else kind[:40], status=shown)
    cls = Redundant if redundant else DomainError
    return cls(msg, order_no=name, state=status, action=kind, reason=reason)


def _warn_raise(ev: Event, p: dict[str, Any]) -> WarningState:
    return WarningState(
        id=ev.order_id,
        no=str(p["no"]),
        rule=str(p["rule"]),
        level=str(p["level"]),
        town=str(p["town"]),
        key=str(p.get("key") or ""),
        address=str(p.get("address") or ""),
        phone=str(p.get("phone") or ""),
        summary=str(p.get("summary") or ""),
        calls=[str(c) for c in p.get("calls") or []],
        orders=[str(o) for o in p.get("orders") or []],
        raised_at=ev.event_at,
        desk=ev.desk,
        updated_at=ev.event_at,
        timeline=[Entry(ev.kind, ev.event_at, ev.actor, ev.desk, str(p.get("summary") or ""))],
    )


def _case_open(ev: Event, p: dict[str, Any]) -> CaseState:
    return CaseState(
        id=ev.order_id,
        no=str(p["no"]),
        title=str(p["title"]),
        town=str(p["town"]),
        address=str(p.get("address") or ""),
        owner=str(p["owner"]),
        members=[str(m) for m in p.get("members") or []],
        orders=list(dict.fromkeys(str(o) for o in p.get("orders") or [])),
        opened_at=ev.event_at,
        desk=ev.desk,
        follow_up=p.get("follow_up"),
        warning_id=p.get("warning_id"),
        updated_at=ev.event_at,
        timeline=[Entry(ev.kind, ev.event_at, ev.actor, ev.desk, str(p["title"]))],
    )


def _notice_post(ev: Event, p: dict[str, Any]) -> NoticeState:
    from .clock import from_db

    return NoticeState(
        id=ev.order_id,
        no=str(p["no"]),
        kind=str(p["kind"]),
        title=str(p["title"]),
        script=str(p.get("script") or ""),
        towns=list(dict.fromkeys(str(x) for x in p["towns"])),
        keywords=[str(k) for k in p.get("keywords") or []],
        owner=str(p["owner"]),
        starts=from_db(p["starts"]),
        ends=from_db(p["ends"]),
        every=int(p.get("every") or 10),
        calls=[],
        opened_at=ev.event_at,
        desk=ev.desk,
        updated_at=ev.event_at,
        timeline=[Entry(ev.kind, ev.event_at, ev.actor, ev.desk, str(p["title"]))],
    )


def apply(state: Subject | None, ev: Event) -> Subject:
    """Apply one event in place (or create the subject). Raises DomainError when the step is illegal."""
    kind, p, at = ev.kind, ev.payload, ev.event_at
    if kind == GKind.ANSWER_CALL:
        if state is not None:
            raise _refuse(state, kind, "exists", redundant=True)
        if not ev.order_id.startswith(ANSWER_PREFIX):
            raise _refuse(None, kind, "wrong_subject")
        from .clock import from_db

        call = p["call"]
        return AnsweredState(
            id=ev.order_id,
            call_id=str(call["id"]),
            phone=str(call.get("phone") or ""),
            town=str(call["town"]),
            tag=str(p["tag"]),
            answer_id=str(p["answer"]),
            title=str(p.get("title") or ""),
            owner=str(p["owner"]),
            received_at=from_db(call["received_at"]),
            desk=ev.desk,
            actor=ev.actor,
            at=ev.event_at,
            updated_at=ev.event_at,
            timeline=[Entry(ev.kind, ev.event_at, ev.actor, ev.desk, str(p.get("title") or ""))],
        )
    if isinstance(state, AnsweredState):
        raise _refuse(state, kind, "wrong_subject")
    if kind == GKind.NOTICE_POST:
        if state is not None:
            raise _refuse(state, kind, "exists", redundant=True)
        if not ev.order_id.startswith(NOTICE_PREFIX):
            raise _refuse(None, kind, "wrong_subject")
        return _notice_post(ev, p)
    if isinstance(state, NoticeState):
        if kind not in NOTICE_KINDS:
            raise _refuse(state, kind, "wrong_subject")
        if kind == GKind.NOTICE_END:
            if state.status == "ended":
                raise _refuse(state, kind, "already", redundant=True)
            state.status, state.ended_at = "ended", at
            state.timeline.append(Entry(kind, at, ev.actor, ev.desk, str(p.get("note") or "")))
        else:  # a call recorded on the notice: taken while it was on (an offline desk may send it later)
            call_id = str(p["call"]["id"])
            if call_id in state.calls:
                raise _refuse(state, kind, "has_order", redundant=True)
            from .clock import from_db

            received = from_db(p["call"]["received_at"])
            if not (state.starts <= received <= (state.ended_at or state.ends)):
                raise _refuse(state, kind, "not_open")
            state.calls.append(call_id)
        state.updated_at = max(state.updated_at or at, at)
        return state
    if kind == GKind.WARN_RAISE:
        if state is not None:
            raise _refuse(state, kind, "exists", redundant=True)
        if not ev.order_id.startswith(WARN_PREFIX):
            raise _refuse(None, kind, "wrong_subject")
        return _warn_raise(ev, p)
    if kind == GKind.CASE_OPEN:
        if state is not None:
            raise _refuse(state, kind, "exists", redundant=True)
        if not ev.order_id.startswith(CASE_PREFIX):
            raise _refuse(None, kind, "wrong_subject")
        return _case_open(ev, p)
    if state is None:
        raise _refuse(None, kind, "unknown_subject")
    entry = Entry(kind, at, ev.actor, ev.desk, str(p.get("note") or p.get("text") or p.get("resolution") or ""))
    if kind in NOTICE_KINDS:
        raise _refuse(state, kind, "wrong_subject")
    if isinstance(state, WarningState):
        if kind not in WARN_KINDS:
            raise _refuse(state, kind, "wrong_subject")
        if kind == GKind.WARN_SIGN:
            if state.status == "signed":
                raise _refuse(state, kind, "already", redundant=True)
            if state.status != "open":
                raise _refuse(state, kind, "not_open")
            state.status, state.signed_at, state.signed_by = "signed", at, ev.actor
        elif kind == GKind.WARN_MEASURE:
            if state.status != "signed":
                raise _refuse(state, kind, "not_signed")
        elif kind == GKind.WARN_CLOSE:
            if state.status == "closed":
                raise _refuse(state, kind, "already", redundant=True)
            if state.status != "signed":
                raise _refuse(state, kind, "not_signed")
            state.status, state.closed_at, state.close_note = "closed", at, str(p["note"])
        elif kind == GKind.WARN_ESCALATE:
            if state.status == "escalated":
                raise _refuse(state, kind, "already", redundant=True)
            if not state.is_open:
                raise _refuse(state, kind, "not_open")
            state.status, state.closed_at, state.case_id = "escalated", at, str(p["case_id"])
        else:
            raise _refuse(state, kind, "wrong_subject")
    else:
        if kind not in CASE_KINDS:
            raise _refuse(state, kind, "wrong_subject")
        if state.status != "open":
            raise _refuse(
                state, kind, "already" if kind == GKind.CASE_CLOSE else "closed", redundant=kind == GKind.CASE_CLOSE
            )
        if kind == GKind.CASE_ADD:
            oid = str(p["order_id"])
            if oid in state.orders:
                raise _refuse(state, kind, "has_order", redundant=True)
            if len(state.orders) >= MAX_CASE_ORDERS:
                raise _refuse(state, kind, "full")
            state.orders.append(oid)
            entry.text = str(p.get("order_no") or oid)
        elif kind == GKind.CASE_CLOSE:
            state.status, state.closed_at, state.resolution = "closed", at, str(p["resolution"])
            state.follow_up = p.get("follow_up") or state.follow_up
        elif kind != GKind.CASE_NOTE:
            raise _refuse(state, kind, "wrong_subject")
    state.timeline.append(entry)
    state.updated_at = max(state.updated_at or at, at)
    return state


def step(state: Subject | None, ev: Event) -> tuple[Subject | None, str, str | None]:
    """Like :func:`models.machine.step`: (new state, applied | redundant | conflict | unknown, reason); ``state``
    itself is never modified."""
    if ev.kind not in KINDS:
        return state, "unknown", None
    return step_with(apply, state, ev)


@dataclass
class Replayed:
    state: Subject | None
    statuses: dict[str, str]
    reasons: dict[str, str]


def replay(events: Iterable[Event]) -> Replayed:
    state: Subject | None = None
    statuses: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for ev in events:
        state, status, reason = step(state, ev)
        statuses[ev.id] = status
        if reason is not None:
            reasons[ev.id] = reason
    return Replayed(state, statuses, reasons)


# ---- who holds what ------------------------------------------------------------------------------------


def holders(state: Subject, station_of: dict[str, str]) -> list[str]:
    """The assignee codes whose desks see and act on a subject: a warning's town centre and police station; a
    case's owner, members and town centre. ``station_of``: town code → its station's code."""
    towns = state.towns if isinstance(state, NoticeState) else [state.town]
    if isinstance(state, AnsweredState):
        return [state.owner, f"ZZ-{state.town}"]
    codes: list[str] = []
    for town in towns:
        codes.append(f"ZZ-{town}")
        if town in station_of:
            codes.append(station_of[town])
    if isinstance(state, CaseState):
        codes += [state.owner, *state.members]
    if isinstance(state, NoticeState):
        codes.insert(0, state.owner)
    return list(dict.fromkeys(codes))


def _stations(ref: Reference) -> dict[str, str]:
    return {code: town.station_code for code, town in ref.towns.items()}


def may_see(desk: Desk, ref: Reference, s: Subject) -> bool:
    if desk.sees_all():
        return True
    towns = s.towns if isinstance(s, NoticeState) else [s.town]
    if desk.role == Role.TOWNSHIP and desk.town in towns:
        return True
    return bool(desk.assignee_codes(ref) & set(holders(s, _stations(ref))))


def may_act(desk: Desk, ref: Reference, s: Subject | None, kind: str) -> bool:
    """Who may take a step: warnings are raised by desks that take calls, signed, acted on, closed and escalated by
    the town's centre and police station (and supervisors); a case is kept by its town's centre, its owner and
    members (notes, orders) and closed by its owner or the centre; a call-taker may add a new call's order."""
    role = desk.role
    if role is None or role == Role.SUPERVISOR:
        return True
    if kind == GKind.WARN_RAISE:
        return role in (Role.CALL_TAKER, Role.TOWNSHIP)
    if kind == GKind.NOTICE_POST:
        return role == Role.DEPARTMENT  # a utility's or a bureau's desk posts its own (the owner is checked too)
    if kind == GKind.ANSWER_CALL:
        return role in (Role.CALL_TAKER, Role.TOWNSHIP)  # the desks that take calls
    if s is None:
        return False
    if role == Role.CALL_TAKER:
        return kind in (GKind.CASE_ADD, GKind.NOTICE_CALL)
    if isinstance(s, NoticeState):
        if kind == GKind.NOTICE_CALL:
            return role == Role.TOWNSHIP and desk.town in s.towns
        return kind == GKind.NOTICE_END and s.owner in desk.assignee_codes(ref)
    if kind == GKind.CASE_OPEN:
        return may_see(desk, ref, s)
    if not may_see(desk, ref, s):
        return False
    if isinstance(s, CaseState) and kind == GKind.CASE_CLOSE:
        return (role == Role.TOWNSHIP and desk.town == s.town) or s.owner in desk.assignee_codes(ref)
    return True


def parse_follow_up(text: str | None) -> str | None:
    """A follow-up date typed as YYYY-MM-DD (None when empty); raises ValueError when it is not a date."""
    if text is None or not text.strip():
        return None
    return date.fromisoformat(text.strip()).isoformat()
