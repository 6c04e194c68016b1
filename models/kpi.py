"""The five-KPI evaluation (五项考核指标): definitions, score, ranking and period comparison. Pure.

The store counts (``store/kpi.py``, SQL aggregates); this module turns counts into rates, a score out of 100
and a ranking, and knows the time windows. Every rate is ``numerator / denominator`` of two counts, ``None``
when the denominator is zero. The README section "Cockpit and KPIs" is the full statement of the rules;
in short:

* Orders are counted by the time their call came in (``orders.call_at``), in Asia/Shanghai days.
  Cancelled orders leave every rate (the caller withdrew; nothing to grade).
* Assignment measures (sign-off, arrival, feedback and their times) belong to each assignee: the department,
  and on a dual order also the police station. An assignment still inside its time limit and not yet done
  is *pending*: it is in neither the numerator nor the denominator until it is done or its deadline passes.
* A returned assignment counts against the department that returned it only when a supervisor judged the
  return unjustified: then it is in every denominator and passes only what it really did in time. A return
  judged justified, or not judged yet, is left out.
* Order measures (resolution, repeat calls, satisfaction, on-site resolution) belong to every assignee still
  on the order: the department that has it now and, on a dual order, the police station.
* Two more rates the reviewing offices grade, outside the score: the return rate (回退率) = assignments
  returned / assignments dispatched (per assignment, like sign-off; a police station on a dual order cannot
  return and is left out of both), and the redo rate (重办率) = orders reopened after a follow-up visit / orders visited
  (per order, for the lead unit only: the department that has the order now, which a reopen sends back to work).
* The satisfaction rate counts 基本满意 with the weight ``[kpi] basic_weight`` (default 1: as 满意).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from .clock import SHANGHAI, ensure_utc, local
from .errors import ValidationError
from .i18n import t

# ---- definitions -----------------------------------------------------------------------------------

REPEAT_MIN = timedelta(minutes=8)  # another call this soon after is the same conversation, not a repeat
REPEAT_MAX = timedelta(hours=72)
SATISFIED = ("satisfied", "basic")  # 满意 + 基本满意

FIVE = ("sign_rate", "arrival_rate", "feedback_rate", "resolution_rate", "repeat_rate")
EXTRA = ("satisfaction_rate", "onsite_resolution_rate")
GRADED = ("return_rate", "redo_rate")  # graded by the reviewing offices beside the five, not part of the score
RATES = FIVE + EXTRA + GRADED
LOWER_IS_BETTER = frozenset({"repeat_rate", "return_rate", "redo_rate"})

# rate -> (numerator count, denominator count)
RATE_PARTS: dict[str, tuple[str, str]] = {
    "sign_rate": ("signed_on_time", "sign_base"),
    "arrival_rate": ("arrived_on_time", "arrival_base"),
    "feedback_rate": ("fed_back_on_time", "feedback_base"),
    "resolution_rate": ("resolved", "orders_fed_back"),
    "repeat_rate": ("repeat_orders", "repeat_base"),  # calls taken without a number cannot repeat: left out
    "satisfaction_rate": ("satisfied", "visited"),
    "onsite_resolution_rate": ("onsite_resolved", "onsite_fed_back"),
    "return_rate": ("returned", "return_base"),
    "redo_rate": ("redone", "redo_base"),
}

RATE_DIGITS = 6  # rates in JSON and reports: fractions to 1e-6 (spreadsheets keep 15 significant digits)

# Times (minutes): from dispatch to sign-off, arrival and (final) feedback; the dual-order arrival gap.
SPREADS = ("sign_minutes", "arrive_minutes", "feedback_minutes", "dual_gap_minutes")
PERCENTILES = (50, 90)


def is_repeat(first_call: datetime, other_call: datetime) -> bool:
    """Whether ``other_call`` makes the order of ``first_call`` a repeat-call order (both ends inclusive)."""
    gap = ensure_utc(other_call) - ensure_utc(first_call)
    return REPEAT_MIN <= gap <= REPEAT_MAX


@dataclass
class Counts:
    """The additive counts behind every rate, for one row (a department, town, tag, day or the total)."""

    dispatched: int = 0  # assignments sent (on orders not cancelled), returns included
    sign_base: int = 0
    signed_on_time: int = 0
    arrival_base: int = 0  # assignments of tags with a site visit
    arrived_on_time: int = 0
    feedback_base: int = 0
    fed_back_on_time: int = 0
    returned_justified: int = 0
    returned_unjustified: int = 0
    returned_unjudged: int = 0
    extended: int = 0  # assignments whose feedback deadline was extended (approved)
    orders: int = 0  # orders (not cancelled)
    orders_fed_back: int = 0  # fed back, or reopened after a feedback
    resolved: int = 0  # fed back as resolved and never reopened
    repeat_orders: int = 0
    repeat_base: int = 0  # orders whose call has a number (a call without one is left out of the repeat rate)
    visited: int = 0
    satisfied: int = 0
    onsite_fed_back: int = 0
    onsite_resolved: int = 0
    reopened: int = 0
    # Added with the return and redo rates (schema 13); kept after the older counts so exports keep their order.
    return_base: int = 0  # assignments dispatched that may return (not a dual order's police station), returns included
    returned: int = 0  # ... of them returned (回退), however the return was judged
    basic_satisfied: int = 0  # orders whose (latest) visit was basically satisfied (also in ``satisfied``)
    redo_base: int = 0  # orders visited: their visit stands, or they were reopened after one (a unit's row: its lead)
    redone: int = 0  # orders reopened after a visit (重办; in a unit's row only where it is the lead unit)

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Counts:
        return cls(**{name: int(data.get(name) or 0) for name in cls.names()})


def sum_counts(items: Iterable[Counts]) -> Counts:
    out = Counts()
    for c in items:
        out = out + c
    return out


def rate(numerator: int, denominator: int) -> float | None:
    return None if not denominator else numerator / denominator


def fmt_rate(value: float | None) -> str:
    """A rate as shown in tables and reports: ``91.7%``, or ``—`` when there was nothing to count."""
    return "—" if value is None else f"{value * 100:.1f}%"


def satisfaction(c: Counts, basic_weight: float = 1.0) -> float | None:
    """(满意 + basic_weight × 基本满意) / visited; with the default weight 1 exactly ``satisfied / visited``."""
    if basic_weight == 1.0 or not c.visited:
        return rate(c.satisfied, c.visited)
    return (c.satisfied - c.basic_satisfied + basic_weight * c.basic_satisfied) / c.visited


def rates(c: Counts, weights: Weights | None = None) -> dict[str, float | None]:
    """Every rate of ``c``; ``weights`` gives the satisfaction rate's weight of 基本满意 (default 1)."""
    out = {name: rate(getattr(c, num), getattr(c, den)) for name, (num, den) in RATE_PARTS.items()}
    out["satisfaction_rate"] = satisfaction(c, DEFAULT_BASIC_WEIGHT if weights is None else weights.basic_weight)
    return out


