"""KPI rollups: per local day and per unit, the counts and the exact duration multisets the five KPIs need.

A window's KPIs are sums over its days (``store/kpi.py`` reads these tables), so they cost what the window's
days cost, not what the archive costs. The tables (migration ``0010_rollups.sql``):

* ``kpi_rollup`` — per (scope, day, key, dept) the additive :class:`~fengqiao.models.kpi.Counts`. Scopes: ``a``
  an assignee (key; ``dept`` its department), ``w`` a town, ``t`` a tag, ``*`` everything (key ``ALL``). The
  assignment counts are per assignment; the order counts once per order, except in scope ``a`` where they are
  once per *active* assignment (the department view's rule: an order counts for every assignee still on it), and
  the redo counts (``LEAD_FIELDS``) only for the active lead assignment (migration ``0014_rates.py`` added them,
  the return counts and ``basic_satisfied``).
  ``sign_base``/``arrival_base``/``feedback_base`` hold only the part that does not depend on the time of
  asking (done, or returned): the rest is in ``kpi_pending``.
* ``kpi_pending`` — one row per assignment and measure that is not done yet, with its deadline: it joins the
  denominator once the deadline has passed (``due < now``), exactly as the raw rule says.
* ``kpi_rollup_minutes`` — per (scope, day, key, dept, measure) the durations in minutes, exactly as the raw
  query computes them (the same SQL expression), sorted, as float64 (``vals``), with a histogram over fixed
  bucket bounds (``lo`` and ``hist``, 32-bit counts). A window's percentile is exact: the histograms, added as
  big integers, say which bucket holds the nearest-rank value; only that bucket's values are sorted.

Day = ``date(call_at, '+480 minutes')``: the Asia/Shanghai calendar day of the call (a fixed UTC+8 offset since
1991), the same day ``Window`` bounds in UTC.

Maintenance: :class:`Tracker` takes an order's contribution before its projection rows change and again after,
and applies the difference, in the caller's transaction (``store/orders.py``, the sync replay
``store/sync/log.py: recompute`` and the calls it inserts, the demo's batches). A new call can make earlier
orders of the same phone repeat-call orders (``kpi_repeats``' trigger): :meth:`Tracker.watch_calls` watches
them. :func:`expected` recomputes everything from the projection (the migration's backfill, ``check``).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import accumulate
from typing import Any

from fengqiao.models.clock import from_db, to_db
from fengqiao.models.kpi import PERCENTILES, SATISFIED, Spread, nearest_rank

from .db import Connection, raw_sqlite

# ---- the KPI rules as SQL (store/kpi.py's raw queries use the same text) ---------------------------------

COUNTED = "(a.status <> 'returned' OR a.return_justified = 0)"
SATISFIED_SQL = ", ".join(f"'{s}'" for s in SATISFIED)
FED_BACK = "(o.fed_back_at IS NOT NULL OR o.reopen_count > 0)"
RESOLVED = "(o.result = 'resolved' AND o.reopen_count = 0)"
LEAD = "a.role = 'primary'"  # the lead unit's assignment: the one a reopen sends back to work
RETURNABLE = "a.role <> 'police'"  # every assignment may be returned but the police station's on a dual order
RETURNED = f"({RETURNABLE} AND a.status = 'returned')"
REDO_BASE = "(o.visited_at IS NOT NULL OR o.redo_count > 0)"  # visited: the visit stands, or a reopen followed it
REDONE = "o.redo_count > 0"
MINUTES = "(julianday({end}) - julianday(a.dispatched_at)) * 1440.0"
GAP = "(julianday(p.arrived_at) - julianday(q.arrived_at)) * 1440.0"
DAY = "date(o.call_at, '+480 minutes')"

ASSIGNMENT_FIELDS = (
    "dispatched",
    "returned_justified",
    "returned_unjustified",
    "returned_unjudged",
    "extended",
    "sign_base",
    "signed_on_time",
    "arrival_base",
    "arrived_on_time",
    "feedback_base",
    "fed_back_on_time",
    "return_base",
    "returned",
)
ORDER_FIELDS = (
    "orders",
    "orders_fed_back",
    "resolved",
    "repeat_base",
    "repeat_orders",
    "visited",
    "satisfied",
    "onsite_fed_back",
    "onsite_resolved",
    "reopened",
    "basic_satisfied",
    "redo_base",
    "redone",
)
LEAD_FIELDS = ("redo_base", "redone")  # order counts that go to the lead unit alone in scope 'a' (the last ones)
FIELDS = ASSIGNMENT_FIELDS + ORDER_FIELDS
NA = len(ASSIGNMENT_FIELDS)
MEASURES = ("sign", "arrive", "feedback", "gap")  # in the order of models.kpi.SPREADS
PENDING_MEASURES = ("sign", "arrive", "feedback")
BASE_OF = {"sign": "sign_base", "arrive": "arrival_base", "feedback": "feedback_base"}
ALL = "ALL"

_A_COLUMNS = f"""o.id, {DAY}, a.assignee, a.dept, o.town, o.tag, a.id, a.active, {LEAD},
  a.status = 'returned' AND a.return_justified = 1,
  a.status = 'returned' AND a.return_justified = 0,
  a.status = 'returned' AND a.return_justified IS NULL,
  a.ext_status = 'approved',
  {COUNTED} AND (a.signed_at IS NOT NULL OR a.status = 'returned'),
  {COUNTED} AND a.signed_at <= a.sign_due,
  {COUNTED} AND a.onsite = 1 AND (a.arrived_at IS NOT NULL OR a.status = 'returned'),
  {COUNTED} AND a.onsite = 1 AND a.arrived_at <= a.arrive_due,
  {COUNTED} AND (a.fed_back_at IS NOT NULL OR a.status = 'returned'),
  {COUNTED} AND a.fed_back_at <= a.feedback_due,
  {RETURNABLE}, {RETURNED},
  CASE WHEN {COUNTED} AND a.signed_at IS NULL AND a.status <> 'returned' THEN a.sign_due END,
  CASE WHEN {COUNTED} AND a.onsite = 1 AND a.arrived_at IS NULL AND a.status <> 'returned' THEN a.arrive_due END,
  CASE WHEN {COUNTED} AND a.fed_back_at IS NULL AND a.status <> 'returned' THEN a.feedback_due END,
  CASE WHEN {COUNTED} THEN {MINUTES.format(end="a.signed_at")} END,
  CASE WHEN {COUNTED} THEN {MINUTES.format(end="a.arrived_at")} END,
  CASE WHEN {COUNTED} THEN {MINUTES.format(end="a.fed_back_at")} END"""
_A_FROM = "FROM orders o CROSS JOIN assignments a ON a.order_id = o.id WHERE o.status <> 'cancelled'"
_A_SELECT = f"SELECT {_A_COLUMNS} {_A_FROM} {{where}}"
_O_COLUMNS = f"""o.id, {DAY}, o.town, o.tag,
  {FED_BACK}, {RESOLVED}, o.phone <> '', r.order_id IS NOT NULL AND o.phone <> '',
  o.visited_at IS NOT NULL, o.visited_at IS NOT NULL AND o.satisfaction IN ({SATISFIED_SQL}),
  o.onsite = 1 AND {FED_BACK}, o.onsite = 1 AND {RESOLVED}, o.reopen_count > 0,
  o.visited_at IS NOT NULL AND o.satisfaction = 'basic', {REDO_BASE}, {REDONE}"""
_O_FROM = "FROM orders o LEFT JOIN kpi_repeats r ON r.order_id = o.id WHERE o.status <> 'cancelled'"
_O_SELECT = f"SELECT {_O_COLUMNS} {_O_FROM} {{where}}"
_G_SELECT = f"""
SELECT {DAY}, p.assignee, p.dept, q.assignee, q.dept, o.town, o.tag, {GAP}
FROM orders o
CROSS JOIN assignments p ON p.order_id = o.id AND p.role = 'primary' AND p.active = 1
CROSS JOIN assignments q ON q.order_id = o.id AND q.role = 'police' AND q.active = 1
WHERE o.status <> 'cancelled' AND o.mode = 'dual' AND p.arrived_at IS NOT NULL AND q.arrived_at IS NOT NULL {{where}}
"""

# ---- histogram bounds --------------------------------------------------------------------------------------

_UP = [0.25 * 1.08**i for i in range(230)]  # 0.25 min … beyond 10 million minutes, 8 % apart
BOUNDS: tuple[float, ...] = tuple([-x for x in reversed(_UP)] + [0.0] + _UP)
NB = len(BOUNDS) + 1  # bucket b holds BOUNDS[b-1] <= v < BOUNDS[b]


def bucket(v: float) -> int:
    return bisect_right(BOUNDS, v)


def _u32(values: Iterable[int]) -> bytes:
    arr = array("I", values)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tobytes()


def _f64(values: Iterable[float]) -> bytes:
    arr = array("d", values)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tobytes()


def _floats(blob: bytes) -> array[float]:
    arr = array("d")
    arr.frombytes(blob)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr


def pack(values: Sequence[float]) -> tuple[int, int, bytes, bytes]:
    """(n, lo, hist, vals) of sorted ``values``: the histogram from bucket ``lo`` up, and the values."""
    lo, hi = bucket(values[0]), bucket(values[-1])
    ends = [bisect_left(values, BOUNDS[b]) for b in range(lo, hi)] + [len(values)]
    counts = [e - s for s, e in zip([0, *ends[:-1]], ends, strict=True)]
    return len(values), lo, _u32(counts), _f64(values)


def select(parts: Sequence[tuple[int, bytes, bytes]]) -> Spread:
    """Count, median and 90th percentile (nearest rank) of the union of several packed multisets."""
    total = 0
    spans = []
    for lo, hist, _vals in parts:
        total += int.from_bytes(hist, "little") << (32 * lo)
        spans.append((lo, lo + len(hist) // 4 - 1))
    if not total:
        return Spread()
    counts = array("I")
    counts.frombytes(total.to_bytes(4 * NB, "little"))
    if sys.byteorder == "big":
        counts.byteswap()
    cums = list(accumulate(counts))
    n = cums[-1]
    picked: list[float] = []
    for pct in PERCENTILES:
        k = nearest_rank(n, pct)
        b = bisect_left(cums, k)
        before = cums[b - 1] if b else 0
        chunk: list[float] = []
        for (lo, hi), (_, _, vals) in zip(spans, parts, strict=True):
            if b < lo or b > hi:
                continue
            view = memoryview(vals).cast("d")
            i = bisect_left(view, BOUNDS[b - 1]) if b > 0 else 0
            j = bisect_left(view, BOUNDS[b]) if b < len(BOUNDS) else len(view)
            chunk.extend(view[i:j].tolist())
        chunk.sort()
        picked.append(chunk[k - before - 1])
    return Spread(n, picked[0], picked[1])


# ---- contributions -----------------------------------------------------------------------------------------

RowKey = tuple[str, str, str, str]  # scope, day, key, dept
MinKey = tuple[str, str, str, str, str]  # scope, day, key, dept, measure
PendKey = tuple[str, str]  # assignment id, measure
PendRow = tuple[str, str, str, str, str, str]  # day, assignee, dept, town, tag, due


@dataclass
class Contribution:
    """What some orders add to the rollups."""

    counts: dict[RowKey, list[int]] = field(default_factory=dict)
    minutes: dict[MinKey, list[float]] = field(default_factory=lambda: defaultdict(list))
    pending: dict[PendKey, PendRow] = field(default_factory=dict)

    def add(self, key: RowKey, start: int, flags: Sequence[Any]) -> None:
        row = self.counts.get(key)
        if row is None:
            row = self.counts[key] = [0] * len(FIELDS)
        for i, v in enumerate(flags, start):
            if v:
                row[i] += 1


def _where(ids: Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
    if ids is None:
        return "", ()
    return f"AND o.id IN ({', '.join('?' for _ in ids)})", tuple(ids)


def contributions(conn: Connection, ids: Iterable[str] | None = None) -> Contribution:
    """The rollup rows of the orders ``ids`` (all orders when None), computed from the projection."""
    out = Contribution()
    if ids is None:
        _contribute_all(raw_sqlite(conn), out)
        return out
    chunk_ids = sorted(set(ids))
    for i in range(0, len(chunk_ids), 500):
        _contribute(conn, chunk_ids[i : i + 500], out)
    return out


def _contribute(conn: Connection, ids: Sequence[str] | None, out: Contribution) -> None:
    where, params = _where(ids)
    raw = raw_sqlite(conn)
    orders: dict[str, tuple[Any, ...]] = {}
    for oid, day, town, tag, *flags in raw.execute(_O_SELECT.format(where=where), params):
        orders[oid] = tuple(flags)
        for key in (("w", day, town, ""), ("t", day, tag, ""), ("*", day, ALL, "")):
            out.add(key, NA, (1, *flags))
    minutes = out.minutes
    not_lead = len(LEAD_FIELDS)
    for row in raw.execute(_A_SELECT.format(where=where), params):
        oid, day, assignee, dept, town, tag, aid, active, lead = row[:9]
        flags = (1, *row[9:21])
        dues = row[21:24]
        spans = row[24:27]
        keys = (("a", day, assignee, dept), ("w", day, town, ""), ("t", day, tag, ""), ("*", day, ALL, ""))
        for key in keys:
            out.add(key, 0, flags)
        if active and oid in orders:
            mine = orders[oid] if lead else (*orders[oid][:-not_lead], *(0,) * not_lead)
            out.add(keys[0], NA, (1, *mine))
        for measure, due in zip(PENDING_MEASURES, dues, strict=True):
            if due is not None:
                out.pending[(aid, measure)] = (day, assignee, dept, town, tag, due)
        for measure, value in zip(MEASURES, spans, strict=False):
            if value is not None:
                for key in keys:
                    minutes[(*key, measure)].append(value)
    _gaps(raw, where, params, out)


def _gaps(raw: Any, where: str, params: tuple[str, ...], out: Contribution) -> None:
    minutes = out.minutes
    for day, p_code, p_dept, q_code, q_dept, town, tag, gap in raw.execute(_G_SELECT.format(where=where), params):
        if gap is None:
            continue
        for key in (
            ("a", day, p_code, p_dept),
            ("a", day, q_code, q_dept),
            ("w", day, town, ""),
            ("t", day, tag, ""),
            ("*", day, ALL, ""),
        ):
            minutes[(*key, "gap")].append(gap)


_NO = len(ORDER_FIELDS) - 1  # order flags after the leading 1 (``orders``)
_AF = len(ASSIGNMENT_FIELDS) - 1  # assignment flags after the leading 1 (``dispatched``)


def _sums(n: int, prefix: str = "f", lead: str | None = None) -> str:
    """``count(*), total(f0), …`` over ``n`` flag columns; with ``lead``, the lead-only flags (the last ones) count
    only where ``lead`` holds."""
    cols = []
    for i in range(n):
        flag = f"{prefix}{i}"
        if lead is not None and i >= n - len(LEAD_FIELDS):
            flag = f"CASE WHEN {lead} THEN {flag} END"
        cols.append(f"sum(CASE WHEN {flag} THEN 1 ELSE 0 END)")
    return ", ".join(["count(*)", *cols])


def _contribute_all(raw: Any, out: Contribution, read: Callable[[], None] | None = None) -> None:
    """:func:`_contribute` for every order at once: the same expressions, the counts summed by SQL per day and
    key (``GROUP BY``) instead of order by order in Python; durations and pending deadlines as there. The
    store's tables are read first, into temporary tables; ``read`` is called once that is done."""
    names_o = ", ".join(f"f{i}" for i in range(_NO))
    names_a = ", ".join(f"f{i}" for i in range(_AF))
    raw.execute("DROP TABLE IF EXISTS temp.rollup_o")
    raw.execute("DROP TABLE IF EXISTS temp.rollup_a")
    raw.execute(f"CREATE TEMP TABLE rollup_o (id PRIMARY KEY, day, town, tag, {names_o}) WITHOUT ROWID")
    raw.execute(f"INSERT INTO temp.rollup_o SELECT {_O_COLUMNS} {_O_FROM}")
    raw.execute(
        f"CREATE TEMP TABLE rollup_a (oid, day, assignee, dept, town, tag, aid, active, lead, {names_a}, "
        "sign_due, arrive_due, feedback_due, sign_min, arrive_min, feedback_min)"
    )
    raw.execute(f"INSERT INTO temp.rollup_a SELECT {_A_COLUMNS} {_A_FROM}")
    _gaps(raw, "", (), out)
    if read is not None:
        read()
    try:
        counts = out.counts

        def add(key: RowKey, start: int, sums: Sequence[int]) -> None:
            row = counts.get(key)
            if row is None:
                row = counts[key] = [0] * len(FIELDS)
            row[start : start + len(sums)] = [a + b for a, b in zip(row[start : start + len(sums)], sums, strict=True)]

        for scope, group, key in (("w", "town", "town"), ("t", "tag", "tag"), ("*", "", f"'{ALL}'")):
            by = f"day, {group}" if group else "day"
            for day, k, *sums in raw.execute(f"SELECT day, {key}, {_sums(_NO)} FROM temp.rollup_o GROUP BY {by}"):
                add((scope, day, k, ""), NA, sums)
        for scope, group, key, dept in (
            ("a", "assignee, dept", "assignee", "dept"),
            ("w", "town", "town", "''"),
            ("t", "tag", "tag", "''"),
            ("*", "", f"'{ALL}'", "''"),
        ):
            by = f"day, {group}" if group else "day"
            sql = f"SELECT day, {key}, {dept}, {_sums(_AF)} FROM temp.rollup_a GROUP BY {by}"
            for day, k, d, *sums in raw.execute(sql):
                add((scope, day, k, d), 0, sums)
        sql = (
            f"SELECT a.day, a.assignee, a.dept, {_sums(_NO, 'o.f', lead='a.lead')} FROM temp.rollup_a a "
            "JOIN temp.rollup_o o ON o.id = a.oid WHERE a.active GROUP BY a.day, a.assignee, a.dept"
        )
        for day, k, d, *sums in raw.execute(sql):
            add(("a", day, k, d), NA, sums)
        pending = out.pending
        by_measure: list[defaultdict[RowKey, list[float]]] = [defaultdict(list) for _ in range(3)]
        sql = (
            "SELECT day, assignee, dept, town, tag, aid, sign_due, arrive_due, feedback_due, sign_min, arrive_min, "
            "feedback_min FROM temp.rollup_a"
        )
        for day, assignee, dept, town, tag, aid, *times in raw.execute(sql):
            dues, spans = times[:3], times[3:]
            for measure, due in zip(PENDING_MEASURES, dues, strict=True):
                if due is not None:
                    pending[(aid, measure)] = (day, assignee, dept, town, tag, due)
            scopes: tuple[RowKey, ...] = (
                ("a", day, assignee, dept),
                ("w", day, town, ""),
                ("t", day, tag, ""),
                ("*", day, ALL, ""),
            )
            for lists, value in zip(by_measure, spans, strict=True):
                if value is not None:
                    for row_key in scopes:
                        lists[row_key].append(value)
        for name, lists in zip(MEASURES, by_measure, strict=False):
            for row_key, values in lists.items():
                out.minutes[(*row_key, name)] = values
    finally:
        raw.execute("DROP TABLE IF EXISTS temp.rollup_o")
        raw.execute("DROP TABLE IF EXISTS temp.rollup_a")


