"""KPI and cockpit queries: SQL aggregates over the projection tables, never orders loaded into Python.

Every figure is a ``count``/``sum`` over rows picked by an indexed range (``orders.call_at`` for a window,
``orders.status``/``next_due`` for the open work, ``calls.received_at`` for callers); percentiles are taken
in SQL with window functions over the narrow set of durations. ``models.kpi`` turns the counts into rates,
scores and rankings. The definitions are in ``models/kpi.py`` and the README ("Cockpit and KPIs").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from fengqiao.models.clock import Clock, ensure_utc, from_db, local, system_clock, to_db
from fengqiao.models.errors import ValidationError
from fengqiao.models.grassroots import GRASSROOTS
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.kpi import (
    DEFAULT_WEIGHTS,
    SPREADS,
    Counts,
    KpiRow,
    Spread,
    Weights,
    Window,
    last_days,
    local_date,
    ranked,
    rate,
    spread,
    sum_counts,
)
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.routing import describe_assignee

from .db import Connection, Database, raw_sqlite
from .due import PENDING_DUE
from .rollups import (
    COUNTED,
    FED_BACK,
    FIELDS,
    GAP,
    LEAD,
    MEASURES,
    MINUTES,
    ORDER_FIELDS,
    REDO_BASE,
    REDONE,
    RESOLVED,
    RETURNABLE,
    RETURNED,
    SATISFIED_SQL,
    has_rollups,
    select,
)

VIEWS = ("department", "town", "tag", "overall", "village")
NO_VILLAGE = "-"  # the village view's row for orders without a village
TOTAL_KEY = "ALL"

# Every window query walks the orders of the window (ix_orders_call_at) and then their assignments: CROSS JOIN
# fixes that order, so the planner never scans all assignments by assignee to save a GROUP BY sort.
# An assignment counts unless it was returned and the return was not judged unjustified.
_COUNTED = COUNTED
_IN_WINDOW = "o.call_at >= :start AND o.call_at < :end AND o.status <> 'cancelled'"


def _count(condition: str) -> str:
    return f"count(*) FILTER (WHERE {condition})"


_ASSIGNMENT_COUNTS = f"""
SELECT {{key}} AS key,
  count(*) AS dispatched,
  {_count("a.status = 'returned' AND a.return_justified = 1")} AS returned_justified,
  {_count("a.status = 'returned' AND a.return_justified = 0")} AS returned_unjustified,
  {_count("a.status = 'returned' AND a.return_justified IS NULL")} AS returned_unjudged,
  {_count("a.ext_status = 'approved'")} AS extended,
  {_count(f"{_COUNTED} AND (a.signed_at IS NOT NULL OR a.status = 'returned' OR a.sign_due < :now)")} AS sign_base,
  {_count(f"{_COUNTED} AND a.signed_at <= a.sign_due")} AS signed_on_time,
  {_count(f"{_COUNTED} AND a.onsite = 1 AND (a.arrived_at IS NOT NULL OR a.status = 'returned' OR a.arrive_due < :now)")}
    AS arrival_base,
  {_count(f"{_COUNTED} AND a.onsite = 1 AND a.arrived_at <= a.arrive_due")} AS arrived_on_time,
  {_count(f"{_COUNTED} AND (a.fed_back_at IS NOT NULL OR a.status = 'returned' OR a.feedback_due < :now)")}
    AS feedback_base,
  {_count(f"{_COUNTED} AND a.fed_back_at <= a.feedback_due")} AS fed_back_on_time,
  {_count(RETURNABLE)} AS return_base,
  {_count(RETURNED)} AS returned
