"""Risk warnings and task-force cases on one desk: commands, queries, the rules run on every call, projection.

Each command is one ``BEGIN IMMEDIATE`` transaction that appends the event(s) to the desk's chain and
rewrites the subject's projection row from its replayed state (models/governance.py), like store/orders.py does
for orders. The rules run inside the transaction that records a call (:func:`raise_for_call`, called by
``OrderStore.dispatch`` and ``OrderStore.link``), so a warning is raised by the call that crosses a threshold
and never twice for one open problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fengqiao.models import governance as gov
from fengqiao.models import roles
from fengqiao.models.clock import Clock, ensure_utc, from_db, local_day, system_clock, to_db, to_db_opt
from fengqiao.models.errors import NotFound, PermissionDenied, ValidationError
from fengqiao.models.events import new_id
from fengqiao.models.governance import (
    AnsweredState,
    CaseState,
    GKind,
    NoticeState,
    RecentCall,
    Trigger,
    WarningRules,
    WarningState,
    may_act,
    may_see,
)
from fengqiao.models.i18n import t
from fengqiao.models.machine import Action, Event, Intent, Status, apply, build
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.roles import Desk, Role
from fengqiao.models.text import check_text

from .db import Connection, Database
from .projection import append_events, load_events_of, save_order

WARNING_COLUMNS = (
    "id",
    "no",
    "rule",
    "level",
    "town",
    "key",
    "addr_key",
    "address",
    "phone",
    "summary",
    "calls",
    "orders",
    "status",
    "raised_at",
    "desk",
    "signed_at",
    "signed_by",
    "closed_at",
    "close_note",
    "case_id",
    "measures",
    "updated_at",
)
CASE_COLUMNS = (
    "id",
    "no",
    "title",
    "town",
    "address",
    "addr_key",
    "owner",
    "members",
    "status",
    "opened_at",
    "desk",
    "follow_up",
    "warning_id",
    "resolution",
    "closed_at",
    "updated_at",
)


def _upsert(table: str, cols: Sequence[str]) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


NOTICE_COLUMNS = (
    "id",
    "no",
    "kind",
    "title",
    "script",
    "towns",
    "keywords",
    "owner",
    "starts",
    "ends",
    "every",
    "calls",
    "status",
    "opened_at",
    "desk",
    "ended_at",
    "updated_at",
)
UPSERT_NOTICE = _upsert("notices", NOTICE_COLUMNS)
ANSWERED_COLUMNS = ("id", "call_id", "phone", "town", "tag", "answer_id", "owner", "received_at", "desk")
UPSERT_ANSWERED = _upsert("answered", ANSWERED_COLUMNS)
UPSERT_WARNING = _upsert("warnings", WARNING_COLUMNS)
UPSERT_CASE = _upsert("cases", CASE_COLUMNS)
HISTORY_DAYS = 30  # the longest window a shipped rule looks back; a config may ask for more


def warning_tuple(w: WarningState) -> tuple[Any, ...]:
    return (
        w.id,
        w.no,
        w.rule,
        w.level,
        w.town,
        w.key,
        gov.address_key(w.address),
        w.address,
        w.phone,
        w.summary,
        json.dumps(w.calls),
        json.dumps(w.orders),
        w.status,
        to_db(w.raised_at),
        w.desk,
        to_db_opt(w.signed_at),
        w.signed_by,
        to_db_opt(w.closed_at),
        w.close_note,
        w.case_id,
        sum(1 for e in w.timeline if e.kind == GKind.WARN_MEASURE),
        to_db(w.updated_at or w.raised_at),
    )


def case_tuple(c: CaseState) -> tuple[Any, ...]:
    return (
        c.id,
        c.no,
        c.title,
        c.town,
        c.address,
        gov.address_key(c.address),
        c.owner,
        json.dumps(c.members),
        c.status,
        to_db(c.opened_at),
        c.desk,
        c.follow_up,
        c.warning_id,
        c.resolution,
        to_db_opt(c.closed_at),
        to_db(c.updated_at or c.opened_at),
    )


def notice_tuple(n: NoticeState) -> tuple[Any, ...]:
    return (
        n.id,
        n.no,
        n.kind,
        n.title,
        n.script,
        json.dumps(n.towns),
        json.dumps(n.keywords, ensure_ascii=False),
        n.owner,
        to_db(n.starts),
        to_db(n.ends),
        n.every,
        len(n.calls),
        n.status,
        to_db(n.opened_at),
        n.desk,
        to_db_opt(n.ended_at),
        to_db(n.updated_at or n.opened_at),
    )


def answered_tuple(a: AnsweredState) -> tuple[Any, ...]:
    return (a.id, a.call_id, a.phone, a.town, a.tag, a.answer_id, a.owner, to_db(a.received_at), a.desk)


def save_subject(conn: Connection, s: gov.Subject) -> None:
    """Write one warning's, case's or notice's projection row (and a case's orders) from its state."""
    if isinstance(s, AnsweredState):
        conn.exec_driver_sql(UPSERT_ANSWERED, answered_tuple(s))
    elif isinstance(s, NoticeState):
        conn.exec_driver_sql(UPSERT_NOTICE, notice_tuple(s))
    elif isinstance(s, WarningState):
        conn.exec_driver_sql(UPSERT_WARNING, warning_tuple(s))
    else:
        conn.exec_driver_sql(UPSERT_CASE, case_tuple(s))
        conn.exec_driver_sql("DELETE FROM case_orders WHERE case_id = ?", (s.id,))
        if s.orders:
            conn.exec_driver_sql(
                "INSERT OR IGNORE INTO case_orders (case_id, order_id) VALUES (?, ?)", [(s.id, o) for o in s.orders]
            )


def drop_subject(conn: Connection, subject_id: str) -> None:
    conn.exec_driver_sql("DELETE FROM warnings WHERE id = ?", (subject_id,))
    conn.exec_driver_sql("DELETE FROM cases WHERE id = ?", (subject_id,))
    conn.exec_driver_sql("DELETE FROM case_orders WHERE case_id = ?", (subject_id,))
    conn.exec_driver_sql("DELETE FROM notices WHERE id = ?", (subject_id,))
    conn.exec_driver_sql("DELETE FROM answered WHERE id = ?", (subject_id,))


def has_tables(conn: Connection) -> bool:
    if conn.info.get("fq_governance"):
        return True
    found = (
        conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'warnings'").first()
        is not None
    )
    if found:
        conn.info["fq_governance"] = True
    return found


def recompute_subjects(conn: Connection, subject_ids: Iterable[str]) -> list[tuple[str, str, str | None]]:
    """Replay warnings and cases into their tables (sync's merge order); returns (event id, status, reason)."""
    ids = sorted(set(subject_ids))
    statuses: list[tuple[str, str, str | None]] = []
    if not ids or not has_tables(conn):
        return statuses
    for i in range(0, len(ids), 400):
        chunk = ids[i : i + 400]
        events = load_events_of(conn, chunk)
        for sid in chunk:
            evs = events.get(sid, [])
            result = gov.replay(evs)
            if result.state is None:
                drop_subject(conn, sid)
            else:
                save_subject(conn, result.state)
            statuses += [(ev.id, result.statuses[ev.id], result.reasons.get(ev.id)) for ev in evs]
    return statuses


def expected_rows(
    conn: Connection,
) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]], set[tuple[str, str]]]:
    """What the warnings, cases and case_orders tables should hold: the replay of every subject's events."""
    ids = [
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT DISTINCT order_id FROM events WHERE order_id LIKE 'warn-%' OR order_id LIKE 'case-%' "
            "OR order_id LIKE 'notice-%' OR order_id LIKE 'ans-%'"
        )
    ]
    warnings: dict[str, tuple[Any, ...]] = {}
    cases: dict[str, tuple[Any, ...]] = {}
    notices: dict[str, tuple[Any, ...]] = {}
    answered: dict[str, tuple[Any, ...]] = {}
    links: set[tuple[str, str]] = set()
    for i in range(0, len(ids), 400):
        for sid, evs in load_events_of(conn, ids[i : i + 400]).items():
            state = gov.replay(evs).state
            if isinstance(state, WarningState):
                warnings[sid] = warning_tuple(state)
            elif isinstance(state, CaseState):
                cases[sid] = case_tuple(state)
                links.update((sid, o) for o in state.orders)
            elif isinstance(state, NoticeState):
                notices[sid] = notice_tuple(state)
            elif isinstance(state, AnsweredState):
                answered[sid] = answered_tuple(state)
    return warnings, cases, notices | answered, links


