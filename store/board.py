"""Queries behind the open-orders board: filtered, sorted pages straight from SQL, and overdue marking.

The board never loads whole tables. It asks for one page at a time with *keyset* paging: a page starts after
(or before) the sort key of a row it already shows, so page 10,000 costs what page 1 costs. Every sort has an
index in migration 0003 (partial ones for open orders, the board's default, and full ones for "all states"):

* ``due``    — next deadline first; orders without a pending deadline last (``coalesce(next_due, '~')``)
* ``age``    — oldest call first
* ``newest`` — newest call first (the same index read backwards)
* ``town``   — by town, then deadline

Search uses the FTS5 trigram table ``order_search`` (order number, phone, address, description of the order's
call and of linked repeat calls). A word of one or two characters (假货, 噪音), shorter than a trigram, stands
for the indexed trigrams that begin with it (looked up in ``order_search_vocab``; migration 0003 makes every
character begin one). Every word must match.

What a desk sees follows :mod:`models.roles` (``can_see``): the same rule written as SQL on the orders
table's current assignees, so the board and the detail screen agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from fengqiao.models.clock import Clock, from_db, from_db_opt, system_clock, to_db
from fengqiao.models.desk import Desk, Role
from fengqiao.models.errors import ValidationError
from fengqiao.models.i18n import t
from fengqiao.models.phone import fold_width
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.status import Status

from .db import Connection, Database
from .due import PENDING_DUE

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
MAX_EXPANSION = 1000  # trigrams a short search word may stand for before LIKE is used instead
BROAD = 5000  # a filter or search term matching at least this many rows reads the sort index instead
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
    awaiting_judgement: bool = False  # a department returned it and no supervisor has judged the return yet
    awaiting_visit: bool = False  # fed back: the follow-up visit (回访) is due
    search: str = ""
    sort: str = "due"
    village: str | None = None  # a village or community code (villages.csv): its orders only

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
    attention: str | None = None  # why it waits for someone on this desk (new | returned | overdue), unseen


@dataclass(frozen=True)
class Search:
    """A search as a full-text MATCH expression, and the same words as LIKE conditions on the order's call."""

    match: str | None
    like_where: list[str]
    like_params: list[Any]


@dataclass(frozen=True)
class BoardCounts:
    total: int
    overdue: int
    capped: bool = False  # more than ``total`` match


def visibility_sql(desk: Desk, ref: Reference, alias: str = "o") -> tuple[str, list[Any]]:
    """The orders ``desk`` sees, as a condition on the orders table (``""``: every order).

    The SQL form of :func:`models.roles.can_see` on the orders table's current assignees: a county department
    or township centre by the department assignment, a police station by the police assignment, a township
    desk by its centre's and its station's assignments for calls in its own town; co-handling units by their
    active assignments.
    """
    if desk.sees_all():
        return "", []
    codes = sorted(desk.assignee_codes(ref))
    if not codes:
        return "0", []
    # A co-handling unit (协办) sees the orders it has an active assignment on.
    co = f"{alias}.id IN (SELECT order_id FROM assignments WHERE assignee = ? AND role = 'co' AND active = 1)"
    if desk.role == Role.TOWNSHIP and desk.town:
        town = ref.town(desk.town)
        return (
            f"({alias}.town = ? AND ({alias}.primary_assignee = ? OR {alias}.police_assignee = ? "
            f"OR {alias}.informed = ? OR {co}))",
            [town.code, f"ZZ-{town.code}", town.station_code, f"ZZ-{town.code}", f"ZZ-{town.code}"],
        )
    code = codes[0]
    column = "police_assignee" if code.startswith("GA-") else "primary_assignee"
    if code.startswith("ZZ-"):  # a centre also sees what grassroots routing told it of (``informed``)
        return f"({alias}.{column} = ? OR {alias}.informed = ? OR {co})", [code, code, code]
    if code.startswith("GA-"):  # a police station is never a co-unit
        return f"{alias}.{column} = ?", [code]
    return f"({alias}.{column} = ? OR {co})", [code, code]


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def search_tokens(text: str) -> list[tuple[str, ...]]:
    """The words of a search, each with the spellings it may match (every word must match).

    A phone or order number typed with separators (``138-5751-2345``, ``1128-0042``) also matches its digits.
    """
    tokens = []
    for raw in text.split():
        folded = fold_width(raw)  # full-width digits from a Chinese input method (１３８…) mean the digits
        token = folded if _DIGITS.fullmatch(folded) else raw
        options = [token]
        if _DIGITS.fullmatch(token):
            digits = re.sub(r"\D", "", token)
            if digits and digits != token:
                options.append(digits)
        tokens.append(tuple(options))
    return tokens