FROM orders o CROSS JOIN assignments a ON a.order_id = o.id
WHERE {_IN_WINDOW} {{where}}
GROUP BY 1
"""

_SATISFIED_SQL = SATISFIED_SQL
_FED_BACK = FED_BACK
_RESOLVED = RESOLVED
_ORDER_COUNTS = f"""
SELECT {{key}} AS key,
  count(*) AS orders,
  {_count(_FED_BACK)} AS orders_fed_back,
  {_count(_RESOLVED)} AS resolved,
  {_count("o.phone <> ''")} AS repeat_base,
  {_count("r.order_id IS NOT NULL AND o.phone <> ''")} AS repeat_orders,
  {_count("o.visited_at IS NOT NULL")} AS visited,
  {_count(f"o.visited_at IS NOT NULL AND o.satisfaction IN ({_SATISFIED_SQL})")} AS satisfied,
  {_count(f"o.onsite = 1 AND {_FED_BACK}")} AS onsite_fed_back,
  {_count(f"o.onsite = 1 AND {_RESOLVED}")} AS onsite_resolved,
  {_count("o.reopen_count > 0")} AS reopened,
  {_count("o.visited_at IS NOT NULL AND o.satisfaction = 'basic'")} AS basic_satisfied,
  {_count(f"{REDO_BASE} {{lead}}")} AS redo_base,
  {_count(f"{REDONE} {{lead}}")} AS redone
FROM orders o LEFT JOIN kpi_repeats r ON r.order_id = o.id {{join}}
WHERE {_IN_WINDOW} {{where}}
GROUP BY 1
"""

# Durations (minutes) of every counted assignment, one narrow row each; percentiles are picked from these.
_MINUTES = MINUTES
_DURATIONS = f"""
SELECT {{key}} AS key, {_MINUTES.format(end="a.signed_at")}, {_MINUTES.format(end="a.arrived_at")},
       {_MINUTES.format(end="a.fed_back_at")}
FROM orders o CROSS JOIN assignments a ON a.order_id = o.id
WHERE {_IN_WINDOW} AND {_COUNTED} {{where}}
"""
# Dual orders on which both arrived: the department's arrival minus the police station's (minutes).
_GAPS = f"""
SELECT p.assignee, p.dept, q.assignee, q.dept, o.town, o.tag, coalesce(o.village, '{NO_VILLAGE}'), {GAP}
FROM orders o
CROSS JOIN assignments p ON p.order_id = o.id AND p.role = 'primary' AND p.active = 1
CROSS JOIN assignments q ON q.order_id = o.id AND q.role = 'police' AND q.active = 1
WHERE {_IN_WINDOW} AND o.mode = 'dual' AND p.arrived_at IS NOT NULL AND q.arrived_at IS NOT NULL
"""

_MINE = "AND (a.assignee = :dept OR a.dept = :dept)"
_SCOPE = {"department": "a", "town": "w", "tag": "t", "overall": "*", "day": "*"}
_BASE_OF = {"sign": "sign_base", "arrive": "arrival_base", "feedback": "feedback_base"}
_WORKING = "('dispatched', 'signed', 'arrived', 'returned')"
_ASSIGNMENT_OVERDUE = f"({PENDING_DUE}) < :now"  # NULL (no deadline running) is not counted by sum()


@dataclass
class KpiTable:
    """A KPI table for one window and view: ranked rows and the total over the same orders."""

    window: Window
    by: str
    dept: str | None
    rows: list[KpiRow]
    total: KpiRow
    weights: Weights
    generated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.window.first.isoformat(),
            "to": self.window.last.isoformat(),
            "by": self.by,
            "dept": self.dept,
            "rows": [r.to_json() for r in self.rows],
            "total": self.total.to_json(),
            "weights": self.weights.as_dict(),
            "basic_weight": self.weights.basic_weight,
            "generated_at": to_db(self.generated_at),
        }


@dataclass(frozen=True)
class Frequent:
    """A phone number or an address with 3 or more calls within 7 days."""

    key: str  # the phone, or the address
    town: str
    calls: int
    first_at: datetime
    last_at: datetime
    tags: tuple[str, ...]  # latest first, distinct


@dataclass(frozen=True)
class Today:
    """Today's counts for the cockpit: calls, orders, dispatches, closures, and open work by state."""

    calls: int = 0
    orders: int = 0
    dispatched: int = 0
    closed: int = 0
    awaiting_sign: int = 0
    awaiting_feedback: int = 0  # signed or on scene, no feedback yet
    on_scene: int = 0
    overdue: int = 0
    returned: int = 0  # returned, waiting to be reassigned