def check_subjects(conn: Connection) -> list[tuple[str, str, str]]:
    """(table, subject number or id, what differs) for every row of the warnings/cases tables that is not the
    replay of its events (``fengqiao check``)."""
    if not has_tables(conn):
        return []
    want_w, want_c, want_n, want_links = expected_rows(conn)
    out: list[tuple[str, str, str]] = []
    for table, cols, want in (
        ("warnings", WARNING_COLUMNS, want_w),
        ("cases", CASE_COLUMNS, want_c),
        ("notices", NOTICE_COLUMNS, {k: v for k, v in want_n.items() if k.startswith(gov.NOTICE_PREFIX)}),
        ("answered", ANSWERED_COLUMNS, {k: v for k, v in want_n.items() if k.startswith(gov.ANSWER_PREFIX)}),
    ):
        have = {r[0]: tuple(r) for r in conn.exec_driver_sql(f"SELECT {', '.join(cols)} FROM {table}")}
        for sid in sorted(set(have) | set(want)):
            got, exp = have.get(sid), want.get(sid)
            if got == exp:
                continue
            name = (exp or got or (sid,))[1] if (exp or got) else sid
            if got is None:
                out.append((table, str(name), "missing"))
            elif exp is None:
                out.append((table, str(name), "no events"))
            else:
                diff = [c for c, a, b in zip(cols, got, exp, strict=True) if a != b]
                out.append((table, str(name), ", ".join(diff)))
    have_links = {(r[0], r[1]) for r in conn.exec_driver_sql("SELECT case_id, order_id FROM case_orders")}
    for case_id, order_id in sorted(have_links ^ want_links):
        out.append(("case_orders", case_id, order_id))
    # the calls recorded on notices: every notice_call event's call, and no other call under a notice's id
    want_calls: set[str] = set()
    for r in conn.exec_driver_sql("SELECT payload FROM events WHERE kind IN ('notice_call', 'answer_call')"):
        try:
            want_calls.add(str(json.loads(r[0])["call"]["id"]))
        except (ValueError, KeyError, TypeError):
            continue
    have_calls = {
        r[0]: r[1]
        for r in conn.exec_driver_sql(
            "SELECT id, order_id FROM calls WHERE order_id LIKE 'notice-%' OR order_id LIKE 'ans-%'"
        )
    }
    for call_id in sorted(set(have_calls) ^ want_calls):
        out.append(("calls", have_calls.get(call_id, "-"), call_id))
    return out


# ---- reading rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarningRow:
    id: str
    no: str
    rule: str
    level: str
    town: str
    address: str
    phone: str
    summary: str
    calls: int
    status: str
    raised_at: datetime
    signed_by: str
    measures: int
    case_id: str | None
    updated_at: datetime
    twin_of: str | None = None  # an earlier open warning of the same rule and place (raised offline elsewhere)


@dataclass(frozen=True)
class CaseRow:
    id: str
    no: str
    title: str
    town: str
    address: str
    owner: str
    members: tuple[str, ...]
    status: str
    opened_at: datetime
    follow_up: str | None
    orders: int
    open_orders: int
    updated_at: datetime


@dataclass(frozen=True)
class CaseOrder:
    order_no: str
    status: str
    tag: str
    primary_assignee: str
    call_at: datetime
    phone: str


@dataclass
class Touching:
    """What an incoming call touches: open warnings (same address in the town, or the same caller) and open cases
    (the same address, or a caller of one of its orders)."""

    warnings: list[WarningRow] = field(default_factory=list)
    cases: list[CaseRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.warnings or self.cases)


# Two desks offline may each raise a warning for one problem (same rule, town and key). Every desk derives the
# same answer from the projection: the earliest open one (raised_at, then id) is the warning, a later one is shown
# as its twin (``twin_of``) and left out of the counts, until the town closes it (or the first one closes).
_TWIN = (
    "(SELECT t.no FROM warnings t WHERE t.rule = w.rule AND t.town = w.town AND t.key = w.key "
    "AND t.status IN ('open', 'signed') AND w.status IN ('open', 'signed') "
    "AND (t.raised_at < w.raised_at OR (t.raised_at = w.raised_at AND t.id < w.id)) "
    "ORDER BY t.raised_at, t.id LIMIT 1)"
)
_W_SELECT = (
    "SELECT id, no, rule, level, town, address, phone, summary, calls, status, raised_at, signed_by, measures, "
    f"case_id, updated_at, {_TWIN} FROM warnings w"
)
_C_SELECT = (
    "SELECT c.id, c.no, c.title, c.town, c.address, c.owner, c.members, c.status, c.opened_at, c.follow_up, "
    "(SELECT count(*) FROM case_orders k WHERE k.case_id = c.id), "
    "(SELECT count(*) FROM case_orders k JOIN orders o ON o.id = k.order_id "
    "WHERE k.case_id = c.id AND o.status NOT IN ('closed', 'cancelled')), c.updated_at FROM cases c"
)