# ---- score ------------------------------------------------------------------------------------------


DEFAULT_BASIC_WEIGHT = 1.0  # 基本满意 counts as 满意 unless the desk's config says otherwise
SCORE_KEYS = tuple(name.removesuffix("_rate") for name in FIVE)  # the keys of [kpi.weights]


@dataclass(frozen=True)
class Weights:
    """The desk's KPI weights: the five rates' weights in the score (config ``[kpi.weights]``; they need not add
    up to 100) and the weight of 基本满意 in the satisfaction rate (``[kpi] basic_weight``, 0 to 1; some cities
    count it as half, 0.5)."""

    sign: float = 20
    arrival: float = 20
    feedback: float = 20
    resolution: float = 20
    repeat: float = 20
    basic_weight: float = DEFAULT_BASIC_WEIGHT

    def of(self, rate_name: str) -> float:
        return float(getattr(self, rate_name.removesuffix("_rate")))

    def as_dict(self) -> dict[str, float]:
        """The score's weights (``[kpi.weights]``), as ``kpi --json`` prints them under ``weights``."""
        return {key: float(getattr(self, key)) for key in SCORE_KEYS}

    @classmethod
    def from_config(cls, kpi_section: Mapping[str, Any]) -> Weights:
        """Read the config's ``[kpi]`` section: ``weights`` (``[kpi.weights]``; missing keys keep their default)
        and ``basic_weight``.

        Refuses unknown keys, negative or non-numeric weights and weights that are all zero; a ``basic_weight``
        that is not a number from 0 to 1.
        """
        section = kpi_section.get("weights", {})
        if not isinstance(section, Mapping):
            raise ValidationError(t("kpi.weight_table"), field="kpi.weights")
        known = set(SCORE_KEYS)
        values: dict[str, float] = {}
        for key, value in section.items():
            if key not in known:
                raise ValidationError(
                    t("kpi.weight_unknown", key=key, keys=", ".join(sorted(known))), field="kpi.weights"
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
                raise ValidationError(t("kpi.weight_bad", key=key, value=value), field="kpi.weights")
            values[key] = float(value)
        basic = kpi_section.get("basic_weight", DEFAULT_BASIC_WEIGHT)
        if isinstance(basic, bool) or not isinstance(basic, (int, float)) or not 0 <= basic <= 1:
            raise ValidationError(t("kpi.basic_weight_bad", value=basic), field="kpi.basic_weight")
        weights = cls(**values, basic_weight=float(basic))
        if sum(weights.as_dict().values()) <= 0:
            raise ValidationError(t("kpi.weight_zero"), field="kpi.weights")
        return weights


DEFAULT_WEIGHTS = Weights()


def score(r: Mapping[str, float | None], weights: Weights = DEFAULT_WEIGHTS) -> float | None:
    """100 × Σ wᵢ·sᵢ / Σ wᵢ over the five rates that are defined; sᵢ is the rate, 1 − rate for repeat calls.

    ``None`` when none of the five is defined (nothing to grade). Rounded to 0.01.
    """
    num = den = 0.0
    for name in FIVE:
        value = r.get(name)
        w = weights.of(name)
        if value is None or w == 0:
            continue
        num += w * ((1.0 - value) if name in LOWER_IS_BETTER else value)
        den += w
    return None if den == 0 else round(100.0 * num / den, 2)


T = TypeVar("T")


def rank(items: Sequence[T], key: Callable[[T], float | None]) -> list[int | None]:
    """Competition ranking (1, 2, 2, 4) by ``key`` descending; items whose key is ``None`` get no rank."""
    scored = sorted((v for v in map(key, items) if v is not None), reverse=True)
    first: dict[float, int] = {}
    for i, value in enumerate(scored, start=1):
        first.setdefault(value, i)
    return [None if (v := key(x)) is None else first[v] for x in items]


def compare(current: Mapping[str, float | None], previous: Mapping[str, float | None]) -> dict[str, float | None]:
    """Change of each rate against the previous period (current − previous; None when either is unknown)."""
    out: dict[str, float | None] = {}
    for name, value in current.items():
        before = previous.get(name)
        out[name] = None if value is None or before is None else value - before
    return out


def improved(name: str, delta: float | None) -> bool | None:
    """Whether a change is for the better (a falling repeat-call rate is)."""
    if delta is None or delta == 0:
        return None
    return (delta < 0) if name in LOWER_IS_BETTER else (delta > 0)


# ---- percentiles -------------------------------------------------------------------------------------


def nearest_rank(n: int, pct: int) -> int:
    """1-based rank of the ``pct``-th percentile among ``n`` sorted values (nearest-rank: ⌈pct·n/100⌉)."""
    return max(1, (pct * n + 99) // 100)


def quantile(values: Iterable[float], pct: int) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[nearest_rank(len(ordered), pct) - 1]


@dataclass(frozen=True)
class Spread:
    """How many values, their median and 90th percentile (minutes)."""

    n: int = 0
    p50: float | None = None
    p90: float | None = None


def spread(values: list[float]) -> Spread:
    """The :class:`Spread` of ``values`` (sorted in place)."""
    values.sort()
    n = len(values)
    if not n:
        return Spread()
    return Spread(n, *(values[nearest_rank(n, pct) - 1] for pct in PERCENTILES))


# ---- one row of a KPI table --------------------------------------------------------------------------


@dataclass
class KpiRow:
    """One line of a KPI table: a unit, a town or a village, its counts and rates over the window."""

    key: str
    name: str
    counts: Counts
    spreads: dict[str, Spread] = field(default_factory=dict)
    weights: Weights = DEFAULT_WEIGHTS
    rank: int | None = None

    @property
    def rates(self) -> dict[str, float | None]:
        return rates(self.counts, self.weights)

    @property
    def score(self) -> float | None:
        return score(self.rates, self.weights)

    def to_json(self) -> dict[str, Any]:
        """The row as ``fengqiao kpi --json`` prints it: key, rates (fractions or null), score, counts, times.

        Rates are rounded to 6 decimals, the score and times to 2, so every export holds the same numbers.
        """
        out: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "rank": self.rank,
            "dispatched": self.counts.dispatched,
        }
        out.update({name: None if value is None else round(value, RATE_DIGITS) for name, value in self.rates.items()})
        out["score"] = self.score
        for name in Counts.names():
            out.setdefault(name, getattr(self.counts, name))
        for name in SPREADS:
            s = self.spreads.get(name, Spread())
            out[f"{name}_n"] = s.n
            for pct in PERCENTILES:
                value = getattr(s, f"p{pct}")
                out[f"{name}_p{pct}"] = None if value is None else round(value, 2)
        return out


def ranked(rows: list[KpiRow]) -> list[KpiRow]:
    """Rows with their rank, best score first; rows without a score last, in key order."""
    for row, place in zip(rows, rank(rows, lambda r: r.score), strict=True):
        row.rank = place
    return sorted(rows, key=lambda r: (r.rank is None, r.rank or 0, -r.counts.dispatched, r.key))


# ---- time windows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Local (Asia/Shanghai) days ``first``..``last`` inclusive, as the UTC interval [start, end)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return day_start(self.first)

    @property
    def end(self) -> datetime:
        return day_start(self.last + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Window:
        """The window of the same length just before this one."""
        return Window(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def day_list(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]


def day_start(day: date) -> datetime:
    """Local midnight of ``day`` as an aware UTC time."""
    return ensure_utc(datetime.combine(day, time(0), tzinfo=SHANGHAI))


def local_date(at: datetime) -> date:
    return local(at).date()


def last_days(today: date, n: int) -> Window:
    """The ``n`` local days ending with ``today``."""
    return Window(today - timedelta(days=n - 1), today)


def parse_day(text: str, option: str) -> date:
    """A date typed on the command line: 2026-11-01 (also 2026/11/01 and 20261101)."""
    raw = text.strip().replace("/", "-")
    if len(raw) == 8 and raw.isdigit():
        raw = f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(t("kpi.bad_date", option=option, value=text), field=option) from None


def window_from(today: date, first: str | None, last: str | None, *, default_days: int = 30) -> Window:
    """The window for ``--from``/``--to`` (local dates, both inclusive); default: the last 30 days."""
    end = parse_day(last, "--to") if last else today
    start = parse_day(first, "--from") if first else end - timedelta(days=default_days - 1)
    if start > end:
        raise ValidationError(t("kpi.bad_window", first=start.isoformat(), last=end.isoformat()), field="--from")
    if (end - start).days > 3660:
        raise ValidationError(t("kpi.window_too_long", first=start.isoformat(), last=end.isoformat()), field="--from")
    return Window(start, end)


# ---- the cockpit's periods ---------------------------------------------------------------------------

PERIODS = (1, 7, 30)  # today, 7 days, 30 days (each ending today)


@dataclass(frozen=True)
class PeriodFigures:
    """The rates and score of the last ``days`` days, those of the days before, and the change."""

    days: int
    rates: dict[str, float | None]
    previous: dict[str, float | None]
    change: dict[str, float | None]
    score: float | None
    previous_score: float | None


def periods(
    daily: Mapping[date, Counts], today: date, weights: Weights = DEFAULT_WEIGHTS, spans: Sequence[int] = PERIODS
) -> list[PeriodFigures]:
    """Rates for the last 1/7/30 days (ending today) and the change against the period before each."""
    out = []
    for n in spans:
        cur_w = last_days(today, n)
        cur = rates(sum_counts(daily.get(d, Counts()) for d in cur_w.day_list()), weights)
        prev = rates(sum_counts(daily.get(d, Counts()) for d in cur_w.previous().day_list()), weights)
        out.append(PeriodFigures(n, cur, prev, compare(cur, prev), score(cur, weights), score(prev, weights)))
    return out


def day_rates(
    daily: Mapping[date, Counts], today: date, days: int, weights: Weights | None = None
) -> list[dict[str, float | None]]:
    """Every rate of each of the ``days`` days ending today (None where the day has no denominator): one
    series per KPI, read ``[r[name] for r in ...]``."""
    return [rates(daily.get(d, Counts()), weights) for d in last_days(today, days).day_list()]


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """Bars scaled between the series' own min and max (a flat series is mid-height); gaps are spaces."""
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    lo, hi = min(known), max(known)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif hi - lo < 1e-9:
            out.append(SPARK[3])
        else:
            out.append(SPARK[min(len(SPARK) - 1, int((v - lo) / (hi - lo) * (len(SPARK) - 1) + 0.5))])
    return "".join(out)
