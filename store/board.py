"""Queries behind the open-orders board: filtered, sorted pages straight from SQL, and overdue marking.

The board never loads whole tables. It asks for one page at a time with *keyset* paging: a page starts after
(or before) the sort key of a row it already shows, so page 10,000 costs what page 1 costs. Every sort has an
index in migration 0002 (partial ones for open orders, the board's default, and full ones for "all states"):

* ``due``    — next deadline first; orders without a pending deadline last (``coalesce(next_due, '~')``)
* ``age``    — oldest call first
* ``newest`` — newest call first (the same index read backwards)
* ``town``   — by town, then deadline

Search uses the FTS5 trigram table ``order_search`` (order number, phone, address, description of the order's
call and of linked repeat calls); terms shorter than three characters, which trigrams cannot index, are
matched with ``LIKE`` on the order's own call.

What a desk sees follows :mod:`models.roles` (``can_see``): the same rule written as SQL on the orders
table's current assignees, so the board and the detail screen agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from models.clock import Clock, from_db, from_db_opt, system_clock, to_db
from models.errors import ValidationError
from models.i18n import t
from models.machine import Status
from models.reference import Reference, default_reference
from models.roles import Desk, Role

from .db import Database

DUE_KEY = "coalesce(o.next_due, '~')"
OPEN_SQL = "o.status NOT IN ('closed', 'cancelled')"
SCOPES = ("open", "all", *(s.value for s in Status))
SORTS = ("due", "age", "newest", "town")
# Sort key columns (SQL, then the name of the selected column holding its value) and direction.
_SORT_KEYS: dict[str, tuple[tuple[str, ...], bool]] = {
    "due": ((DUE_KEY, "o.order_no"), False),
    "age": (("o.call_at", "o.order_no"), False),
    "newest": (("o.call_at", "o.order_no"), True),
    "town": (("o.town", DUE_KEY, "o.order_no"), False),
}
MAX_PAGE = 500
COUNT_CAP = 100_000
_DIGITS = re.compile(r"[\d\-+() ]+")


@dataclass(frozen=True)
class BoardFilter:
    """What the board shows. The default: every open order this desk sees, next deadline first."""

    scope: str = "open"  # open | all | one status
    dept: str | None = None  # assignee code (SCJG, ZZ-HZ, GA-HZ) or ZZ / GA: every centre / station
    category: str | None = None
    town: str | None = None
    overdue: bool = False
    repeat: bool = False  # repeat calls: the order is a repeat of an earlier one, or has linked calls
    dual: bool = False
    search: str = ""
    sort: str = "due"

    def escalation_queue(self) -> BoardFilter:
        """A supervisor's escalation queue: open overdue orders, the longest overdue first."""
        return replace(self, scope="open", overdue=True, sort="due")

    @property
    def is_escalation_queue(self) -> bool:
        return self.scope == "open" and self.overdue and self.sort == "due"

    def is_default(self) -> bool:
        return self == BoardFilter(sort=self.sort)


@dataclass(frozen=True)
class BoardRow:
    """One line of the board."""

    id: str
    order_no: str
    status: str
    tag: str
    category: str
    town: str
    mode: str
    primary_assignee: str
    police_assignee: str | None
    call_at: datetime
    updated_at: datetime
    next_due: datetime | None
    next_due_kind: str | None
    next_due_start: datetime | None
    repeat: bool
    escalations: int
    address: str
    description: str
    key: tuple[str, ...] = field(compare=False)  # the row's sort key, for keyset paging


@dataclass(frozen=True)
class BoardCounts:
    total: int
    overdue: int
    capped: bool = False  # more than ``total`` match


def visibility_sql(desk: Desk, ref: Reference, alias: str = "o") -> tuple[str, list[Any]]:
    """The orders ``desk`` sees, as a condition on the orders table (``""``: every order).

    The SQL form of :func:`models.roles.can_see` on the orders table's current assignees: a county department
    or township centre by the department assignment, a police station by the police assignment, a township
    desk by its centre's and its station's assignments for calls in its own town.
    """
    if desk.sees_all():
        return "", []
    codes = sorted(desk.assignee_codes(ref))
    if not codes:
        return "0", []
    if desk.role == Role.TOWNSHIP and desk.town:
        town = ref.town(desk.town)
        return (f"({alias}.town = ? AND ({alias}.primary_assignee = ? OR {alias}.police_assignee = ?))",
                [town.code, f"ZZ-{town.code}", town.station_code])
    code = codes[0]
    column = "police_assignee" if code.startswith("GA-") else "primary_assignee"
    return f"{alias}.{column} = ?", [code]


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def search_terms(text: str) -> tuple[str | None, list[str]]:
    """(FTS5 MATCH expression for terms of 3+ characters, shorter terms for LIKE).

    A phone number or order number typed with separators (``138-5751-2345``, ``1128-0042``) also matches
    its digits alone. Every term must match (AND).
    """
    fts: list[str] = []
    short: list[str] = []
    for token in text.split():
        options = {token}
        if _DIGITS.fullmatch(token):
            digits = re.sub(r"\D", "", token)
            if digits:
                options.add(digits)
        long_options = sorted(o for o in options if len(o) >= 3)
        if long_options:
            fts.append("(" + " OR ".join(_phrase(o) for o in long_options) + ")")
        else:
            short.append(max(options, key=len))
    return (" AND ".join(fts) if fts else None), short