def _warning_row(r: Any) -> WarningRow:
    return WarningRow(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        len(json.loads(r[8])),
        r[9],
        from_db(r[10]),
        r[11],
        int(r[12]),
        r[13],
        from_db(r[14]),
        r[15],
    )


def _case_row(r: Any) -> CaseRow:
    return CaseRow(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        tuple(json.loads(r[6])),
        r[7],
        from_db(r[8]),
        r[9],
        int(r[10]),
        int(r[11]),
        from_db(r[12]),
    )


_LEVEL_ORDER = "CASE level WHEN 'red' THEN 0 WHEN 'orange' THEN 1 ELSE 2 END"


class GovernanceStore:
    """Warnings and cases as one desk sees them."""

    def __init__(
        self,
        db: Database,
        *,
        ref: Reference | None = None,
        desk: Desk | None = None,
        clock: Clock = system_clock,
        rules: WarningRules | None = None,
    ) -> None:
        self.db = db
        self.ref = ref or default_reference()
        self.desk = desk or Desk()
        self.clock = clock
        self.rules = rules or default_rules(self.ref)

    # ---- scope ---------------------------------------------------------------------------------
    def may_see(self, s: gov.Subject) -> bool:
        return may_see(self.desk, self.ref, s)

    def _scope_sql(self, alias: str) -> tuple[str, tuple[Any, ...]]:
        """A WHERE fragment limiting rows to what this desk sees."""
        d = self.desk
        if d.sees_all():
            return "1", ()
        codes = sorted(d.assignee_codes(self.ref))
        towns = {c[3:] for c in codes if c.startswith("ZZ-")} | (
            {d.town} if d.role == Role.TOWNSHIP and d.town else set()
        )
        towns |= {code for code, town in self.ref.towns.items() if town.station_code in codes}
        town_list = sorted(towns)
        parts, args = [], []
        if town_list:
            parts.append(f"{alias}.town IN ({', '.join('?' for _ in town_list)})")
            args += town_list
        if alias == "c" and codes:
            marks = ", ".join("?" for _ in codes)
            parts.append(f"{alias}.owner IN ({marks})")
            args += codes
            parts.append(f"EXISTS (SELECT 1 FROM json_each({alias}.members) m WHERE m.value IN ({marks}))")
            args += codes
        return ("(" + " OR ".join(parts) + ")" if parts else "0"), tuple(args)

    def _check(self, s: gov.Subject, kind: GKind) -> None:
        if not may_act(self.desk, self.ref, s, kind):
            raise PermissionDenied(
                t(
                    "gov.role_refused",
                    desk=self.desk.name,
                    role=t(f"role.{self.desk.role}") if self.desk.role else "-",
                    action=t(f"gov.kind_{kind}"),
                    no=s.no,
                ),
                order_no=s.no,
                state=s.status,
                action=str(kind),
                reason="role",
            )

    # ---- queries -------------------------------------------------------------------------------
    def warnings(self, *, status: str = "open", town: str | None = None, limit: int = 200) -> list[WarningRow]:
        """Warnings this desk sees, most urgent first: ``status`` open (open and signed), closed or all."""
        scope, args = self._scope_sql("w")
        where = [scope]
        if status == "open":
            where.append("w.status IN ('open', 'signed')")
        elif status == "closed":
            where.append("w.status IN ('closed', 'escalated')")
        if town:
            where.append("w.town = ?")
            args = (*args, town)
        sql = f"{_W_SELECT} WHERE {' AND '.join(where)} ORDER BY {_LEVEL_ORDER}, w.raised_at DESC LIMIT ?"
        with self.db.read() as conn:
            if not has_tables(conn):
                return []
            return [_warning_row(r) for r in conn.exec_driver_sql(sql, (*args, limit))]

    def counts(self) -> dict[str, int]:
        """Open warnings by level (red, orange, yellow) and open cases, as this desk sees them."""
        scope, args = self._scope_sql("w")
        out = {level: 0 for level in gov.LEVELS} | {"cases": 0}
        with self.db.read() as conn:
            if not has_tables(conn):
                return out
            for level, n in conn.exec_driver_sql(
                f"SELECT level, count(*) FROM warnings w WHERE {scope} AND status IN ('open', 'signed') "
                f"AND {_TWIN} IS NULL GROUP BY level",
                args,
            ):
                out[level] = int(n)
            cscope, cargs = self._scope_sql("c")
            out["cases"] = int(
                conn.exec_driver_sql(f"SELECT count(*) FROM cases c WHERE {cscope} AND status = 'open'", cargs).scalar()
                or 0
            )
        return out

    def _subject(self, conn: Connection, key: str, prefix: str) -> gov.Subject:
        k = key.strip()
        table = {gov.WARN_PREFIX: "warnings", gov.CASE_PREFIX: "cases", gov.NOTICE_PREFIX: "notices"}[prefix]
        row = conn.exec_driver_sql(
            f"SELECT id FROM {table} WHERE id = ? OR no = ? ORDER BY id LIMIT 1", (k, k.upper())
        ).first()
        missing = {
            "warnings": "gov.not_found_warning",
            "cases": "gov.not_found_case",
            "notices": "gov.not_found_notice",
        }
        if row is None:
            raise NotFound(t(missing[table], no=k[:40]))
        state = gov.replay(load_events_of(conn, [row[0]]).get(row[0], [])).state
        if state is None or not self.may_see(state):
            raise NotFound(t(missing[table], no=k[:40]))
        return state

    def warning(self, key: str) -> WarningState:
        with self.db.read() as conn:
            s = self._subject(conn, key, gov.WARN_PREFIX)
        assert isinstance(s, WarningState)
        return s

    def case(self, key: str) -> CaseState:
        with self.db.read() as conn:
            s = self._subject(conn, key, gov.CASE_PREFIX)
        assert isinstance(s, CaseState)
        return s

    def cases(self, *, status: str = "open", limit: int = 200) -> list[CaseRow]:
        scope, args = self._scope_sql("c")
        where = [scope]
        if status in ("open", "closed"):
            where.append("c.status = ?")
            args = (*args, status)
        sql = f"{_C_SELECT} WHERE {' AND '.join(where)} ORDER BY c.opened_at DESC LIMIT ?"
        with self.db.read() as conn:
            if not has_tables(conn):
                return []
            return [_case_row(r) for r in conn.exec_driver_sql(sql, (*args, limit))]

    def case_orders(self, case: CaseState) -> list[CaseOrder]:
        if not case.orders:
            return []
        marks = ", ".join("?" for _ in case.orders)
        with self.db.read() as conn:
            rows = conn.exec_driver_sql(
                f"SELECT order_no, status, tag, primary_assignee, call_at, phone FROM orders WHERE id IN ({marks}) "
                "ORDER BY call_at",
                tuple(case.orders),
            ).all()
        return [CaseOrder(r[0], r[1], r[2], r[3], from_db(r[4]), r[5]) for r in rows]

    def touching(self, town: str | None, address: str, phone: str) -> Touching:
        """Open warnings and cases an incoming call touches (the intake's banner and case offer)."""
        key = gov.address_key(address)
        out = Touching()
        with self.db.read() as conn:
            if not has_tables(conn):
                return out
            wscope, wargs = self._scope_sql("w")
            cond, args = [], []
            if town and key:
                cond.append("(w.town = ? AND w.addr_key = ?)")
                args += [town, key]
            if phone:
                cond.append("w.phone = ?")
                args.append(phone)
            if cond:
                out.warnings = [
                    _warning_row(r)
                    for r in conn.exec_driver_sql(
                        f"{_W_SELECT} WHERE w.status IN ('open', 'signed') AND ({' OR '.join(cond)}) AND {wscope} "
                        f"ORDER BY {_LEVEL_ORDER}, w.raised_at DESC LIMIT 5",
                        (*args, *wargs),
                    )
                ]
            cscope, cargs = self._scope_sql("c")
            ccond, cargs2 = [], []
            if town and key:
                ccond.append("(c.town = ? AND c.addr_key = ?)")
                cargs2 += [town, key]
            if phone:
                ccond.append(
                    "EXISTS (SELECT 1 FROM case_orders k JOIN orders o ON o.id = k.order_id "
                    "WHERE k.case_id = c.id AND o.phone = ?)"
                )
                cargs2.append(phone)
            if ccond:
                out.cases = [
                    _case_row(r)
                    for r in conn.exec_driver_sql(
                        f"{_C_SELECT} WHERE c.status = 'open' AND ({' OR '.join(ccond)}) AND {cscope} "
                        "ORDER BY c.opened_at DESC LIMIT 5",
                        (*cargs2, *cargs),
                    )
                ]
        return out

    # ---- commands ------------------------------------------------------------------------------
    def _write(self, conn: Connection, subject_id: str, kind: GKind, payload: dict[str, Any]) -> gov.Subject:
        state = gov.replay(load_events_of(conn, [subject_id]).get(subject_id, [])).state
        now = ensure_utc(self.clock())
        floor = state.updated_at if state is not None else None
        when = max(now, floor) if floor is not None else now
        ev = Event(new_id(), subject_id, str(kind), when, now, self.desk.name, self.desk.actor, payload=payload)
        if state is not None:
            self._check(state, kind)
        new = gov.apply(state.clone() if state is not None else None, ev)
        save_subject(conn, new)
        append_events(conn, self.desk.name, [ev])
        return new

    def _act(self, key: str, prefix: str, kind: GKind, payload: dict[str, Any]) -> gov.Subject:
        with self.db.write() as conn:
            s = self._subject(conn, key, prefix)
            self._check(s, kind)
            return self._write(conn, s.id, kind, payload)

    def sign(self, key: str, note: str = "") -> WarningState:
        s = self._act(key, gov.WARN_PREFIX, GKind.WARN_SIGN, {"note": check_text("note", note)})
        assert isinstance(s, WarningState)
        return s

    def measure(self, key: str, note: str) -> WarningState:
        s = self._act(key, gov.WARN_PREFIX, GKind.WARN_MEASURE, {"note": check_text("note", note, required=True)})
        assert isinstance(s, WarningState)
        return s

    def close(self, key: str, note: str) -> WarningState:
        s = self._act(key, gov.WARN_PREFIX, GKind.WARN_CLOSE, {"note": check_text("note", note, required=True)})
        assert isinstance(s, WarningState)
        return s

    def escalate(
        self,
        key: str,
        *,
        title: str,
        owner: str | None = None,
        members: Sequence[str] = (),
        follow_up: str | None = None,
        note: str = "",
    ) -> tuple[WarningState, CaseState]:
        """Open a case from a warning (its orders join the case) and mark the warning escalated; one transaction."""
        with self.db.write() as conn:
            w = self._subject(conn, key, gov.WARN_PREFIX)
            assert isinstance(w, WarningState)
            self._check(w, GKind.WARN_ESCALATE)
            if not w.is_open:
                gov.apply(w.clone(), self._probe(w.id, GKind.WARN_ESCALATE))  # the machine's own message
            case = self._open_case(
                conn,
                title=title,
                town=w.town,
                owner=owner or f"ZZ-{w.town}",
                members=members,
                order_ids=w.orders,
                address=w.address,
                follow_up=follow_up,
                warning_id=w.id,
            )
            w2 = self._write(conn, w.id, GKind.WARN_ESCALATE, {"case_id": case.id, "note": check_text("note", note)})
        assert isinstance(w2, WarningState)
        return w2, case

    def _probe(self, subject_id: str, kind: GKind) -> Event:
        now = self.clock()
        return Event(
            "probe", subject_id, str(kind), now, now, self.desk.name, self.desk.actor, payload={"case_id": "-"}
        )

    def _open_case(
        self,
        conn: Connection,
        *,
        title: str,
        town: str,
        owner: str,
        members: Sequence[str],
        order_ids: Sequence[str],
        address: str,
        follow_up: str | None,
        warning_id: str | None,
    ) -> CaseState:
        title = check_text("title", title, required=True, limit=100)
        town_code = self.ref.town(town).code
        owner_code = check_unit(self.ref, owner)
        member_codes = list(dict.fromkeys(check_unit(self.ref, m) for m in members if m.strip()))
        if len(member_codes) > gov.MAX_CASE_MEMBERS:
            raise ValidationError(t("gov.too_many_members", limit=gov.MAX_CASE_MEMBERS), field="members")
        try:
            day = gov.parse_follow_up(follow_up)
        except ValueError:
            raise ValidationError(t("gov.bad_follow_up", value=str(follow_up)[:20]), field="follow_up") from None
        if (
            not self.desk.sees_all()
            and not (self.desk.role == Role.TOWNSHIP and self.desk.town == town_code)
            and owner_code not in self.desk.assignee_codes(self.ref)
        ):
            raise PermissionDenied(
                t("gov.cannot_open", desk=self.desk.name, town=town_code), action="case_open", reason="role"
            )
        if self.desk.role == Role.CALL_TAKER:
            raise PermissionDenied(
                t("gov.cannot_open", desk=self.desk.name, town=town_code), action="case_open", reason="role"
            )
        now = ensure_utc(self.clock())
        no = next_no(conn, "ZB", self.desk.prefix, now)
        payload = {
            "no": no,
            "title": title,
            "town": town_code,
            "address": check_text("address", address),
            "owner": owner_code,
            "members": member_codes,
            "orders": list(dict.fromkeys(order_ids)),
            "follow_up": day,
            "warning_id": warning_id,
        }
        s = self._write(conn, gov.CASE_PREFIX + new_id(), GKind.CASE_OPEN, payload)
        assert isinstance(s, CaseState)
        return s

    def open_case(
        self,
        *,
        title: str,
        town: str,
        owner: str | None = None,
        members: Sequence[str] = (),
        order_nos: Sequence[str] = (),
        address: str = "",
        follow_up: str | None = None,
    ) -> CaseState:
        with self.db.write() as conn:
            ids = [_order_id(conn, no) for no in order_nos]
            return self._open_case(
                conn,
                title=title,
                town=town,
                owner=owner or f"ZZ-{self.ref.town(town).code}",
                members=members,
                order_ids=ids,
                address=address,
                follow_up=follow_up,
                warning_id=None,
            )

    def add_to_case(self, key: str, order_no: str) -> CaseState:
        with self.db.write() as conn:
            c = self._subject(conn, key, gov.CASE_PREFIX)
            oid = _order_id(conn, order_no)
            self._check(c, GKind.CASE_ADD)
            s = self._write(conn, c.id, GKind.CASE_ADD, {"order_id": oid, "order_no": order_no.strip().upper()})
        assert isinstance(s, CaseState)
        return s

    def note_case(self, key: str, text: str) -> CaseState:
        s = self._act(key, gov.CASE_PREFIX, GKind.CASE_NOTE, {"text": check_text("note", text, required=True)})
        assert isinstance(s, CaseState)
        return s

    def close_case(self, key: str, resolution: str, *, follow_up: str | None = None) -> tuple[CaseState, list[str]]:
        """Close a case with its resolution; its orders waiting to be closed (visited) are closed with it, in the
        same transaction, where this desk may close them. Returns the case and the order numbers closed."""
        text = check_text("resolution", resolution, required=True)
        try:
            day = gov.parse_follow_up(follow_up)
        except ValueError:
            raise ValidationError(t("gov.bad_follow_up", value=str(follow_up)[:20]), field="follow_up") from None
        closed: list[str] = []
        with self.db.write() as conn:
            c = self._subject(conn, key, gov.CASE_PREFIX)
            assert isinstance(c, CaseState)
            self._check(c, GKind.CASE_CLOSE)
            events = load_events_of(conn, c.orders) if c.orders else {}
            from fengqiao.models.machine import replay as order_replay

            from .rollups import Tracker

            rollups = Tracker(conn)
            rollups.watch(c.orders)
            order_events: list[Event] = []
            now = ensure_utc(self.clock())
            for oid in c.orders:
                o = order_replay(events.get(oid, [])).state
                if o is None or o.status != Status.VISITED or not roles.can_take(self.desk, self.ref, o, Action.CLOSE):
                    continue
                ev = build(
                    self.ref,
                    o,
                    Intent(Action.CLOSE, note=t("gov.closed_with_case", no=c.no)),
                    event_id=new_id(),
                    at=max(now, o.updated_at or now),
                    desk=self.desk.name,
                    actor=self.desk.actor,
                    recorded_at=now,
                )
                apply(o, ev)
                save_order(conn, o)
                order_events.append(ev)
                closed.append(o.order_no)
            rollups.finish()
            if order_events:
                append_events(conn, self.desk.name, order_events)
            s = self._write(conn, c.id, GKind.CASE_CLOSE, {"resolution": text, "follow_up": day})
        assert isinstance(s, CaseState)
        return s, closed

    # ---- notices (停水停电通知) -----------------------------------------------------------------
    def post_notice(
        self,
        *,
        kind: str,
        title: str,
        towns: Sequence[str],
        starts: datetime,
        ends: datetime,
        script: str = "",
        keywords: Sequence[str] = (),
        owner: str | None = None,
        every: int = 10,
    ) -> NoticeState:
        """Post a notice for ``towns`` from ``starts`` to ``ends``: matching calls are recorded on it at intake and
        nothing is dispatched for them; the owner unit gets one summary per ``every`` calls."""
        if kind not in gov.NOTICE_TYPES:
            raise ValidationError(
                t("error.bad_choice", value=kind, field=t("notice.f_kind"), choices=", ".join(gov.NOTICE_TYPES)),
                field="kind",
            )
        title = check_text("title", title, required=True, limit=100)
        codes = list(dict.fromkeys(self.ref.town(x).code for x in towns if x.strip()))
        if not codes:
            raise ValidationError(t("notice.needs_town"), field="towns")
        d = self.desk
        mine = sorted(d.assignee_codes(self.ref))
        owner_code = check_unit(self.ref, owner) if owner else (mine[0] if d.role == Role.DEPARTMENT and mine else "")
        if not owner_code:
            raise ValidationError(t("notice.needs_owner"), field="owner")
        if not (d.role in (None, Role.SUPERVISOR) or (d.role == Role.DEPARTMENT and owner_code in mine)):
            raise PermissionDenied(t("notice.cannot_post", desk=d.name), action="notice_post", reason="role")
        start, end = ensure_utc(starts), ensure_utc(ends)
        if end <= start:
            raise ValidationError(t("notice.bad_window"), field="ends")
        if isinstance(every, bool) or not 1 <= int(every) <= 10000:
            raise ValidationError(t("notice.bad_every", value=str(every)[:10]), field="every")
        words = [w.strip() for w in keywords if w.strip()]
        if len(words) > 20 or any(len(w) > 20 for w in words):
            raise ValidationError(t("notice.bad_keywords"), field="keywords")
        with self.db.write() as conn:
            no = next_no(conn, "TZ", d.prefix, ensure_utc(self.clock()))
            payload = {
                "no": no,
                "kind": kind,
                "title": title,
                "script": check_text("note", script),
                "towns": codes,
                "keywords": words,
                "owner": owner_code,
                "starts": to_db(start),
                "ends": to_db(end),
                "every": int(every),
            }
            n = self._write(conn, gov.NOTICE_PREFIX + new_id(), GKind.NOTICE_POST, payload)
        assert isinstance(n, NoticeState)
        return n

    def end_notice(self, key: str, note: str = "") -> NoticeState:
        n = self._act(key, gov.NOTICE_PREFIX, GKind.NOTICE_END, {"note": check_text("note", note)})
        assert isinstance(n, NoticeState)
        return n

    def notice(self, key: str) -> NoticeState:
        with self.db.read() as conn:
            n = self._subject(conn, key, gov.NOTICE_PREFIX)
        assert isinstance(n, NoticeState)
        return n

    def notices(self, *, status: str = "open", limit: int = 100) -> list[NoticeState]:
        """Notices this desk sees, newest first: open ones (not ended, not past their window) unless ``status``
        is ``all``."""
        now = to_db(ensure_utc(self.clock()))
        where = "status = 'open' AND ends >= ?" if status == "open" else "1"
        args: tuple[Any, ...] = (now,) if status == "open" else ()
        with self.db.read() as conn:
            if not has_tables(conn):
                return []
            ids = [
                r[0]
                for r in conn.exec_driver_sql(
                    f"SELECT id FROM notices WHERE {where} ORDER BY opened_at DESC LIMIT ?", (*args, limit)
                )
            ]
            events = load_events_of(conn, ids) if ids else {}
        out = [gov.replay(events.get(i, [])).state for i in ids]
        return [n for n in out if isinstance(n, NoticeState) and self.may_see(n)]

    def matching(self, town: str | None, words: str, at: datetime | None = None) -> list[NoticeState]:
        """The notices a call in ``town`` saying ``words`` is about, now (the intake's offer)."""
        if not town:
            return []
        when = ensure_utc(at or self.clock())
        return [n for n in self.notices() if n.matches(town, words, when)]

    def take_call(
        self, key: str, form: Any, *, received_at: datetime | None = None, drop_draft: bool = False
    ) -> NoticeState:
        """Record a call on a notice (no order): the call row (under the notice's id) and the event, one
        transaction. A call outside the notice's towns or window is refused with one line."""
        from fengqiao.models.intake import validate_intake
        from fengqiao.models.machine import CallInfo

        from .projection import insert_call
        from .rollups import Tracker

        clean = validate_intake(self.ref, form, words_required=False)
        now = ensure_utc(self.clock())
        received = min(ensure_utc(received_at), now) if received_at is not None else now
        with self.db.write() as conn:
            n = self._subject(conn, key, gov.NOTICE_PREFIX)
            assert isinstance(n, NoticeState)
            self._check(n, GKind.NOTICE_CALL)
            if clean.town not in n.towns or not n.active_at(received):
                raise ValidationError(t("notice.not_for_call", no=n.no), field="notice")
            call = CallInfo(
                new_id(),
                clean.phone,
                clean.name,
                clean.town,
                clean.address,
                clean.description,
                received,
                self.desk.name,
            )
            rollups = Tracker(conn)
            rollups.watch_calls([(call.phone, to_db(call.received_at))])
            insert_call(conn, call, n.id, linked=True)
            rollups.finish()
            s = self._write(conn, n.id, GKind.NOTICE_CALL, {"call": call.to_payload()})
            if drop_draft:
                from .drafts import drop_draft_in

                drop_draft_in(conn, self.desk.name)
        assert isinstance(s, NoticeState)
        return s

    # ---- answers on the spot (直接办结) ---------------------------------------------------------
    def answer_call(
        self,
        form: Any,
        answer_id: str,
        *,
        tag: str | None = None,
        received_at: datetime | None = None,
        drop_draft: bool = False,
    ) -> AnsweredState:
        """Record a call as answered on the spot with a knowledge-base answer: the call (with its tag and the
        answer used) and the event, one transaction; nothing is dispatched. An expired or unknown answer, or a
        tag the answer is not for, is refused with one line."""
        from fengqiao.models.answers import answers_by_id
        from fengqiao.models.clock import local
        from fengqiao.models.intake import validate_intake
        from fengqiao.models.machine import CallInfo

        from .kb import answers_in_use
        from .projection import insert_call
        from .rollups import Tracker

        if not may_act(self.desk, self.ref, None, GKind.ANSWER_CALL):
            raise PermissionDenied(t("kb.cannot_answer", desk=self.desk.name), action="answer_call", reason="role")
        answer = answers_by_id(answers_in_use(self.db, self.ref)).get(answer_id.strip())
        now = ensure_utc(self.clock())
        if answer is None:
            raise ValidationError(t("kb.no_answer", id=answer_id.strip()[:40]), field="answer")
        if not answer.in_force(local(now).date()):
            raise ValidationError(t("kb.expired", id=answer.id, day=answer.expires.isoformat()), field="answer")
        chosen = (tag or answer.tags[0]).strip().upper()
        if chosen not in answer.tags:
            raise ValidationError(t("kb.wrong_tag", id=answer.id, tag=chosen[:8]), field="tag")
        clean = validate_intake(self.ref, form, words_required=False)
        received = min(ensure_utc(received_at), now) if received_at is not None else now
        call = CallInfo(
            new_id(), clean.phone, clean.name, clean.town, clean.address, clean.description, received, self.desk.name
        )
        sid = gov.ANSWER_PREFIX + new_id()
        payload = {
            "call": call.to_payload(),
            "tag": chosen,
            "answer": answer.id,
            "title": answer.title,
            "owner": answer.owner,
        }
        with self.db.write() as conn:
            rollups = Tracker(conn)  # the call may make an earlier order of this number a repeat-call order
            rollups.watch_calls([(call.phone, to_db(call.received_at))])
            insert_call(conn, call, sid, linked=False)
            rollups.finish()
            s = self._write(conn, sid, GKind.ANSWER_CALL, payload)
            if drop_draft:
                from .drafts import drop_draft_in

                drop_draft_in(conn, self.desk.name)
        assert isinstance(s, AnsweredState)
        return s