def _short_trigrams(conn: Connection, term: str) -> list[str] | None:
    """The indexed trigrams that begin with a one- or two-character ``term`` (every occurrence of the term
    begins one, see migration 0003); ``None`` when there are too many to list (a very common character)."""
    low = term.lower()
    rows = conn.exec_driver_sql(
        "SELECT term FROM order_search_vocab WHERE term >= ? AND term < ? LIMIT ?",
        (low, low + "\U0010ffff", MAX_EXPANSION + 1),
    ).all()
    if len(rows) > MAX_EXPANSION:
        return None
    return [r[0] for r in rows]


# A search word in the order's number or its calls, row by row (for words that many calls contain).
LIKE_SQL = (
    "o.order_no LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM calls c WHERE c.order_id = o.id AND "
    "(c.phone LIKE ? ESCAPE '\\' OR c.address LIKE ? ESCAPE '\\' OR c.description LIKE ? ESCAPE '\\'))"
)


def _check(f: BoardFilter) -> None:
    if f.scope not in SCOPES:
        raise ValidationError(
            t("error.bad_choice", value=f.scope, field=t("board.scope"), choices=", ".join(SCOPES)), field="scope"
        )
    if f.sort not in SORTS:
        raise ValidationError(
            t("error.bad_choice", value=f.sort, field=t("board.sort"), choices=", ".join(SORTS)), field="sort"
        )