def _check(f: BoardFilter) -> None:
    if f.scope not in SCOPES:
        raise ValidationError(t("error.bad_choice", value=f.scope, field=t("board.scope"), choices=", ".join(SCOPES)),
                              field="scope")
    if f.sort not in SORTS:
        raise ValidationError(t("error.bad_choice", value=f.sort, field=t("board.sort"), choices=", ".join(SORTS)),
                              field="sort")


class BoardQuery:
    """The board's reads for one desk (thread-safe: every call borrows its own connection)."""

    COLUMNS = ("o.id, o.order_no, o.status, o.tag, o.category, o.town, o.mode, o.primary_assignee, "
               "o.police_assignee, o.call_at, o.updated_at, o.next_due, o.next_due_kind, o.next_due_start, "
               "o.repeat_of, o.linked_calls, o.escalations")

    def __init__(self, db: Database, *, desk: Desk | None = None, ref: Reference | None = None,
                 clock: Clock = system_clock) -> None:
        self.db = db
        self.desk = desk or Desk()
        self.ref = ref or default_reference()
        self.clock = clock

    # ---- building the query --------------------------------------------------------------------
    def where(self, f: BoardFilter, now: datetime) -> tuple[list[str], list[Any], str | None]:
        """(conditions on ``o``, their parameters, the FTS MATCH expression if any)."""
        _check(f)
        where: list[str] = []
        params: list[Any] = []
        if f.scope == "open":
            where.append(OPEN_SQL)
        elif f.scope != "all":
            where.append("o.status = ?")
            params.append(f.scope)
        seen, seen_params = visibility_sql(self.desk, self.ref)
        if seen:
            where.append(seen)
            params += seen_params
        if f.dept:
            code = f.dept.strip().upper()
            if code == "ZZ":
                where.append("o.primary_assignee LIKE 'ZZ-%'")
            elif code == "GA":
                where.append("o.police_assignee IS NOT NULL")
            elif code.startswith("GA-"):
                where.append("o.police_assignee = ?")
                params.append(code)
            else:
                where.append("o.primary_assignee = ?")
                params.append(code)
        if f.category:
            where.append("o.category = ?")
            params.append(f.category.strip().upper())
        if f.town:
            where.append("o.town = ?")
            params.append(self.ref.town(f.town).code)
        if f.overdue:
            where.append("o.next_due < ?")  # next_due is only set while the order is being worked on
            params.append(to_db(now))
        if f.repeat:
            where.append("(o.repeat_of IS NOT NULL OR o.linked_calls > 0)")
        if f.dual:
            where.append("o.mode = 'dual'")
        match, short = search_terms(f.search)
        for term in short:
            pattern = _like(term)
            where.append("(o.order_no LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM calls c WHERE c.id = o.call_id AND "
                         "(c.phone LIKE ? ESCAPE '\\' OR c.address LIKE ? ESCAPE '\\' "
                         "OR c.description LIKE ? ESCAPE '\\')))")
            params += [pattern] * 4
        return where, params, match

    def _source(self, match: str | None) -> tuple[str, list[Any]]:
        if match is None:
            return "orders o", []
        # Drive the search from the full-text hits (few) rather than from the sort index (all orders).
        return ("(SELECT DISTINCT d.order_id FROM order_search s JOIN order_search_docs d ON d.doc = s.rowid "
                "WHERE order_search MATCH ?) hit CROSS JOIN orders o ON o.id = hit.order_id", [match])

    # ---- pages ---------------------------------------------------------------------------------
    def page(self, f: BoardFilter, *, after: tuple[str, ...] | None = None, before: tuple[str, ...] | None = None,
             start: tuple[str, ...] | None = None, limit: int = 50, last: bool = False) -> list[BoardRow]:
        """One page in the filter's sort order.

        ``after``: the rows following that key; ``start``: from that key on (inclusive, to refresh the page in
        place); ``before``: the rows just before that key; ``last``: the final page. Default: the first page.
        """
        limit = max(1, min(int(limit), MAX_PAGE))
        now = self.clock()
        where, params, match = self.where(f, now)
        keys, desc = _SORT_KEYS[f.sort]
        backwards = before is not None or last
        bound = after if after is not None else before if before is not None else start
        if bound is not None:
            if len(bound) != len(keys):
                raise ValueError(f"sort key {bound!r} does not fit sort {f.sort!r}")
            forward_op = "<" if desc else ">"
            back_op = ">" if desc else "<"
            op = back_op if before is not None else forward_op + ("=" if start is not None else "")
            where.append(f"({', '.join(keys)}) {op} ({', '.join('?' for _ in keys)})")
            params += list(bound)
        reverse = desc != backwards
        order = ", ".join(f"{k} {'DESC' if reverse else 'ASC'}" for k in keys)
        source, source_params = self._source(match)
        sql = (f"SELECT {self.COLUMNS}, c.address, c.description, {', '.join(keys)} FROM {source} "
               f"LEFT JOIN calls c ON c.id = o.call_id"
               + (f" WHERE {' AND '.join(where)}" if where else "")
               + f" ORDER BY {order} LIMIT ?")
        with self.db.read() as conn:
            rows = conn.exec_driver_sql(sql, tuple(source_params + params + [limit])).all()
        out = [self._row(r, len(keys)) for r in rows]
        if backwards:
            out.reverse()
        return out

    def _row(self, r: Any, nkeys: int) -> BoardRow:
        return BoardRow(
            id=r[0], order_no=r[1], status=r[2], tag=r[3], category=r[4], town=r[5], mode=r[6],
            primary_assignee=r[7], police_assignee=r[8], call_at=from_db(r[9]), updated_at=from_db(r[10]),
            next_due=from_db_opt(r[11]), next_due_kind=r[12], next_due_start=from_db_opt(r[13]),
            repeat=r[14] is not None or int(r[15] or 0) > 0, escalations=int(r[16] or 0), address=r[17] or "",
            description=r[18] or "", key=tuple(str(v) for v in r[19:19 + nkeys]))

    def count(self, f: BoardFilter, *, cap: int = COUNT_CAP) -> BoardCounts:
        """How many orders the filter matches (up to ``cap``: counting stays cheap on broad searches over every
        state), and how many of those are overdue now."""
        now = self.clock()
        where, params, match = self.where(f, now)
        source, source_params = self._source(match)
        inner = (f"SELECT o.next_due < ? AS late FROM {source}" + (f" WHERE {' AND '.join(where)}" if where else "")
                 + " LIMIT ?")
        sql = f"SELECT count(*), coalesce(sum(late), 0) FROM ({inner})"
        with self.db.read() as conn:
            row = conn.exec_driver_sql(sql, tuple([to_db(now)] + source_params + params + [cap + 1])).one()
        total = int(row[0])
        return BoardCounts(min(total, cap), int(row[1]), capped=total > cap)

    def next_crossing(self, f: BoardFilter) -> datetime | None:
        """The next moment a deadline among the filter's orders passes (the board then re-reads its page)."""
        now = self.clock()
        where, params, match = self.where(replace(f, overdue=False), now)
        where.append("o.next_due >= ?")
        params.append(to_db(now))
        source, source_params = self._source(match)
        sql = f"SELECT min(o.next_due) FROM {source} WHERE {' AND '.join(where)}"
        with self.db.read() as conn:
            value = conn.exec_driver_sql(sql, tuple(source_params + params)).scalar()
        return from_db_opt(value)