@dataclass(frozen=True)
class AnswerFigures:
    """Per answer owner: calls answered on the spot, those whose caller called again within 8 minutes to 72 hours
    (the answer did not settle it), and the orders dispatched for the tags of its answers."""

    owner: str
    answered: int
    called_back: int
    dispatched_same_tags: int

    @property
    def spot_rate(self) -> float | None:
        total = self.answered + self.dispatched_same_tags
        return self.answered / total if total else None

    @property
    def callback_rate(self) -> float | None:
        return self.called_back / self.answered if self.answered else None


def answer_figures(db: Database, ref: Reference, first: datetime, end: datetime) -> list[AnswerFigures]:
    """:class:`AnswerFigures` for calls received in [first, end) (``kpi`` and the reports)."""
    from fengqiao.models.kpi import REPEAT_MAX, REPEAT_MIN

    from .kb import answers_in_use

    lo, hi = to_db(ensure_utc(first)), to_db(ensure_utc(end))
    min_days, max_days = REPEAT_MIN.total_seconds() / 86400, REPEAT_MAX.total_seconds() / 86400
    tags_of: dict[str, set[str]] = {}
    for answer in answers_in_use(db, ref):
        tags_of.setdefault(answer.owner, set()).update(answer.tags)
    out = []
    with db.read() as conn:
        if not has_tables(conn):
            return []
        rows = conn.exec_driver_sql(
            "SELECT a.owner, count(*), sum(a.phone <> '' AND EXISTS (SELECT 1 FROM calls c WHERE c.phone = a.phone "
            "AND c.id <> a.call_id AND julianday(c.received_at) - julianday(a.received_at) BETWEEN ? AND ?)) "
            "FROM answered a WHERE a.received_at >= ? AND a.received_at < ? GROUP BY a.owner",
            (min_days, max_days, lo, hi),
        ).all()
        by_owner = {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}
        for owner in sorted(set(by_owner) | set(tags_of)):
            tags = sorted(tags_of.get(owner, ()))
            dispatched = 0
            if tags:
                marks = ", ".join("?" for _ in tags)
                dispatched = int(
                    conn.exec_driver_sql(
                        f"SELECT count(*) FROM orders WHERE call_at >= ? AND call_at < ? AND status <> 'cancelled' "
                        f"AND tag IN ({marks})",
                        (lo, hi, *tags),
                    ).scalar()
                    or 0
                )
            answered, back = by_owner.get(owner, (0, 0))
            if answered or dispatched:
                out.append(AnswerFigures(owner, answered, back, dispatched))
    return out