class BoardQuery:
    """The board's reads for one desk (thread-safe: every call borrows its own connection)."""

    broad = BROAD
    COLUMNS = (
        "o.id, o.order_no, o.status, o.tag, o.category, o.town, o.mode, o.primary_assignee, "
        "o.police_assignee, o.call_at, o.updated_at, o.next_due, o.next_due_kind, o.next_due_start, "
        "o.repeat_of, o.linked_calls, o.escalations"
    )

    def __init__(
        self, db: Database, *, desk: Desk | None = None, ref: Reference | None = None, clock: Clock = system_clock
    ) -> None:
        self.db = db
        self.desk = desk or Desk()
        self.ref = ref or default_reference()
        self.clock = clock
        self._broad_cache: dict[tuple[Any, ...], bool] = {}

    def forget_plans(self) -> None:
        """Forget which filters were found broad (each is probed once); the next page of any filter probes
        again, as a filter met for the first time does. For measuring a filter change."""
        self._broad_cache.clear()

    # ---- building the query --------------------------------------------------------------------
    def where(
        self, f: BoardFilter, now: datetime, conn: Connection | None = None
    ) -> tuple[list[str], list[Any], Search]:
        """(conditions on ``o``, their parameters, the search). ``conn`` lets short search words be looked up in
        the index's vocabulary (without it they are matched with LIKE)."""
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
            if code in ("ZZ", "TJ", "WG", "SO"):  # every centre, mediation committee, grid worker, organisation
                where.append(f"o.primary_assignee LIKE '{code}-%'")
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
        if f.village:
            where.append("o.village = ?")
            params.append(f.village.strip().upper())
        if f.overdue:
            # next_due is only set while the order is worked on; written on the sort key so that its index can
            # serve the range as well as the order.
            where.append(f"{DUE_KEY} < ?")
            params.append(to_db(now))
        if f.repeat:
            where.append("(o.repeat_of IS NOT NULL OR o.linked_calls > 0)")
        if f.dual:
            where.append("o.mode = 'dual'")
        if f.awaiting_judgement:
            where.append(
                "EXISTS (SELECT 1 FROM assignments a WHERE a.order_id = o.id AND a.status = 'returned' "
                "AND a.return_justified IS NULL)"
            )
        if f.awaiting_visit:
            where.append("o.status = 'fed_back'")
        groups: list[str] = []
        likes: list[str] = []
        like_params: list[Any] = []
        for options in search_tokens(f.search):
            phrases: list[str] = []
            common = False
            for option in options:
                if len(option) >= 3:
                    phrases.append(_phrase(option))
                    continue
                expanded = _short_trigrams(conn, option) if conn is not None else None
                if expanded is None:
                    common = True
                    break
                phrases += [_phrase(x) for x in expanded]
            like = " OR ".join([LIKE_SQL] * len(options))
            if common:  # a very common character: look for it row by row
                where.append(f"({like})")
                params += [p for option in options for p in [_like(option)] * 4]
                continue
            if not phrases:
                where.append("0")  # a word that occurs nowhere
                continue
            groups.append("(" + " OR ".join(phrases) + ")")
            likes.append(f"({like})")
            like_params += [p for option in options for p in [_like(option)] * 4]
        match = " AND ".join(groups) if groups else None
        return where, params, Search(match, likes, like_params)

    # ---- choosing the plan ---------------------------------------------------------------------
    # SQLite plans without statistics (and these tables grow from nothing to millions of rows), so for the
    # shapes where its guess can cost seconds at a million orders the board decides itself, from cheap probes:
    #
    # * Open orders (the default) are a few thousand even among a million: read them through the partial
    #   index that yields the requested order, never through a full-table index.
    # * Every state, with filters: a filter matching few rows drives from its own index and sorts what it
    #   finds; one matching many rows reads the sort index and stops at the page's end.
    # * Search: words with few hits drive from the full-text hits; common ones read the sort index and look
    #   for the words in each row's calls (the page fills after a few rows).

    def _open_index(self, f: BoardFilter) -> str:
        if f.sort in ("age", "newest"):
            return "ix_board_open_age"
        if f.sort == "town" or f.town or self.desk.role == Role.TOWNSHIP:
            return "ix_board_open_town"
        return "ix_board_open_due"

    def _broad(self, conn: Connection, sql: str, params: list[Any]) -> bool:
        """Whether a probe query matches at least ``self.broad`` rows (it reads at most that many)."""
        found = conn.exec_driver_sql(f"SELECT count(*) FROM ({sql} LIMIT {int(self.broad)})", tuple(params)).scalar()
        return int(found or 0) >= self.broad

    def _plan(
        self,
        conn: Connection,
        f: BoardFilter,
        where: list[str],
        params: list[Any],
        search: Search,
        *,
        counting: bool = False,
    ) -> tuple[str, list[Any], list[str], list[Any]]:
        """(FROM clause, its parameters, WHERE conditions, their parameters) for filter ``f``."""
        where, params = list(where), list(params)
        if "0" in where:  # a search word that occurs nowhere: nothing to plan
            return "orders o", [], where, params
        sort_index = None
        match = search.match
        if match is not None:
            found = (
                conn.exec_driver_sql(
                    f"SELECT count(*) FROM (SELECT 1 FROM order_search WHERE order_search MATCH ? LIMIT {int(self.broad)})",
                    (match,),
                ).scalar()
                or 0
            )
            if found < self.broad or (counting and f.scope != "open"):
                hits = (
                    "SELECT DISTINCT d.order_id FROM order_search s JOIN order_search_docs d ON d.doc = s.rowid "
                    "WHERE order_search MATCH ?"
                )
                return f"({hits}) hit CROSS JOIN orders o ON o.id = hit.order_id", [match], where, params
            # A common word: read the sort index and look for the words in each row's calls; matches are
            # frequent, so the page fills after a few rows.
            where += search.like_where
            params += search.like_params
            sort_index = True
        if f.scope == "open":
            return f"orders o INDEXED BY {self._open_index(f)}", [], where, params
        if counting or not where:
            return "orders o", [], where, params
        key = (
            f.scope,
            f.dept,
            f.category,
            f.town,
            f.overdue,
            f.repeat,
            f.dual,
            f.awaiting_judgement,
            f.awaiting_visit,
            f.search,
            f.sort,
            f.village,
        )
        broad = sort_index or self._broad_cache.get(key)
        if broad is None:
            broad = self._broad(conn, f"SELECT 1 FROM orders o WHERE {' AND '.join(where)}", params)
            self._broad_cache[key] = broad
        if broad:
            index = {"due": "ix_board_due", "age": "ix_board_age", "newest": "ix_board_age", "town": "ix_board_town"}
            if f.scope != "all" and f.sort == "due":
                return "orders o INDEXED BY ix_board_status", [], where, params
            return f"orders o INDEXED BY {index[f.sort]}", [], where, params
        return "orders o", [], where, params

    # ---- pages ---------------------------------------------------------------------------------
    def page(
        self,
        f: BoardFilter,
        *,
        after: tuple[str, ...] | None = None,
        before: tuple[str, ...] | None = None,
        start: tuple[str, ...] | None = None,
        limit: int = 50,
        last: bool = False,
    ) -> list[BoardRow]:
        """One page in the filter's sort order.

        ``after``: the rows following that key; ``start``: from that key on (inclusive, to refresh the page in
        place); ``before``: the rows just before that key; ``last``: the final page. Default: the first page.
        """
        limit = max(1, min(int(limit), MAX_PAGE))
        now = self.clock()
        keys, desc = _SORT_KEYS[f.sort]
        backwards = before is not None or last
        bound = after if after is not None else before if before is not None else start
        bound_sql: list[str] = []
        with self.db.read() as conn:
            floating = f.scope == "open" and self._has_attention(conn)
        if floating:  # orders waiting for someone on this desk come first (see store/attention.py)
            keys = (self._float_key(desc), *keys)
        if bound is not None and len(bound) == len(keys) + 1:
            bound = bound[1:]  # a key from when orders floated: nothing does now
        elif bound is not None and len(bound) == len(keys) - 1:
            bound = ("0" if desc else "1", *bound)  # a key from before: it was not floating
        if bound is not None:
            if len(bound) != len(keys):
                raise ValueError(f"sort key {bound!r} does not fit sort {f.sort!r}")
            forward_op = "<" if desc else ">"
            back_op = ">" if desc else "<"
            op = back_op if before is not None else forward_op + ("=" if start is not None else "")
            bound_sql.append(f"({', '.join(keys)}) {op} ({', '.join('?' for _ in keys)})")
        reverse = desc != backwards
        order = ", ".join(f"{k} {'DESC' if reverse else 'ASC'}" for k in keys)
        with self.db.read() as conn:
            base_where, base_params, search = self.where(f, now, conn)
            source, source_params, where, params = self._plan(conn, f, base_where, base_params, search)
            where += bound_sql
            params += list(bound or ())
            # The page is chosen on the orders table alone; the calls (address, words) are joined to its rows
            # only, not to every row a sort has to look at.
            inner = (
                f"SELECT {self.COLUMNS}, o.call_id AS call_ref, "
                + ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
                + f" FROM {source}"
                + (f" WHERE {' AND '.join(where)}" if where else "")
                + f" ORDER BY {order} LIMIT ?"
            )
            outer = ", ".join(f"p.k{i} {'DESC' if reverse else 'ASC'}" for i in range(len(keys)))
            sql = (
                f"SELECT p.*, c.address, c.description, ({self._attention_sql('p.id')}) AS attention "
                f"FROM ({inner}) p LEFT JOIN calls c ON c.id = p.call_ref ORDER BY {outer}"
            )
            rows = conn.exec_driver_sql(sql, tuple(source_params + params + [limit])).all()
            out = [self._row(r, len(keys)) for r in rows]
            if out and not self.desk.sees_all():
                out = self._own_view(conn, out)
        if backwards:
            out.reverse()
        return out

    def _own_view(self, conn: Connection, rows: list[BoardRow]) -> list[BoardRow]:
        """A department or township desk sees its own assignment's state and next deadline on each row, not the
        order's (on a dual order the police station's countdown is the station's business)."""
        codes = sorted(self.desk.assignee_codes(self.ref))
        if not codes:
            return rows
        # by the page's order ids (`+assignee`: not by the unit's index, which holds every assignment it ever had)
        marks = ", ".join("?" for _ in rows)
        asg_marks = ", ".join("?" for _ in codes)
        found = conn.exec_driver_sql(
            "SELECT order_id, assignee, dept, town, status, active, onsite, dispatched_at, signed_at, sign_due, "
            f"arrive_due, feedback_due FROM assignments WHERE order_id IN ({marks}) AND +assignee IN ({asg_marks}) "
            "ORDER BY order_id, seq",
            (*[r.id for r in rows], *codes),
        ).all()
        own: dict[str, list[Any]] = {}
        for a in found:
            if self.desk.role == Role.TOWNSHIP and a.dept == "GA" and a.town != self.desk.town:
                continue  # a shared station's work for another town
            own.setdefault(a.order_id, []).append(a)
        return [_own_row(r, own.get(r.id, [])) for r in rows]

    # ---- orders waiting for someone (store/attention.py) ---------------------------------------------
    def _desk_literal(self) -> str:
        return "'" + self.desk.name.replace("'", "''") + "'"

    def _attention_sql(self, column: str) -> str:
        return (
            f"SELECT a.reason FROM attention a WHERE a.desk = {self._desk_literal()} AND a.order_id = {column} "
            "AND a.seen_at IS NULL"
        )

    def _float_key(self, desc: bool) -> str:
        first, rest = ("'1'", "'0'") if desc else ("'0'", "'1'")  # text, as every other sort key
        return f"(CASE WHEN EXISTS ({self._attention_sql('o.id')}) THEN {first} ELSE {rest} END)"

    def _has_attention(self, conn: Connection) -> bool:
        if self.desk.role is None or not has_attention_table(conn):
            return False
        return (
            conn.exec_driver_sql(
                "SELECT 1 FROM attention WHERE desk = ? AND seen_at IS NULL LIMIT 1", (self.desk.name,)
            ).first()
            is not None
        )

    def _row(self, r: Any, nkeys: int) -> BoardRow:
        return BoardRow(
            id=r[0],
            order_no=r[1],
            status=r[2],
            tag=r[3],
            category=r[4],
            town=r[5],
            mode=r[6],
            primary_assignee=r[7],
            police_assignee=r[8],
            call_at=from_db(r[9]),
            updated_at=from_db(r[10]),
            next_due=from_db_opt(r[11]),
            next_due_kind=r[12],
            next_due_start=from_db_opt(r[13]),
            repeat=r[14] is not None or int(r[15] or 0) > 0,
            escalations=int(r[16] or 0),
            key=tuple(str(v) for v in r[18 : 18 + nkeys]),
            address=r[18 + nkeys] or "",
            description=r[19 + nkeys] or "",
            attention=r[20 + nkeys],
        )

    def count(self, f: BoardFilter, *, cap: int = COUNT_CAP) -> BoardCounts:
        """How many orders the filter matches (up to ``cap``: counting stays cheap on broad searches over every
        state), and how many of those are overdue now."""
        now = self.clock()
        with self.db.read() as conn:
            where, params, search = self.where(f, now, conn)
            source, source_params, where, params = self._plan(conn, f, where, params, search, counting=True)
            inner = (
                f"SELECT o.next_due < ? AS late FROM {source}"
                + (f" WHERE {' AND '.join(where)}" if where else "")
                + " LIMIT ?"
            )
            sql = f"SELECT count(*), coalesce(sum(late), 0) FROM ({inner})"
            row = conn.exec_driver_sql(sql, tuple([to_db(now)] + source_params + params + [cap + 1])).one()
        total = int(row[0])
        return BoardCounts(min(total, cap), int(row[1]), capped=total > cap)

    def next_crossing(self, f: BoardFilter) -> datetime | None:
        """The next moment a deadline among the filter's orders passes (the board then re-reads its page)."""
        now = self.clock()
        f = replace(f, overdue=False)
        with self.db.read() as conn:
            where, params, search = self.where(f, now, conn)
            source, source_params, where, params = self._plan(conn, f, where, params, search, counting=True)
            where.append(f"{DUE_KEY} >= ? AND o.next_due IS NOT NULL")
            params.append(to_db(now))
            sql = f"SELECT min(o.next_due) FROM {source} WHERE {' AND '.join(where)}"
            value = conn.exec_driver_sql(sql, tuple(source_params + params)).scalar()
        return from_db_opt(value)