# ---- writing ------------------------------------------------------------------------------------------------

_UPSERT_COUNTS = (
    f"INSERT INTO kpi_rollup (scope, day, key, dept, {', '.join(FIELDS)}) "
    f"VALUES ({', '.join('?' for _ in range(4 + len(FIELDS)))}) "
    f"ON CONFLICT (scope, day, key, dept) DO UPDATE SET {', '.join(f'{f} = {f} + excluded.{f}' for f in FIELDS)}"
)
_DROP_EMPTY = (
    "DELETE FROM kpi_rollup WHERE scope = ? AND day = ? AND key = ? AND dept = ? AND dispatched = 0 AND orders = 0"
)
_UPSERT_MINUTES = (
    "INSERT INTO kpi_rollup_minutes (scope, day, key, dept, measure, n, lo, hist, vals) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, day, key, dept, measure) DO UPDATE SET "
    "n = excluded.n, lo = excluded.lo, hist = excluded.hist, vals = excluded.vals"
)
_UPSERT_PENDING = (
    "INSERT INTO kpi_pending (assignment_id, measure, day, assignee, dept, town, tag, due) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (assignment_id, measure) DO UPDATE SET day = excluded.day, "
    "assignee = excluded.assignee, dept = excluded.dept, town = excluded.town, tag = excluded.tag, due = excluded.due"
)