@dataclass(frozen=True)
class FeedbackStatus:
    """The feedback loop's open work: follow-ups, closures, late feedback, extensions, returns to judge, redos."""

    awaiting_visit: int = 0
    awaiting_close: int = 0
    feedback_overdue: int = 0
    extension_pending: int = 0
    returns_to_judge: int = 0
    reworking: int = 0  # reopened and back at work


@dataclass(frozen=True)
class DeptLoad:
    """One assignee's open work now and today's sign-off figures."""

    code: str
    awaiting_sign: int
    overdue: int
    open: int
    signed_on_time: int
    sign_base: int

    @property
    def sign_rate(self) -> float | None:
        return rate(self.signed_on_time, self.sign_base)


@dataclass
class Live:
    """What the cockpit redraws on every change: today's picture."""

    now: datetime
    today: Today
    feedback: FeedbackStatus
    depts: list[DeptLoad]
    callers: list[Frequent]
    addresses: list[Frequent]
    today_counts: Counts


@dataclass
class Trend:
    """What the cockpit recomputes every few minutes: per-day counts of the days before today, and scores."""

    computed_at: datetime
    daily: dict[date, Counts]
    scores: dict[str, tuple[float | None, int | None]] = field(default_factory=dict)  # assignee -> (score, rank)
    month: KpiRow | None = None  # the last 30 days (today included) in total, with its times