def mark_overdue(db: Database, now: datetime) -> int:
    """Record the first overdue moment of orders and assignments whose deadline has passed with nothing done.

    ``first_overdue_at`` is set to the missed deadline (the earliest, if several). It is a projection field:
    the next event on the order re-derives it from the events (the state machine notes a deadline passed
    before any event), so no event is written here. Cheap when there is nothing to do (a read first).
    Returns how many rows were marked.
    """
    stamp = to_db(now)
    pending = ("CASE WHEN a.status = 'dispatched' THEN a.sign_due "
               "WHEN a.status = 'signed' AND a.onsite = 1 THEN a.arrive_due "
               "WHEN a.status IN ('signed', 'arrived') THEN a.feedback_due END")
    overdue_orders = "SELECT o.id FROM orders o WHERE o.next_due < :now"
    order_cond = "o.next_due < :now AND (o.first_overdue_at IS NULL OR o.first_overdue_at > o.next_due)"
    asg_cond = (f"a.active = 1 AND ({pending}) < :now AND (a.first_overdue_at IS NULL OR a.first_overdue_at > ({pending})) "
                f"AND a.order_id IN ({overdue_orders})")
    with db.read() as conn:
        todo = conn.exec_driver_sql(
            f"SELECT EXISTS (SELECT 1 FROM orders o WHERE {order_cond}) "
            f"OR EXISTS (SELECT 1 FROM assignments a WHERE {asg_cond})", {"now": stamp}).scalar()
    if not todo:
        return 0
    with db.write() as conn:
        marked = conn.exec_driver_sql(
            f"UPDATE orders AS o SET first_overdue_at = o.next_due WHERE {order_cond}",
            {"now": stamp}).rowcount
        marked += conn.exec_driver_sql(
            f"UPDATE assignments AS a SET first_overdue_at = {pending} WHERE {asg_cond}", {"now": stamp}).rowcount
    return int(marked)