def apply(conn: Connection, before: Contribution, after: Contribution) -> None:
    """Write the difference ``after - before`` into the rollup tables."""
    raw = raw_sqlite(conn)
    deltas = []
    for key in before.counts.keys() | after.counts.keys():
        old = before.counts.get(key) or [0] * len(FIELDS)
        new = after.counts.get(key) or [0] * len(FIELDS)
        diff = [n - o for n, o in zip(new, old, strict=True)]
        if any(diff):
            deltas.append((key, diff))
    if deltas:
        raw.executemany(_UPSERT_COUNTS, [(*k, *d) for k, d in deltas])
        raw.executemany(_DROP_EMPTY, [k for k, _ in deltas])
    changed: list[tuple[MinKey, Counter[float], Counter[float]]] = []
    for mkey in before.minutes.keys() | after.minutes.keys():
        old_c, new_c = Counter(before.minutes.get(mkey, ())), Counter(after.minutes.get(mkey, ()))
        if old_c != new_c:
            changed.append((mkey, old_c - new_c, new_c - old_c))
    for mkey, gone, added in changed:
        row = raw.execute(
            "SELECT vals FROM kpi_rollup_minutes WHERE scope = ? AND day = ? AND key = ? AND dept = ? AND measure = ?",
            mkey,
        ).fetchone()
        values = _floats(row[0]).tolist() if row else []
        if gone:
            left = Counter(values)
            left.subtract(gone)
            values = sorted(left.elements())
        if added:
            values = sorted(values + list(added.elements()))
        if values:
            raw.execute(_UPSERT_MINUTES, (*mkey, *pack(values)))
        else:
            raw.execute(
                "DELETE FROM kpi_rollup_minutes WHERE scope = ? AND day = ? AND key = ? AND dept = ? AND measure = ?",
                mkey,
            )
    gone_p = [k for k in before.pending if k not in after.pending]
    if gone_p:
        raw.executemany("DELETE FROM kpi_pending WHERE assignment_id = ? AND measure = ?", gone_p)
    fresh = [(*k, *v) for k, v in after.pending.items() if before.pending.get(k) != v]
    if fresh:
        raw.executemany(_UPSERT_PENDING, fresh)