class KpiStore:
    """KPI tables, the cockpit's live picture and its trend, for one database."""

    def __init__(
        self,
        db: Database,
        *,
        ref: Reference | None = None,
        clock: Clock = system_clock,
        weights: Weights = DEFAULT_WEIGHTS,
        rollups: bool = True,
    ) -> None:
        self.db = db
        self.rollups = rollups  # False: every figure the plainest way, from the projection (the tests' oracle)
        self.ref = ref or default_reference()
        self.clock = clock
        self.weights = weights
        self._memo: dict[str, tuple[Any, list[Frequent]]] = {}

    # ---- naming ---------------------------------------------------------------------------------
    def check_dept(self, code: str | None) -> str | None:
        """Normalize ``--dept``: a department (SCJG, ZZ, GA) or one assignee (ZZ-HZ, GA-GL)."""
        if code is None or not code.strip():
            return None
        key = code.strip().upper()
        if self.ref.assignee_known(key) or key in GRASSROOTS:  # TJ/WG/SO: every unit of that grassroots kind
            return key
        raise ValidationError(t("error.unknown_dept", code=code), field="dept")

    def name_of(self, by: str, key: str, lang: str | None = None) -> str:
        lang = lang or get_lang()
        if key == TOTAL_KEY:
            return t("kpi.total", lang=lang)
        if by == "department":
            return describe_assignee(self.ref, key, lang)
        if by == "town" and key in self.ref.towns:
            town = self.ref.towns[key]
            return town.name_zh if lang == "zh" else town.name_en
        if by == "village":
            if key in self.ref.villages:
                v = self.ref.villages[key]
                town = self.ref.towns[v.town]
                return f"{v.name_zh}（{town.name_zh}）" if lang == "zh" else f"{v.name_en} ({town.name_en})"
            if key == NO_VILLAGE:
                return t("grassroots.no_village", lang=lang)
        if by == "tag" and key in self.ref.tags:
            tag = self.ref.tags[key]
            return tag.name_zh if lang == "zh" else tag.name_en
        return key

    # ---- the KPI table --------------------------------------------------------------------------
    def table(
        self, window: Window, by: str = "department", dept: str | None = None, *, spreads: bool = True
    ) -> KpiTable:
        """KPIs of every department (assignee), town or tag for orders whose call came in during ``window``.

        The total is over the same orders (with ``dept``: that department's). In the department view an order
        counts for each assignee still on it, so the total's order figures are counted again, once per order.
        """
        if by not in VIEWS:
            raise ValidationError(t("error.bad_choice", value=by, field="--by", choices=", ".join(VIEWS)), field="by")
        dept = self.check_dept(dept)
        now = ensure_utc(self.clock())
        with self.db.read() as conn:
            counts = self._counts(conn, window, by, dept, now)
            times = self._spreads(conn, window, by, dept) if spreads else {}
            total_counts = (
                self._department_total(conn, window, dept, counts)
                if by == "department"
                else sum_counts(counts.values())
            )
        total_spreads = times.pop(TOTAL_KEY, {})
        rows = [
            KpiRow(key, self.name_of(by, key), c, times.get(key, {}), self.weights)
            for key, c in counts.items()
            if key != TOTAL_KEY
        ]
        total = KpiRow(TOTAL_KEY, self.name_of(by, TOTAL_KEY), total_counts, total_spreads, self.weights)
        return KpiTable(window, by, dept, ranked(rows) if by != "overall" else rows, total, self.weights, now)

    def daily(self, window: Window, dept: str | None = None) -> dict[date, Counts]:
        """Counts per local day of the call, for every day of ``window`` that had orders."""
        now = ensure_utc(self.clock())
        with self.db.read() as conn:
            raw = self._counts(conn, window, "day", self.check_dept(dept), now)
        return {date.fromisoformat(k): c for k, c in raw.items()}

    @staticmethod
    def _key(by: str) -> str:
        return {
            "department": "a.assignee",
            "town": "o.town",
            "tag": "o.tag",
            "overall": f"'{TOTAL_KEY}'",
            "day": "date(o.call_at, :tz)",
            "village": f"coalesce(o.village, '{NO_VILLAGE}')",
        }[by]

    @staticmethod
    def _params(window: Window, now: datetime | None = None, dept: str | None = None) -> dict[str, Any]:
        offset = local(window.start).utcoffset() or timedelta(0)
        params: dict[str, Any] = {
            "start": to_db(window.start),
            "end": to_db(window.end),
            "tz": f"{int(offset.total_seconds()) // 60:+d} minutes",
        }
        if now is not None:
            params["now"] = to_db(now)
        if dept:
            params["dept"] = dept
        return params

    # ---- from the rollups (store/rollups.py) ------------------------------------------------------
    def _rolled(self, conn: Connection, by: str, dept: str | None) -> bool:
        """Whether the rollups answer this view: all views, and with ``--dept`` the department view (the others
        with a department filter, rare, are computed from the projection)."""
        # The village view is computed from the projection (the rollups keep no village scope).
        return self.rollups and by != "village" and (by == "department" or not dept) and has_rollups(conn)

    @staticmethod
    def _days(window: Window, dept: str | None, now: datetime | None = None) -> dict[str, Any]:
        p: dict[str, Any] = {"first": window.first.isoformat(), "last": window.last.isoformat()}
        if dept:
            p["dept"] = dept
        if now is not None:
            p["now"] = to_db(now)
        return p

    def _roll_counts(
        self, conn: Connection, window: Window, by: str, dept: str | None, now: datetime
    ) -> dict[str, Counts]:
        scope = _SCOPE[by]
        key = "day" if by == "day" else "key"
        mine = " AND (key = :dept OR dept = :dept)" if dept else ""
        sums = ", ".join(f"sum({f})" for f in FIELDS)
        sql = (
            f"SELECT {key}, {sums} FROM kpi_rollup WHERE scope = '{scope}' AND day >= :first AND day <= :last{mine} "
            "GROUP BY 1 HAVING sum(dispatched) > 0 OR sum(orders) > 0"
        )
        raw = raw_sqlite(conn)
        found = {row[0]: dict(zip(FIELDS, row[1:], strict=True)) for row in raw.execute(sql, self._days(window, dept))}
        pkey = {"department": "assignee", "town": "town", "tag": "tag", "overall": f"'{TOTAL_KEY}'", "day": "day"}[by]
        pmine = " AND (assignee = :dept OR dept = :dept)" if dept else ""
        pending = (
            f"SELECT {pkey}, measure, count(*) FROM kpi_pending WHERE day >= :first AND day <= :last "
            f"AND due < :now{pmine} GROUP BY 1, 2"
        )
        for k, measure, n in raw.execute(pending, self._days(window, dept, now)):
            row = found.setdefault(k, dict.fromkeys(FIELDS, 0))
            row[_BASE_OF[measure]] += n
        return {k: Counts.from_mapping(v) for k, v in sorted(found.items())}

    def _roll_order_counts(self, conn: Connection, window: Window, dept: str | None) -> dict[str, Any]:
        """The order counts of the whole window, once per order (with ``dept``: once per active assignment of
        the department), or {} when it has no orders."""
        mine = " AND (key = :dept OR dept = :dept)" if dept else ""
        scope = "a" if dept else "*"
        sums = ", ".join(f"sum({f})" for f in ORDER_FIELDS)
        row = (
            raw_sqlite(conn)
            .execute(
                f"SELECT {sums} FROM kpi_rollup WHERE scope = '{scope}' AND day >= :first AND day <= :last{mine}",
                self._days(window, dept),
            )
            .fetchone()
        )
        if not row or not row[0]:
            return {}
        return dict(zip(ORDER_FIELDS, row, strict=True))

    def _roll_spreads(
        self, conn: Connection, window: Window, by: str, dept: str | None
    ) -> dict[str, dict[str, Spread]]:
        raw = raw_sqlite(conn)
        sql = "SELECT key, measure, lo, hist, vals FROM kpi_rollup_minutes WHERE scope = ? AND day >= ? AND day <= ?"
        bounds = (window.first.isoformat(), window.last.isoformat())

        def parts(scope: str, extra: str = "", more: tuple[Any, ...] = ()) -> dict[tuple[str, str], list[Any]]:
            out: dict[tuple[str, str], list[Any]] = defaultdict(list)
            for key, measure, lo, hist, vals in raw.execute(sql + extra, (scope, *bounds, *more)):
                out[(key, measure)].append((lo, hist, vals))
            return out

        out: dict[str, dict[str, Spread]] = {}
        if by != "overall":
            mine = " AND (key = ? OR dept = ?)" if dept else ""
            rows = parts(_SCOPE[by], mine, (dept, dept) if dept else ())
            for (key, measure), found in rows.items():
                out.setdefault(key, {})[SPREADS[MEASURES.index(measure)]] = select(found)
        if not dept:
            every = parts("*")
            out[TOTAL_KEY] = {SPREADS[MEASURES.index(m)]: select(found) for (_k, m), found in every.items()}
        else:  # the department's assignments (one assignee each); its dual orders' gaps once per order
            union: dict[str, list[Any]] = defaultdict(list)
            for (_key, measure), found in rows.items():
                if measure != "gap":
                    union[measure].extend(found)
            total = {SPREADS[MEASURES.index(m)]: select(found) for m, found in union.items()}
            gaps = [
                gap
                for p_code, p_dept, q_code, q_dept, _town, _tag, _village, gap in raw.execute(
                    _GAPS, self._params(window)
                ).fetchall()
                if dept in (p_code, p_dept, q_code, q_dept)
            ]
            total[SPREADS[3]] = spread(gaps)
            out[TOTAL_KEY] = total
        return {key: {name: found.get(name, Spread()) for name in SPREADS} for key, found in out.items()}

    # ---- the plainest way, from the projection ------------------------------------------------------
    def _counts(self, conn: Connection, window: Window, by: str, dept: str | None, now: datetime) -> dict[str, Counts]:
        if self._rolled(conn, by, dept):
            return self._roll_counts(conn, window, by, dept, now)
        mine = _MINE if dept else ""
        merged: dict[str, dict[str, Any]] = {}
        sql = _ASSIGNMENT_COUNTS.format(key=self._key(by), where=mine)
        for row in conn.exec_driver_sql(sql, self._params(window, now, dept)).mappings():
            merged.setdefault(row["key"], {}).update(row)
        for key, order_row in self._order_counts(conn, window, by, dept).items():
            merged.setdefault(key, {}).update(order_row)
        return {k: Counts.from_mapping(v) for k, v in sorted(merged.items())}

    def _department_total(
        self, conn: Connection, window: Window, dept: str | None, by_dept: dict[str, Counts]
    ) -> Counts:
        """The total of a department view: its assignment counts summed (each assignment has one assignee) and
        the order counts once per order (a dual order counts for two assignees in the rows)."""
        if self._rolled(conn, "department", dept):
            orders = self._roll_order_counts(conn, window, dept)
        else:
            orders = self._order_counts(conn, window, "overall", dept).get(TOTAL_KEY, {})
        return Counts.from_mapping({**vars(sum_counts(by_dept.values())), **orders})

    def _order_counts(self, conn: Connection, window: Window, by: str, dept: str | None) -> dict[str, dict[str, Any]]:
        # Order measures go to every assignee still on the order: join its active assignments when needed.
        # The redo counts go to the lead unit alone (a reopen reworks the lead assignment, not the police's).
        joined = by == "department" or bool(dept)
        join = "CROSS JOIN assignments a ON a.order_id = o.id AND a.active = 1" if joined else ""
        lead = f"AND {LEAD}" if joined else ""
        sql = _ORDER_COUNTS.format(key=self._key(by), join=join, lead=lead, where=_MINE if dept else "")
        return {row["key"]: dict(row) for row in conn.exec_driver_sql(sql, self._params(window, dept=dept)).mappings()}

    def _spreads(self, conn: Connection, window: Window, by: str, dept: str | None) -> dict[str, dict[str, Spread]]:
        """Median and 90th percentile of each duration per row key (and under TOTAL_KEY for the total).

        From the rollups when they answer the view; else one narrow scan (key and three durations per
        assignment) fetched as plain tuples and split by column and key in C-speed loops.
        """
        if self._rolled(conn, by, dept):
            return self._roll_spreads(conn, window, by, dept)
        params = self._params(window, dept=dept)
        sql = _DURATIONS.format(key=self._key(by), where=_MINE if dept else "")
        raw = raw_sqlite(conn)  # plain tuples: no Row objects for a million rows
        columns = list(zip(*raw.execute(sql, params).fetchall(), strict=True)) or [(), (), (), ()]
        keys = columns[0]
        values: dict[str, list[list[float]]] = {}
        every: list[list[float]] = []
        for i, column in enumerate(columns[1:]):
            per: dict[str, list[float]] = defaultdict(list)
            for key, m in zip(keys, column, strict=True):
                if m is not None:
                    per[key].append(m)
            for key, found in per.items():
                values.setdefault(key, [[], [], [], []])[i] = found
            every.append([m for m in column if m is not None])
        gaps: list[float] = []
        for p_code, p_dept, q_code, q_dept, town, tag, village, gap in raw.execute(_GAPS, params).fetchall():
            if dept and dept not in (p_code, p_dept, q_code, q_dept):
                continue
            gaps.append(gap)
            if by == "department":
                for code, own in ((p_code, p_dept), (q_code, q_dept)):
                    if not dept or dept in (code, own):
                        values.setdefault(code, [[], [], [], []])[3].append(gap)
            elif by in ("town", "tag", "village"):
                key = town if by == "town" else tag if by == "tag" else village
                values.setdefault(key, [[], [], [], []])[3].append(gap)
        values[TOTAL_KEY] = [*every, gaps]
        return {key: {name: spread(lists[i]) for i, name in enumerate(SPREADS)} for key, lists in values.items()}

    # ---- frequent callers and addresses ---------------------------------------------------------
    def frequent(
        self,
        start: datetime,
        end: datetime,
        *,
        by: str = "phone",
        min_calls: int = 3,
        span: timedelta = timedelta(days=7),
        limit: int = 20,
    ) -> list[Frequent]:
        """Phones (or addresses) with ``min_calls`` or more calls within ``span`` at some time in [start, end).

        Most calls first, then the latest. An address is its exact text within its town. The answer is kept
        until a call is added or the minute changes (the cockpit asks again on every store change).
        """
        with self.db.read() as conn:
            newest = conn.exec_driver_sql("SELECT max(rowid) FROM calls").scalar()
            memo = (by, to_db(start)[:16], to_db(end)[:16], min_calls, span, limit, newest)
            if self._memo.get(by, (None,))[0] == memo:
                return self._memo[by][1]
            found = self._frequent(conn, start, end, by, min_calls, span, limit)
        self._memo[by] = (memo, found)
        return found

    def _frequent(
        self, conn: Connection, start: datetime, end: datetime, by: str, min_calls: int, span: timedelta, limit: int
    ) -> list[Frequent]:
        key = "c.phone" if by == "phone" else "c.address"
        town = "''" if by == "phone" else "c.town"
        extra = "AND c.phone <> ''" if by == "phone" else "AND c.address <> ''"  # calls without a number: no caller
        params: dict[str, Any] = {
            "start": to_db(start),
            "end": to_db(end),
            "min": min_calls,
            "span": span.total_seconds() / 86400,
            "limit": limit,
        }
        base = (
            f"SELECT {key} AS k, {town} AS tw, c.received_at AS at FROM calls c "
            f"WHERE c.received_at >= :start AND c.received_at < :end {extra}"
        )
        if end - start <= span:  # the whole window is one span: a plain count
            sql = (
                f"SELECT k, tw, count(*) AS calls, min(at) AS first_at, max(at) AS last_at FROM ({base}) "
                "GROUP BY k, tw HAVING count(*) >= :min ORDER BY calls DESC, last_at DESC, k LIMIT :limit"
            )
        else:
            sql = (
                f"WITH w AS ({base}), "
                "x AS (SELECT k, tw, count(*) OVER (PARTITION BY k, tw ORDER BY julianday(at) "
                "RANGE BETWEEN :span PRECEDING AND CURRENT ROW) AS n FROM w), "
                "hot AS (SELECT k, tw FROM x GROUP BY k, tw HAVING max(n) >= :min) "
                "SELECT w.k AS k, w.tw AS tw, count(*) AS calls, min(w.at) AS first_at, max(w.at) AS last_at "
                "FROM w JOIN hot ON hot.k = w.k AND hot.tw = w.tw GROUP BY w.k, w.tw "
                "ORDER BY calls DESC, last_at DESC, w.k LIMIT :limit"
            )
        hot = conn.exec_driver_sql(sql, params).all()
        if not hot:
            return []
        keys = sorted({r.k for r in hot})
        marks = ", ".join(f":k{i}" for i in range(len(keys)))
        detail = conn.exec_driver_sql(
            f"SELECT {key} AS k, c.town AS tw, o.tag FROM calls c LEFT JOIN orders o ON o.id = c.order_id "
            f"WHERE {key} IN ({marks}) AND c.received_at >= :start AND c.received_at < :end {extra} "
            "ORDER BY c.received_at DESC",
            {**params, **{f"k{i}": k for i, k in enumerate(keys)}},
        ).all()
        tags: dict[tuple[str, str], list[str]] = {}
        towns: dict[str, str] = {}
        for r in detail:
            towns.setdefault(r.k, r.tw)
            seen = tags.setdefault((r.k, r.tw if by != "phone" else ""), [])
            if r.tag and r.tag not in seen:
                seen.append(r.tag)
        return [
            Frequent(
                r.k,
                r.tw or towns.get(r.k, ""),
                int(r.calls),
                from_db(r.first_at),
                from_db(r.last_at),
                tuple(tags.get((r.k, r.tw), [])[:3]),
            )
            for r in hot
        ]

    # ---- the cockpit ----------------------------------------------------------------------------
    def live(self, *, callers: int = 20) -> Live:
        """Today's counts, the open work by assignee, feedback status and frequent callers (one snapshot)."""
        now = ensure_utc(self.clock())
        today = last_days(local_date(now), 1)
        day = to_db(today.start)
        p = {"now": to_db(now), "day": day}
        with self.db.read() as conn:

            def one(sql: str) -> int:
                return int(conn.exec_driver_sql(sql, p).scalar() or 0)

            status: dict[str, int] = dict(
                conn.exec_driver_sql(
                    f"SELECT status, count(*) FROM orders WHERE status IN {_WORKING} OR status IN ('fed_back', 'visited') "
                    "GROUP BY status"
                ).all()
            )
            counts = Today(
                calls=one("SELECT count(*) FROM calls WHERE received_at >= :day AND received_at <= :now"),
                orders=one("SELECT count(*) FROM orders WHERE call_at >= :day AND call_at <= :now"),
                dispatched=one(
                    "SELECT count(*) FROM assignments WHERE dispatched_at >= :day AND dispatched_at <= :now"
                ),
                closed=one("SELECT count(*) FROM orders WHERE closed_at >= :day AND closed_at <= :now"),
                awaiting_sign=status.get("dispatched", 0),
                awaiting_feedback=status.get("signed", 0) + status.get("arrived", 0),
                on_scene=status.get("arrived", 0),
                overdue=one("SELECT count(*) FROM orders WHERE next_due < :now"),
                returned=status.get("returned", 0),
            )
            open_rows = (
                conn.exec_driver_sql(
                    f"SELECT a.assignee AS code, sum(a.status = 'dispatched') AS awaiting, "
                    f"sum({_ASSIGNMENT_OVERDUE}) AS overdue, count(*) AS open, "
                    "sum(a.ext_status = 'pending') AS ext, sum(o.reopen_count > 0 AND a.role = 'primary') AS rework "
                    "FROM orders o JOIN assignments a ON a.order_id = o.id AND a.active = 1 "
                    f"WHERE o.status IN {_WORKING} GROUP BY a.assignee",
                    p,
                )
                .mappings()
                .all()
            )
            feedback = FeedbackStatus(
                awaiting_visit=status.get("fed_back", 0),
                awaiting_close=status.get("visited", 0),
                feedback_overdue=one(
                    "SELECT count(*) FROM orders WHERE next_due < :now AND next_due_kind = 'feedback'"
                ),
                extension_pending=sum(int(r["ext"] or 0) for r in open_rows),
                returns_to_judge=one(
                    "SELECT count(*) FROM assignments WHERE status = 'returned' AND return_justified IS NULL"
                ),
                reworking=sum(int(r["rework"] or 0) for r in open_rows),
            )
            signed = self._counts(conn, today, "department", None, now)
            today_counts = self._department_total(conn, today, None, signed)
        loads: dict[str, DeptLoad] = {}
        for r in open_rows:
            c = signed.get(r["code"], Counts())
            loads[r["code"]] = DeptLoad(
                r["code"],
                int(r["awaiting"] or 0),
                int(r["overdue"] or 0),
                int(r["open"]),
                c.signed_on_time,
                c.sign_base,
            )
        for code, c in signed.items():
            if code not in loads and c.dispatched:
                loads[code] = DeptLoad(code, 0, 0, 0, c.signed_on_time, c.sign_base)
        since = now - timedelta(days=7)
        return Live(
            now,
            counts,
            feedback,
            list(loads.values()),
            self.frequent(since, now, by="phone", limit=callers),
            self.frequent(since, now, by="address", limit=callers),
            today_counts,
        )

    def trend(self, days: int = 60) -> Trend:
        """Per-day counts for the ``days`` days before today, and each assignee's 30-day score and rank."""
        now = ensure_utc(self.clock())
        today = local_date(now)
        past = Window(today - timedelta(days=days), today - timedelta(days=1))
        daily = self.daily(past)
        month = self.table(last_days(today, 30), "department")
        return Trend(now, daily, {r.key: (r.score, r.rank) for r in month.rows}, month.total)