def _order_id(conn: Connection, order_no: str) -> str:
    key = order_no.strip().upper()
    row = conn.exec_driver_sql("SELECT id FROM orders WHERE order_no = ?", (key,)).first()
    if row is None:
        raise NotFound(t("error.no_order", order_no=order_no[:40]))
    return str(row[0])


def check_unit(ref: Reference, code: str) -> str:
    """A case owner or member: a department, a township centre (ZZ-HZ) or a police station; one clear line else."""
    c = code.strip().upper()
    if c in ref.departments or c in ref.stations or (c.startswith("ZZ-") and c[3:] in ref.towns):
        return c
    extra = getattr(ref, "is_assignee", None)
    if callable(extra) and extra(c):
        return c
    raise ValidationError(t("gov.unknown_unit", code=code.strip()[:40]), field="owner")


def next_no(conn: Connection, kind: str, prefix: str, at: datetime) -> str:
    """A warning's (YJ) or case's (ZB) number: ``YJ-SZ-20261202-001``, counted per desk prefix and day."""
    day = local_day(at)
    row = conn.exec_driver_sql(
        "INSERT INTO order_counters (prefix, day, last) VALUES (?, ?, 1) "
        "ON CONFLICT (prefix, day) DO UPDATE SET last = last + 1 RETURNING last",
        (f"{kind}-{prefix}", day),
    ).first()
    assert row is not None
    return f"{kind}-{prefix}-{day}-{int(row[0]):03d}"


