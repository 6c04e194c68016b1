"""One validation of every event, the same on the desk and on the sync server (pure: no I/O).

A strict schema per event kind (:data:`SCHEMAS`): every payload field's type, length, range, enumeration or
reference code; the envelope (ids, actor, times); times within sane bounds (not before 2000, not in the future
beyond ``CLOCK_SKEW``, the event not after its recording) and in order (nothing before the order's dispatch,
nothing on an assignment before that assignment was dispatched, within twice the skew); deadlines recomputed from the
tag's limits and refused when the payload says otherwise. :func:`validate` returns a :class:`Problem` with a
localized message, or None.

The schema is data, so tests generate their hostile cases from it (tests/hostile/).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from .clock import from_db, to_db
from .governance import KINDS as GOV_KINDS
from .governance import (
    LEVELS,
    MAX_CASE_MEMBERS,
    MAX_NOTICE_TOWNS,
    NOTICE_TYPES,
    RULES,
    GKind,
    Subject,
    is_subject,
    parse_follow_up,
)
from .grassroots import GRASSROOTS
from .i18n import t
from .machine import (
    ASSIGNMENT_ACTIONS,
    MAX_EXTENSION_HOURS,
    RESULTS,
    SATISFACTIONS,
    VISIBILITIES,
    Action,
    OrderState,
    deadlines,
)
from .merging import MAX_CHILDREN, MAX_MERGE
from .reference import Reference
from .routing import MAX_CO_UNITS

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(minutes=5)  # a call may be received at most this long after its dispatch says
# How far a desk's clock may honestly be off the checking clock. Desks keep time by NTP (the console warns when
# the server's clock differs by more than half of this); ten minutes covers a machine that lost its time
# source for a day or two. A desk further off has its events refused with the reason: a step dated before the
# one it follows would grade a department on a time nobody saw.
CLOCK_SKEW = timedelta(minutes=10)
# Two honest desks' clocks may differ by twice that: a step written on one desk may carry a time before the
# previous step written on another. Within that, an event's order is the state machine's business.
ORDER_SKEW = 2 * CLOCK_SKEW
MODES = ("single", "dual")
ROLES = ("primary", "police", "co")
SHORT, NAME, TEXT = 64, 100, 4000
NOTE_LEN = 2000  # a progress note: models.text.LIMITS["note"]


@dataclass(frozen=True)
class Spec:
    """What one field must be. ``type``: str | int | bool | time | obj | list; ``codes``: a reference set."""

    type: str
    required: bool = True
    nullable: bool = False
    max_len: int | None = None
    lo: int | None = None
    hi: int | None = None
    choices: tuple[str, ...] | None = None
    codes: str | None = None  # tag | town | category | dept | assignee
    fields: Mapping[str, Spec] = field(default_factory=dict)
    items: Spec | None = None
    max_items: int | None = None
    min_items: int = 1


def _s(n: int, **kw: Any) -> Spec:
    return Spec("str", max_len=n, **kw)


CALL = Spec(
    "obj",
    fields={
        "id": _s(SHORT),
        "phone": _s(32),
        "name": _s(NAME, required=False),
        "town": _s(SHORT, codes="town"),
        "address": _s(500, required=False),
        "description": _s(TEXT),
        "received_at": Spec("time"),
        "village": _s(SHORT, required=False, codes="village"),
        "grid": _s(SHORT, required=False, codes="grid"),
    },
)
ASSIGNMENT = Spec(
    "obj",
    fields={
        "id": _s(SHORT),
        "role": _s(16, choices=ROLES),
        "assignee": _s(SHORT, codes="assignee"),
        "dept": _s(SHORT, codes="dept"),
        "town": _s(SHORT, nullable=True, required=False, codes="town"),
        "sign_due": Spec("time"),
        "arrive_due": Spec("time", nullable=True, required=False),
        "feedback_due": Spec("time"),
    },
)
NOTE = _s(TEXT, required=False)
PERSON = _s(SHORT, required=False)  # the person (phone page user id) who took the action
LOCATION = Spec(
    "obj",
    required=False,
    fields={
        "lat": Spec("num", lo=-90, hi=90),
        "lon": Spec("num", lo=-180, hi=180),
        "accuracy_m": Spec("num", lo=0, hi=1_000_000, required=False, nullable=True),
    },
)
PHOTO = Spec(
    "obj",
    fields={
        "sha256": Spec("str", max_len=64, choices=None, codes="sha256"),
        "size": Spec("int", lo=1, hi=8 * 1024 * 1024),
        "mime": _s(16, choices=("image/jpeg", "image/png", "image/webp")),
    },
)

SCHEMAS: dict[str, dict[str, Spec]] = {
    Action.DISPATCH: {
        "order_no": _s(40),
        "tag": _s(8, codes="tag"),
        "category": _s(4, codes="category"),
        "town": _s(SHORT, codes="town"),
        "mode": _s(16, choices=MODES),
        "onsite": Spec("bool"),
        "one_team": Spec("bool", required=False),
        "call": CALL,
        "override": Spec(
            "obj",
            required=False,
            nullable=True,
            fields={"dept": _s(SHORT, codes="assignee"), "reason": _s(TEXT, nullable=True)},
        ),
        "repeat_of": _s(SHORT, required=False, nullable=True),
        "assignments": Spec("list", items=ASSIGNMENT, max_items=1 + MAX_CO_UNITS),
        "rule": _s(NAME, required=False),
        "informed": Spec("list", required=False, items=_s(SHORT, codes="assignee"), max_items=4),
        "parent": Spec("obj", required=False, fields={"id": _s(SHORT), "order_no": _s(40)}),  # a split's child
    },
    Action.SIGN: {"note": NOTE, "person": PERSON},
    Action.ARRIVE: {"note": NOTE, "person": PERSON, "location": LOCATION, "no_location": Spec("bool", required=False)},
    Action.FEEDBACK: {
        "result": _s(16, choices=RESULTS),
        "text": _s(TEXT),
        "person": PERSON,
        "photos": Spec("list", required=False, items=PHOTO, max_items=4, min_items=0),
    },
    Action.RETURN: {"reason": _s(TEXT), "person": PERSON},
    Action.CANCEL: {"reason": _s(TEXT)},
    Action.REASSIGN: {"assignment": ASSIGNMENT, "reason": NOTE},
    Action.EXTEND: {"hours": Spec("int", lo=1, hi=MAX_EXTENSION_HOURS), "reason": _s(TEXT), "person": PERSON},
    Action.APPROVE_EXTENSION: {"feedback_due": Spec("time"), "note": NOTE},
    Action.REFUSE_EXTENSION: {"reason": NOTE},
    Action.ESCALATE: {"note": _s(TEXT)},
    Action.VISIT: {"satisfaction": _s(16, choices=SATISFACTIONS), "note": NOTE},
    Action.REOPEN: {"reason": NOTE, "feedback_due": Spec("time")},
    Action.CLOSE: {"note": NOTE},
    Action.JUDGE_RETURN: {"justified": Spec("bool"), "note": NOTE},
    Action.LINK: {"call": CALL},
    Action.HAND: {"person": _s(SHORT), "name": _s(NAME), "note": NOTE},
    # A progress note: its words (the same bound as a feedback text) and who it is for.
    Action.NOTE: {"text": _s(NOTE_LEN), "visibility": _s(16, choices=VISIBILITIES), "person": PERSON},
    Action.URGE: {"note": NOTE},
    # Merge and split (models/merging.py): one id shared by the events of one step on several orders.
    Action.MERGED: {
        "merge": _s(SHORT),
        "orders": Spec(
            "list",
            items=Spec("obj", fields={"id": _s(SHORT), "order_no": _s(40), "call": CALL}),
            max_items=MAX_MERGE,
        ),
        "reason": NOTE,
    },
    Action.MERGE_INTO: {"merge": _s(SHORT), "into": _s(SHORT), "into_no": _s(40), "reason": NOTE},
    Action.UNMERGE: {
        "merge": _s(SHORT),
        "from": _s(SHORT),
        "reason": NOTE,
        "sign_due": Spec("time"),
        "arrive_due": Spec("time", nullable=True, required=False),
        "feedback_due": Spec("time"),
    },
    Action.UNMERGED: {"merge": _s(SHORT), "order_id": _s(SHORT), "order_no": _s(40), "reason": NOTE},
    Action.SPLIT: {
        "split": _s(SHORT),
        "children": Spec(
            "list",
            items=Spec("obj", fields={"id": _s(SHORT), "order_no": _s(40), "assignee": _s(SHORT, codes="assignee")}),
            max_items=MAX_CHILDREN,
        ),
        "reason": NOTE,
    },
}
# Risk warnings and cases (models/governance.py): subjects of the log beside orders, in their own table (the
# hostile-event generator of tests/hostile builds order events from SCHEMAS; tests/test_governance.py these).
_IDS = Spec("list", items=_s(SHORT), max_items=500, min_items=0)
_DAY = _s(10, required=False, nullable=True)
SUBJECT_SCHEMAS: dict[str, dict[str, Spec]] = dict(
    {
        GKind.WARN_RAISE: {
            "no": _s(40),
            "rule": _s(16, choices=RULES),
            "level": _s(16, choices=LEVELS),
            "town": _s(SHORT, codes="town"),
            "key": _s(500),
            "address": _s(500, required=False),
            "phone": _s(32, required=False),
            "summary": _s(TEXT),
            "calls": _IDS,
            "orders": _IDS,
        },
        GKind.WARN_SIGN: {"note": NOTE},
        GKind.WARN_MEASURE: {"note": _s(NOTE_LEN)},
        GKind.WARN_CLOSE: {"note": _s(NOTE_LEN)},
        GKind.WARN_ESCALATE: {"case_id": _s(SHORT), "note": NOTE},
        GKind.CASE_OPEN: {
            "no": _s(40),
            "title": _s(NAME),
            "town": _s(SHORT, codes="town"),
            "address": _s(500, required=False),
            "owner": _s(SHORT, codes="assignee"),
            "members": Spec("list", items=_s(SHORT, codes="assignee"), max_items=MAX_CASE_MEMBERS, min_items=0),
            "orders": _IDS,
            "follow_up": _DAY,
            "warning_id": _s(SHORT, required=False, nullable=True),
        },
        GKind.CASE_ADD: {"order_id": _s(SHORT), "order_no": _s(40)},
        GKind.CASE_NOTE: {"text": _s(NOTE_LEN)},
        GKind.CASE_CLOSE: {"resolution": _s(NOTE_LEN), "follow_up": _DAY},
        GKind.NOTICE_POST: {
            "no": _s(40),
            "kind": _s(16, choices=NOTICE_TYPES),
            "title": _s(NAME),
            "script": _s(TEXT, required=False),
            "towns": Spec("list", items=_s(SHORT, codes="town"), max_items=MAX_NOTICE_TOWNS),
            "keywords": Spec("list", items=_s(20), max_items=20, min_items=0),
            "owner": _s(SHORT, codes="assignee"),
            "starts": Spec("time"),
            "ends": Spec("time"),
            "every": Spec("int", lo=1, hi=10000),
        },
        GKind.NOTICE_CALL: {"call": CALL},
        GKind.NOTICE_END: {"note": NOTE},
        GKind.ANSWER_CALL: {
            "call": CALL,
            "tag": _s(8, codes="tag"),
            "answer": _s(SHORT),
            "title": _s(NAME, required=False),
            "owner": _s(SHORT, codes="assignee"),
        },
    }
)
ENVELOPE: dict[str, Spec] = {"id": _s(SHORT), "order_id": _s(SHORT), "actor": _s(NAME), "desk": _s(NAME)}


@dataclass(frozen=True)
class Problem:
    """Why an event is invalid: the field (dotted path) and a localized message."""

    field: str
    code: str  # type | size | range | choice | code | missing | extra | time | order | deadline | kind
    message: str

    def __str__(self) -> str:
        return self.message


class Invalid(Exception):
    """A field that does not fit. A compiled check raises it about the value it was given (``path`` None) or a
    key of it; each enclosing object or list adds its key or index as the error passes (:func:`_under`), so a
    path is only ever built for a field that is wrong, and the message from the whole path (:attr:`problem`)."""

    def __init__(self, path: str | None, code: str, **kw: Any) -> None:
        super().__init__(path)
        self.parts: list[str | int] = [] if path is None else [path]  # innermost first
        self.code = code
        self.kw = kw

    @property
    def path(self) -> str:
        out = ""
        for seg in reversed(self.parts):
            out = f"{out}[{seg}]" if isinstance(seg, int) else f"{out}.{seg}" if out else seg
        return out

    @property
    def problem(self) -> Problem:
        path = self.path
        return Problem(path, self.code, t(f"validate.{self.code}", field=path, **self.kw))


def _under(seg: str | int, exc: Invalid) -> Invalid:
    """``exc`` with its path put under ``seg`` (a field name, or a list index)."""
    exc.parts.append(seg)
    return exc


_CODES: dict[str, Callable[[Reference, str], bool]] = {
    "tag": lambda ref, v: v in ref.tags,
    "town": lambda ref, v: v in ref.towns,
    "category": lambda ref, v: v in ref.categories,
    "dept": lambda ref, v: v in ref.departments or v in GRASSROOTS,
    "village": lambda ref, v: v in ref.villages,
    "grid": lambda ref, v: v in ref.grids,
    "sha256": lambda _ref, v: len(v) == 64 and all(c in "0123456789abcdef" for c in v),
}


def _known_code(name: str) -> Callable[[Reference, str], bool]:
    """Whether a value is a code of the reference set ``name`` (any other name: an assignee's code)."""
    return _CODES.get(name) or (lambda ref, v: ref.assignee_known(v))


Check = Callable[[Any, Reference], None]  # raises Invalid with a path relative to the value
_COMPILED: dict[int, tuple[Spec, Check]] = {}  # by the spec's id; the spec is kept so the id stays its own


def check_value(spec: Spec, value: Any, key: str, ref: Reference) -> None:
    """Raise :class:`Invalid` (at ``key``) unless ``value`` fits ``spec``."""
    try:
        _compiled(spec)(value, ref)
    except Invalid as exc:
        raise _under(key, exc) from None


_FIELD_CHECKS: dict[int, tuple[Mapping[str, Spec], Check]] = {}


def check_fields(fields: Mapping[str, Spec], data: Mapping[str, Any], ref: Reference) -> None:
    """Raise :class:`Invalid` unless the object ``data`` has exactly the ``fields`` (required ones, each fitting)."""
    got = _FIELD_CHECKS.get(id(fields))
    if got is None or got[0] is not fields:
        got = _FIELD_CHECKS[id(fields)] = (fields, _fields_check(fields))
    got[1](data, ref)


def _compiled(spec: Spec) -> Check:
    got = _COMPILED.get(id(spec))
    if got is None or got[0] is not spec:
        got = _COMPILED[id(spec)] = (spec, _compile(spec))
    return got[1]


def _fields_check(fields: Mapping[str, Spec]) -> Check:
    """The check of an object's fields (no unknown key, every required one, each fitting its spec, in order).

    Written once as straight-line code (one ``if`` per field, no loop over the specs): the commonest values
    that fit are passed inline, without the field's check being called (:func:`_inline`: a text within its
    size and, where it has them, among its choices or in its reference set; a bool; a stored time; a null where
    null is allowed; an object's fields checked directly); anything else goes through the field's check, so
    every refusal is its refusal, with the same path."""
    env: dict[str, Any] = {
        "Invalid": Invalid,
        "_under": _under,
        "_time_fits": _time_fits,
        "_MISSING": _MISSING,
        "known": frozenset(fields),
    }
    lines = [
        "def check(data, ref):",
        "    if not known.issuperset(data):",
        "        for key in data:",
        "            if key not in known:",
        "                raise Invalid(str(key)[:40], 'extra')",
    ]
    for i, (key, spec) in enumerate(fields.items()):
        mode, limit, among, nullable = _inline(spec)
        env[f"fn{i}"], env[f"among{i}"] = _compiled(spec), among
        k = repr(key)
        test = {
            _TEXT: f"type(v) is str and len(v) <= {limit}",
            _CHOICE: f"type(v) is str and len(v) <= {limit} and v in among{i}",
            _CODE: f"type(v) is str and len(v) <= {limit} and v in ref.{among}",
            _PRED: f"type(v) is str and len(v) <= {limit} and among{i}(ref, v)",
            _BOOL: "type(v) is bool",
            _TIME: "_time_fits(v)",
            _OBJ: "type(v) is dict",
        }.get(mode)

        def call(fn: str, k: str = k) -> list[str]:
            return [
                "        try:",
                f"            {fn}(v, ref)",
                "        except Invalid as exc:",
                f"            raise _under({k}, exc) from None",
            ]

        lines += [f"    v = data.get({k}, _MISSING)", "    if v is _MISSING:"]
        lines += [f"        raise Invalid({k}, 'missing')"] if spec.required else ["        pass"]
        lines += ["    elif v is None:", *(["        pass"] if nullable else call(f"fn{i}"))]
        if test is not None:
            lines += [f"    elif {test}:", *(call(f"among{i}") if mode == _OBJ else ["        pass"])]
        lines += ["    else:", *call(f"fn{i}")]
    code = "\n".join(lines)
    exec(compile(code, f"<fields {', '.join(fields)[:60]}>", "exec"), env)  # noqa: S102 (our own specs only)
    check: Check = env["check"]
    return check


_MISSING = object()


def _time_fits(value: Any) -> bool:
    """A stored time the time check passes, read as from_db reads it first (else: the check decides)."""
    if type(value) is str and len(value) == 27 and value[-1] == "Z":
        try:
            return datetime.fromisoformat(value) >= EARLIEST
        except ValueError:
            return False
    return False


_CALL, _TEXT, _CHOICE, _CODE, _PRED, _BOOL, _TIME, _OBJ = range(8)
_CODE_SETS = {"tag": "tags", "town": "towns", "category": "categories", "village": "villages", "grid": "grids"}


def _inline(spec: Spec) -> tuple[int, int, Any, bool]:
    """How a field's fitting values are recognised inline: (mode, size limit, choices or the name of the
    reference's set, nullable). Only where the inline test passing means the full check passes."""
    nullable = spec.nullable
    if spec.type == "bool":
        return _BOOL, 0, None, nullable
    if spec.type == "time":
        return _TIME, 0, None, nullable
    if spec.type == "obj":  # a dict: its fields' check, called directly (what the object's check calls)
        return _OBJ, 0, _fields_check(spec.fields), nullable
    if spec.type != "str" or spec.max_len is None:
        return _CALL, 0, None, nullable
    if spec.choices is None and spec.codes is None:
        return _TEXT, spec.max_len, None, nullable
    if spec.codes is None:
        return _CHOICE, spec.max_len, frozenset(spec.choices or ()), nullable
    if spec.choices is None and spec.codes in _CODE_SETS:
        return _CODE, spec.max_len, _CODE_SETS[spec.codes], nullable
    if spec.choices is None:  # an assignee, a department, a photo's hash: its code test, called directly
        return _PRED, spec.max_len, _known_code(spec.codes), nullable
    return _CALL, 0, None, nullable


def _plain_limit(spec: Spec) -> int | None:
    """The size limit of a text field with no other rule (no choices, no codes), checked inline; else None."""
    mode, limit, _among, _nullable = _inline(spec)
    return limit if mode == _TEXT else None


def _compile(spec: Spec) -> Check:
    """One spec as a function: the same checks in the same order as ever, decided once instead of per value."""
    kind, nullable = spec.type, spec.nullable

    def null(_value: Any) -> bool:  # None: fine when nullable, else a type error
        if nullable:
            return True
        raise Invalid(None, "type", expected=kind)

    if kind == "time":

        def check_time(value: Any, _ref: Reference) -> None:
            if value is None and null(value):
                return
            if not isinstance(value, str):
                raise Invalid(None, "type", expected=kind)
            try:
                when = from_db(value)
            except ValueError:
                raise Invalid(None, "type", expected=kind) from None
            _bounds(when, None)

        return check_time
    if kind == "str":
        max_len, choices = spec.max_len, spec.choices
        codes = None if spec.codes is None else _known_code(spec.codes)

        def check_str(value: Any, ref: Reference) -> None:
            if value is None and null(value):
                return
            if not isinstance(value, str):
                raise Invalid(None, "type", expected=kind)
            if max_len is not None and len(value) > max_len:
                raise Invalid(None, "size", limit=max_len)
            if choices is not None and value not in choices:
                raise Invalid(None, "choice", value=value[:40], choices="/".join(choices))
            if codes is not None and not codes(ref, value):
                raise Invalid(None, "code", value=value[:40])

        return check_str
    if kind in ("int", "num"):
        lo, hi = spec.lo, spec.hi

        def check_number(value: Any, _ref: Reference) -> None:
            if value is None and null(value):
                return
            if kind == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise Invalid(None, "type", expected="int")
            elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise Invalid(None, "type", expected="number")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise Invalid(None, "range", lo=lo, hi=hi)

        return check_number
    if kind == "bool":

        def check_bool(value: Any, _ref: Reference) -> None:
            if value is None and null(value):
                return
            if not isinstance(value, bool):
                raise Invalid(None, "type", expected="bool")

        return check_bool
    if kind == "obj":
        inner = _fields_check(spec.fields)

        def check_obj(value: Any, ref: Reference) -> None:
            if value is None and null(value):
                return
            if not isinstance(value, dict):
                raise Invalid(None, "type", expected="object")
            inner(value, ref)

        return check_obj
    if kind == "list":
        assert spec.items is not None
        item, least, most = _compiled(spec.items), spec.min_items, spec.max_items

        def check_list(value: Any, ref: Reference) -> None:
            if value is None and null(value):
                return
            if not isinstance(value, list):
                raise Invalid(None, "type", expected="list")
            if len(value) < least or (most is not None and len(value) > most):
                raise Invalid(None, "size", limit=most)
            for i, v in enumerate(value):
                try:
                    item(v, ref)
                except Invalid as exc:
                    raise _under(f"[{i}]", exc) from None

        return check_list

    def check_other(value: Any, _ref: Reference) -> None:  # a type with no rule of its own: only None matters
        if value is None:
            null(value)

    return check_other


def _bounds(when: datetime, path: str | None) -> None:
    if when < EARLIEST:
        raise Invalid(path, "time", when=to_db(when)[:19])


_ENVELOPE_PARTS = [(key, spec, _plain_limit(spec)) for key, spec in ENVELOPE.items()]


def validate(
    kind: str,
    payload: Any,
    *,
    ref: Reference,
    event_at: datetime,
    recorded_at: datetime,
    now: datetime,
    state: OrderState | Subject | None = None,
    assignment_id: str | None = None,
    envelope: Mapping[str, Any] | None = None,
    future: timedelta = CLOCK_SKEW,
) -> Problem | None:
    """The problem with an event, or None. ``state``: the order (or warning, case, notice) before it (None: not known here)."""
    try:
        _validate(kind, payload, ref, event_at, recorded_at, now, state, assignment_id, envelope or {}, future)
    except Invalid as exc:
        return exc.problem
    return None


def validate_event(
    ev: Any, *, ref: Reference, now: datetime, state: OrderState | Subject | None = None, future: timedelta = CLOCK_SKEW
) -> Problem | None:
    """:func:`validate` for a :class:`models.machine.Event`."""
    envelope = {"id": ev.id, "order_id": ev.order_id, "actor": ev.actor, "desk": ev.desk}
    try:  # validate's body, without its keywords (the server asks for every event of a push)
        _validate(ev.kind, ev.payload, ref, ev.event_at, ev.recorded_at, now, state, ev.assignment_id, envelope, future)
    except Invalid as exc:
        return exc.problem
    return None


def _validate(
    kind: str,
    p: Any,
    ref: Reference,
    event_at: datetime,
    recorded_at: datetime,
    now: datetime,
    state: OrderState | Subject | None,
    assignment_id: str | None,
    envelope: Mapping[str, Any],
    future: timedelta,
) -> None:
    schema = SCHEMAS.get(kind) or SUBJECT_SCHEMAS.get(kind)
    if schema is None:
        return  # a kind a newer version wrote: kept, shown as unknown, never projected
    for key, spec, plain in _ENVELOPE_PARTS:
        if key in envelope:
            value = envelope[key]
            if plain is not None and type(value) is str and len(value) <= plain:
                continue  # a plain text field within its size: what the full check would pass
            check_value(spec, value, key, ref)
    if not isinstance(p, dict):
        raise Invalid("payload", "type", expected="object")
    check_fields(schema, p, ref)
    # times: sane bounds, the event not after its recording, nothing recorded in the future
    _bounds(event_at, "event_at")
    _bounds(recorded_at, "recorded_at")
    latest = now + future
    if recorded_at > latest:
        raise Invalid("recorded_at", "future", when=to_db(recorded_at)[:19])
    if event_at > latest:  # may follow its recording: a desk moves a step to after the previous one
        raise Invalid("event_at", "future", when=to_db(event_at)[:19])
    subject = envelope.get("order_id")
    if isinstance(subject, str) and is_subject(subject) != (kind in GOV_KINDS):
        raise Invalid("order_id", "code", value=subject[:40])  # a warning's step on an order, or the reverse
    if kind == GKind.NOTICE_POST and from_db(p["ends"]) <= from_db(p["starts"]):
        raise Invalid("ends", "order", when=p["starts"][:19])
    if kind in GOV_KINDS:
        if p.get("follow_up") is not None:
            try:
                parse_follow_up(p["follow_up"])
            except ValueError:
                raise Invalid("follow_up", "type", expected="YYYY-MM-DD") from None
        return
    if kind in ASSIGNMENT_ACTIONS and not isinstance(assignment_id, str):
        raise Invalid("assignment_id", "missing")
    if kind == Action.DISPATCH:
        _dispatch(p, ref, event_at)
        return
    if state is None:
        return  # the order is not known here: the state machine marks it a conflict
    order = cast(OrderState, state)  # a subject's state comes with a subject's kind, which returned above
    if event_at < order.created_at - ORDER_SKEW:
        raise Invalid("event_at", "order", when=to_db(order.created_at)[:19])
    target = order.find_assignment(assignment_id)
    # Not before the assignment's dispatch: the desk acting on it must have seen that. The assignment's later
    # steps are not compared: a desk offline for a day may honestly have arrived before another desk's sign-off
    # of the same assignment reached the server (the state machine orders such steps and marks conflicts).
    if target is not None and event_at < target.dispatched_at - ORDER_SKEW:
        raise Invalid("event_at", "order", when=to_db(target.dispatched_at)[:19])
    tag = ref.tags.get(order.tag)
    if kind == Action.REASSIGN and tag is not None:
        _same_dues(p["assignment"], deadlines(ref, tag.code, event_at), "assignment")
    elif kind == Action.REOPEN and tag is not None:
        _same_due(p["feedback_due"], event_at + timedelta(hours=tag.feedback_h), "feedback_due")
    elif kind == Action.UNMERGE and tag is not None:  # the withdrawn assignments' fresh deadlines
        _same_dues(p, deadlines(ref, tag.code, event_at), "")
    elif kind == Action.APPROVE_EXTENSION and target is not None and target.ext_hours:
        _same_due(p["feedback_due"], target.feedback_due + timedelta(hours=target.ext_hours), "feedback_due")


def _dispatch(p: dict[str, Any], ref: Reference, at: datetime) -> None:
    tag = ref.tags[p["tag"]]
    if p["category"] != tag.category:
        raise Invalid("category", "mismatch", value=p["category"], expected=tag.category)
    if p["onsite"] != tag.onsite:
        raise Invalid("onsite", "mismatch", value=p["onsite"], expected=tag.onsite)
    if p["call"]["town"] != p["town"]:
        raise Invalid("call.town", "mismatch", value=p["call"]["town"], expected=p["town"])
    village = p["call"].get("village")
    if village is not None and ref.villages[village].town != p["town"]:
        raise Invalid("call.village", "mismatch", value=village, expected=p["town"])
    grid = p["call"].get("grid")
    if grid is not None and (village is None or ref.grids[grid].village != village):
        raise Invalid("call.grid", "mismatch", value=grid, expected=village or "-")
    if from_db(p["call"]["received_at"]) > at + FUTURE_SLACK:
        raise Invalid("call.received_at", "future", when=p["call"]["received_at"][:19])
    dues = deadlines(ref, tag.code, at)
    roles = [a["role"] for a in p["assignments"]]
    helpers = sum(r != "primary" for r in roles)  # the police station and the co-handling units
    if roles[0] != "primary" or roles.count("primary") != 1 or roles.count("police") > 1 or helpers > MAX_CO_UNITS:
        raise Invalid("assignments", "choice", value="/".join(roles), choices="primary[/police][/co…≤3]")
    codes = [a["assignee"] for a in p["assignments"]]
    if len(set(codes)) != len(codes):
        raise Invalid("assignments", "choice", value="/".join(codes), choices="distinct units")
    for i, a in enumerate(p["assignments"]):
        _same_dues(a, dues, f"assignments[{i}]")


def _same_dues(a: dict[str, Any], dues: dict[str, str | None], path: str) -> None:
    for key, want in dues.items():
        have = a.get(key)
        if have != want:
            raise Invalid(f"{path}.{key}" if path else key, "deadline", value=str(have)[:27], expected=str(want))


def _same_due(have: str, want: datetime, path: str) -> None:
    if have != to_db(want):
        raise Invalid(path, "deadline", value=have[:27], expected=to_db(want))