def _own_row(row: BoardRow, mine: list[Any]) -> BoardRow:
    """``row`` as the desk holding assignments ``mine`` sees it: their state and their earliest pending deadline."""
    current = [a for a in mine if a.active] or mine[-1:]
    if not current:
        return row
    best: tuple[str, datetime, datetime] | None = None
    for a in current:
        pending = _pending(a) if a.active and row.status in WORKING else None
        if pending is not None and (best is None or pending[1] < best[1]):
            best = pending
    if best is not None and best[1] == row.next_due and row.next_due_start is not None:
        best = (best[0], best[1], row.next_due_start)  # the order's own window (a reopened order starts anew)
    states = [a.status for a in current]
    status = row.status
    if row.status in WORKING or row.status == Status.FED_BACK:
        status = min(states, key=lambda s: _ASG_STAGE.get(s, 9))
    return replace(
        row,
        status=status,
        next_due=best[1] if best else None,
        next_due_kind=best[0] if best else None,
        next_due_start=best[2] if best else None,
    )


WORKING = frozenset({"dispatched", "signed", "arrived", "returned"})
_ASG_STAGE = {"returned": 0, "dispatched": 1, "signed": 2, "arrived": 3, "fed_back": 4}


def _pending(a: Any) -> tuple[str, datetime, datetime] | None:
    """(kind, due, window start) of the deadline an assignment row works toward (models.machine's rule)."""
    start = from_db(a.dispatched_at)
    if a.status == "dispatched":
        return "sign", from_db(a.sign_due), start
    if a.status == "signed" and a.onsite and a.arrive_due:
        return "arrive", from_db(a.arrive_due), start
    if a.status in ("signed", "arrived"):
        return "feedback", from_db(a.feedback_due), start
    return None