def has_rollups(conn: Connection) -> bool:
    if conn.info.get("fq_rollups"):
        return True
    found = (
        conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kpi_rollup'").first()
        is not None
    )
    if found:
        conn.info["fq_rollups"] = True
    return found


_REPEAT_WINDOW = timedelta(hours=72, minutes=1)


class Tracker:
    """Keeps the rollups of the orders a transaction touches in step with their projection.

    ``watch`` the orders before their rows change (an order not there yet contributes nothing), make the
    changes, then ``finish``: the difference of their contributions is written. A file without the rollup
    tables (being migrated) is left alone."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.active = has_rollups(conn)
        self.ids: set[str] = set()
        self.before = Contribution()

    def watch(self, ids: Iterable[str]) -> None:
        if not self.active:
            return
        new = set(ids) - self.ids
        if not new:
            return
        _merge(self.before, contributions(self.conn, new))
        self.ids |= new

    def watch_new(self, ids: Iterable[str]) -> None:
        """Watch orders the transaction inserts that are not stored yet (they contribute nothing before): the same
        as :meth:`watch` without reading their rows."""
        if self.active:
            self.ids.update(ids)

    def watch_calls(self, calls: Iterable[tuple[str, str]]) -> None:
        """Watch the orders a new call (phone, received_at as stored) can make repeat-call orders."""
        if not self.active:
            return
        found: set[str] = set()
        for phone, received in calls:
            try:
                first = to_db(from_db(received) - _REPEAT_WINDOW)
            except (TypeError, ValueError):
                continue
            found.update(
                r[0]
                for r in self.conn.exec_driver_sql(
                    "SELECT id FROM orders WHERE phone = ? AND call_at >= ? AND call_at <= ? "
                    "AND id NOT IN (SELECT order_id FROM kpi_repeats)",
                    (phone, first, received),
                )
            )
        self.watch(found)

    def finish(self) -> None:
        if not self.active or not self.ids:
            return
        apply(self.conn, self.before, contributions(self.conn, self.ids))
        self.ids, self.before = set(), Contribution()


def _merge(into: Contribution, part: Contribution) -> None:
    for key, row in part.counts.items():
        have = into.counts.get(key)
        into.counts[key] = row if have is None else [a + b for a, b in zip(have, row, strict=True)]
    for mkey, values in part.minutes.items():
        into.minutes[mkey].extend(values)
    into.pending.update(part.pending)


def rebuild(conn: Connection) -> None:
    """Recompute every rollup from the projection (the migration's backfill)."""
    build_all(raw_sqlite(conn))


def build_all(raw: Any) -> None:
    """:func:`rebuild` on a plain sqlite3 connection: every rollup row written once from the contributions of all
    orders (what :func:`apply` writes from nothing)."""
    write_all(raw, compute_all(raw))


def compute_all(raw: Any, read: Callable[[], None] | None = None) -> Contribution:
    """The rollups of all orders (``read``: see :func:`_contribute_all`). It only reads the store: the demo's bulk
    build runs it on a second connection while the first builds the indexes."""
    out = Contribution()
    _contribute_all(raw, out, read)
    return out


def write_all(raw: Any, want: Contribution) -> None:
    """The rollup tables emptied, then ``want`` written (a row that counts nothing is left out, as apply() drops
    it)."""
    for table in ("kpi_rollup", "kpi_rollup_minutes", "kpi_pending"):
        raw.execute(f"DELETE FROM {table}")
    raw.executemany(_UPSERT_COUNTS, [(*k, *row) for k, row in want.counts.items() if row[0] or row[NA]])
    raw.executemany(_UPSERT_MINUTES, [(*k, *pack(sorted(v))) for k, v in want.minutes.items() if v])
    raw.executemany(_UPSERT_PENDING, [(*k, *v) for k, v in want.pending.items()])


def differences(conn: Connection) -> int:
    """How many rollup rows differ from what the projection makes them (``check``)."""
    want = contributions(conn)
    raw = raw_sqlite(conn)
    n = 0
    have_counts = {
        tuple(r[:4]): list(r[4:])
        for r in raw.execute(f"SELECT scope, day, key, dept, {', '.join(FIELDS)} FROM kpi_rollup")
    }
    for key in want.counts.keys() | have_counts.keys():
        if want.counts.get(key) != have_counts.get(key):
            n += 1
    have_min = {}
    for *key, count, lo, hist, vals in raw.execute(
        "SELECT scope, day, key, dept, measure, n, lo, hist, vals FROM kpi_rollup_minutes"
    ):
        have_min[tuple(key)] = (count, lo, bytes(hist), bytes(vals))
    for mkey in want.minutes.keys() | have_min.keys():
        values = sorted(want.minutes.get(mkey, ()))
        if (pack(values) if values else None) != have_min.get(mkey):
            n += 1
    have_p = {
        (r[0], r[1]): tuple(r[2:])
        for r in raw.execute("SELECT assignment_id, measure, day, assignee, dept, town, tag, due FROM kpi_pending")
    }
    for pkey in want.pending.keys() | have_p.keys():
        if want.pending.get(pkey) != have_p.get(pkey):
            n += 1
    return n