def default_rules(ref: Reference) -> WarningRules:
    """The shipped rules, with the disputes (category B) as the tags a second call escalates."""
    return WarningRules(dispute_tags=frozenset(code for code, tag in ref.tags.items() if tag.category == "B"))


# ---- who may --------------------------------------------------------------------------------------


# ---- the rules, run on every call -------------------------------------------------------------------


def recent_calls(conn: Connection, town: str, phone: str, since: datetime, until: datetime) -> list[RecentCall]:
    """The town's calls (and the caller's anywhere) in the window, for the rules."""
    rows = conn.exec_driver_sql(
        "SELECT id, order_id, phone, town, address, description, received_at FROM calls "
        "WHERE received_at >= ? AND received_at <= ? AND (town = ? OR (phone = ? AND phone != ''))",
        (to_db(since), to_db(until), town, phone),
    ).all()
    return [RecentCall(r[0], r[1], r[2], r[3], r[4] or "", r[5] or "", from_db(r[6])) for r in rows]


def _duplicate(conn: Connection, trig: Trigger, address: str) -> bool:
    """Whether an open warning already holds this problem (the same rule and key in the town, or a call of it)."""
    rows = conn.exec_driver_sql(
        "SELECT key, calls FROM warnings WHERE status IN ('open', 'signed') AND rule = ? AND town = ?",
        (trig.rule, trig.town),
    ).all()
    for key, calls in rows:
        if key == trig.key or set(json.loads(calls)) & set(trig.calls[:-1]):
            return True
    if trig.rule in ("address", "similar"):  # the place's problem is a case already: the intake offers it
        akey = trig.key if trig.rule == "address" else address
        found = conn.exec_driver_sql(
            "SELECT 1 FROM cases WHERE status = 'open' AND town = ? AND addr_key = ? LIMIT 1", (trig.town, akey)
        ).first()
        return found is not None
    return False