def has_attention_table(conn: Connection) -> bool:
    """Whether the schema has the desk's ``attention`` table (version 8+). Remembered per connection."""
    if conn.info.get("fq_attention"):
        return True
    found = (
        conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'attention'").first()
        is not None
    )
    if found:
        conn.info["fq_attention"] = True
    return found


def mark_overdue(db: Database, now: datetime) -> int:
    """Record the first overdue moment of orders and assignments whose deadline has passed with nothing done.

    ``first_overdue_at`` is set to the missed deadline (the earliest, if several). It is a projection field:
    the next event on the order re-derives it from the events (the state machine notes a deadline passed
    before any event), so no event is written here. Cheap when there is nothing to do (a read first).
    Returns how many rows were marked.
    """
    stamp = to_db(now)
    pending = PENDING_DUE
    overdue_orders = "SELECT o.id FROM orders o WHERE o.next_due < :now"
    order_cond = "o.next_due < :now AND (o.first_overdue_at IS NULL OR o.first_overdue_at > o.next_due)"
    asg_cond = (
        f"a.active = 1 AND ({pending}) < :now AND (a.first_overdue_at IS NULL OR a.first_overdue_at > ({pending})) "
        f"AND a.order_id IN ({overdue_orders})"
    )
    with db.read() as conn:
        todo = conn.exec_driver_sql(
            f"SELECT EXISTS (SELECT 1 FROM orders o WHERE {order_cond}) "
            f"OR EXISTS (SELECT 1 FROM assignments a WHERE {asg_cond})",
            {"now": stamp},
        ).scalar()
    if not todo:
        return 0
    with db.write() as conn:
        marked = conn.exec_driver_sql(
            f"UPDATE orders AS o SET first_overdue_at = o.next_due WHERE {order_cond}", {"now": stamp}
        ).rowcount
        marked += conn.exec_driver_sql(
            f"UPDATE assignments AS a SET first_overdue_at = {pending} WHERE {asg_cond}", {"now": stamp}
        ).rowcount
    return int(marked)