def raise_for_call(
    conn: Connection,
    *,
    ref: Reference,
    desk: Desk,
    rules: WarningRules,
    call_id: str,
    order_id: str,
    phone: str,
    town: str,
    address: str,
    description: str,
    received_at: datetime,
    at: datetime,
    recorded_at: datetime,
    tag: str | None,
    repeat_open: bool,
) -> list[Event]:
    """Run the rules on a call just recorded (inside its transaction) and return the warnings it raises, as
    events not yet appended (the caller appends them after the call's own event)."""
    if not has_tables(conn) or not may_act(desk, ref, None, GKind.WARN_RAISE):
        return []
    longest = max(rules.address_days, rules.caller_days, rules.similar_days, 1)
    history = [
        c
        for c in recent_calls(conn, town, phone, received_at - timedelta(days=longest), received_at)
        if c.call_id != call_id
    ]
    me = RecentCall(call_id, order_id, phone, town, address, description, received_at)
    triggers = gov.evaluate(rules, me, history, tag=tag, repeat_open=repeat_open)
    by_call = {c.call_id: c for c in history}
    out: list[Event] = []
    for trig in triggers:
        if _duplicate(conn, trig, gov.address_key(address)):
            continue
        orders = list(
            dict.fromkeys(o for o in (by_call[c].order_id if c in by_call else order_id for c in trig.calls) if o)
        )
        no = next_no(conn, "YJ", desk.prefix, at)
        payload = {
            "no": no,
            "rule": trig.rule,
            "level": trig.level,
            "town": town,
            "key": trig.key[:500],
            "address": address[:500],
            "phone": phone if trig.rule in ("caller", "danger", "dispute") else "",
            "summary": t(
                f"gov.summary_{trig.rule}", count=trig.detail, days=_days(rules, trig.rule), words=trig.detail
            )[:4000],
            "calls": list(trig.calls)[-500:],
            "orders": orders[-500:],
        }
        ev = Event(
            new_id(),
            gov.WARN_PREFIX + new_id(),
            str(GKind.WARN_RAISE),
            at,
            recorded_at,
            desk.name,
            desk.actor,
            payload=payload,
        )
        state = gov.apply(None, ev)
        save_subject(conn, state)
        out.append(ev)
    return out


def _days(rules: WarningRules, rule: str) -> int:
    return {"address": rules.address_days, "caller": rules.caller_days, "similar": rules.similar_days}.get(rule, 0)


def parse_rules(ref: Reference, data: dict[str, Any]) -> WarningRules:
    """Rules from a config's ``[warnings]`` table; an unknown key or a bad value is one clear line."""
    base = default_rules(ref)
    ints = {"address_calls", "address_days", "caller_calls", "caller_days", "similar_callers", "similar_days"}
    levels = {"address_level", "caller_level", "similar_level", "dispute_level", "danger_level"}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key in ints:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365:
                raise ValidationError(t("gov.bad_rule", key=key, value=str(value)[:20]), field=key)
            changes[key] = value
        elif key in levels:
            if value not in gov.LEVELS:
                raise ValidationError(t("gov.bad_rule", key=key, value=str(value)[:20]), field=key)
            changes[key] = value
        elif key == "similar_threshold":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
                raise ValidationError(t("gov.bad_rule", key=key, value=str(value)[:20]), field=key)
            changes[key] = float(value)
        elif key == "danger_words":
            if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
                raise ValidationError(t("gov.bad_rule", key=key, value=str(value)[:20]), field=key)
            changes[key] = tuple(w.strip() for w in value)
        else:
            raise ValidationError(t("gov.unknown_rule", key=str(key)[:40]), field=str(key))
    return base.with_changes(**changes)


# ---- the demo's stories --------------------------------------------------------------------------------

DEMO_STORIES = (  # (town, address, tag, what callers say, how far it went)
    ("HZ", "前岩村3号", "B04", ("楼上装修天天砸墙", "楼上又在砸墙，孩子睡不着", "隔壁装修噪声太大"), "case"),
    ("SHH", "人民路88号锦绣小区", "B02", ("物业把门禁停了进不了门", "物业又停门禁", "小区物业不管漏水"), "closed"),
    ("GLL", "谷来镇工业区2号厂", "B03", ("厂里拖欠三个月工资", "老板还是不发工资", "工资拖欠没人管"), "signed"),
    ("CL", "长乐镇沿江路18号", "A18", ("夜里工地施工很吵", "工地半夜还在打桩", "晚上施工噪声"), "open"),
)


def seed_demo(db: Database, ref: Reference, end: datetime, seed: int = 1) -> tuple[int, int]:
    """Add the demo's warnings and cases: for a few places, three calls in a week (through the same rules as a
    desk's own calls), then the town's centre signing, acting, closing or opening a case; and one call with words
    that signal danger. Returns (warnings, cases) made. Every step is an event of the log, as on a real desk."""
    import random

    from fengqiao.models.clock import FixedClock
    from fengqiao.models.intake import IntakeForm
    from fengqiao.models.roles import make_desk

    from .orders import OrderStore

    rng = random.Random(seed)
    rules = default_rules(ref)
    made_cases = 0
    start = end - timedelta(days=6)
    for n, (town, address, tag, words, outcome) in enumerate(DEMO_STORIES):
        if town not in ref.towns:
            continue
        clock = FixedClock(start + timedelta(hours=n))
        calls = OrderStore(db, ref=ref, desk=make_desk(ref, "110-1", "call_taker"), clock=clock, rules=rules)
        for i, text in enumerate(words):
            phone = f"139{rng.randrange(10**8):08d}"
            calls.dispatch(IntakeForm(phone=phone, town=town, address=address, description=text), tag)
            clock.advance(hours=rng.uniform(20, 40) if i < len(words) - 1 else 1)
        centre = GovernanceStore(db, ref=ref, desk=make_desk(ref, f"{town}-centre", "township", town=town), clock=clock)
        mine = [w for w in centre.warnings() if w.address == address]
        if not mine or outcome == "open":
            continue
        no = mine[0].no
        centre.sign(no, "已签收，转网格员核实")
        clock.advance(hours=2)
        centre.measure(no, "网格员上门了解情况，约双方面谈")
        if outcome == "closed":
            clock.advance(hours=20)
            centre.close(no, "双方达成一致，来电人满意")
        elif outcome == "case":
            clock.advance(hours=5)
            centre.escalate(no, title=f"{address}矛盾化解专班", members=["SFJ", "ZJJ"], follow_up=None)
            made_cases += 1
    clock = FixedClock(end - timedelta(hours=3))
    OrderStore(db, ref=ref, desk=make_desk(ref, "110-1", "call_taker"), clock=clock, rules=rules).dispatch(
        IntakeForm(phone="13857599999", town="SJ", address="三江街道江滨路5号", description="邻居扬言要拿刀砍人"), "B04"
    )
    with db.read() as conn:
        warnings = int(conn.exec_driver_sql("SELECT count(*) FROM warnings").scalar() or 0)
    return warnings, made_cases
