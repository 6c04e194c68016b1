"""The five KPIs: pure definitions, and the SQL counts on a hand-built week where every rate is known exactly."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from fengqiao.models.clock import UTC, FixedClock
from fengqiao.models.errors import ValidationError
from fengqiao.models.kpi import (
    Counts,
    KpiRow,
    Weights,
    Window,
    compare,
    improved,
    is_repeat,
    last_days,
    nearest_rank,
    parse_day,
    periods,
    quantile,
    rank,
    ranked,
    rates,
    score,
    sparkline,
    spread,
    window_from,
)
from fengqiao.store.db import Database
from fengqiao.store.kpi import TOTAL_KEY, KpiStore
from fengqiao.store.orders import OrderStore

from . import kpi_timeline as week

WEEK = Window(date(2026, 11, 20), date(2026, 11, 28))


# ---- pure definitions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "repeat"),
    [
        (0, False),
        (7, False),
        (7.99, False),
        (8, True),
        (60, True),
        (72 * 60, True),
        (72 * 60 + 0.01, False),
        (73 * 60, False),
    ],
)
def test_repeat_window_edges(minutes: float, repeat: bool) -> None:
    first = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    assert is_repeat(first, first + timedelta(minutes=minutes)) is repeat


def test_rates_are_fractions_or_none() -> None:
    c = Counts(sign_base=4, signed_on_time=3, orders=0, repeat_orders=0)
    r = rates(c)
    assert r["sign_rate"] == 0.75
    assert r["repeat_rate"] is None and r["arrival_rate"] is None


def test_score_weights_and_missing_rates() -> None:
    full = {"sign_rate": 1.0, "arrival_rate": 0.5, "feedback_rate": 1.0, "resolution_rate": 0.5, "repeat_rate": 0.5}
    assert score(full) == 70.0  # (1 + .5 + 1 + .5 + (1 - .5)) / 5
    assert score(full, Weights(sign=40, arrival=10, feedback=10, resolution=20, repeat=20)) == 75.0
    # A rate with no denominator drops out and the other weights share the 100 points.
    partial = {**full, "arrival_rate": None}
    assert score(partial) == 75.0
    assert score({k: None for k in full}) is None


def test_weights_from_config() -> None:
    assert Weights.from_config({}) == Weights()
    assert Weights.from_config({"weights": {"repeat": 40}}).repeat == 40.0
    with pytest.raises(ValidationError, match="sgin.*sign"):
        Weights.from_config({"weights": {"sgin": 10}})
    for bad in (
        {"sign": -1},
        {"sign": "high"},
        {"sign": True},
        5,
        {"sign": 0, "arrival": 0, "feedback": 0, "resolution": 0, "repeat": 0},
    ):
        with pytest.raises(ValidationError):
            Weights.from_config({"weights": bad})


def test_competition_ranking() -> None:
    assert rank([90.0, 80.0, 90.0, None, 70.0], lambda x: x) == [1, 3, 1, None, 4]
    rows = [
        KpiRow("B", "b", Counts(sign_base=2, signed_on_time=1)),
        KpiRow("A", "a", Counts(sign_base=1, signed_on_time=1)),
        KpiRow("C", "c", Counts()),
    ]
    out = ranked(rows)
    assert [(r.key, r.rank) for r in out] == [("A", 1), ("B", 2), ("C", None)]


def test_nearest_rank_percentiles() -> None:
    assert [nearest_rank(n, 50) for n in (1, 2, 3, 4, 10)] == [1, 1, 2, 2, 5]
    assert [nearest_rank(n, 90) for n in (1, 9, 10, 11)] == [1, 9, 9, 10]
    assert quantile([15, 5, 11, 5], 50) == 5 and quantile([15, 5, 11, 5], 90) == 15
    assert quantile([], 50) is None
    s = spread([3.0, 1.0, 2.0])
    assert (s.n, s.p50, s.p90) == (3, 2.0, 3.0)


def test_periods_compare_with_the_previous_period() -> None:
    today = date(2026, 11, 28)
    daily = {
        today: Counts(sign_base=10, signed_on_time=9),
        today - timedelta(days=1): Counts(sign_base=10, signed_on_time=7),
        today - timedelta(days=8): Counts(sign_base=10, signed_on_time=5),
    }
    day, week_, month = periods(daily, today)
    assert day.rates["sign_rate"] == 0.9 and day.previous["sign_rate"] == 0.7
    assert day.change["sign_rate"] == pytest.approx(0.2)
    assert week_.rates["sign_rate"] == 0.8 and week_.previous["sign_rate"] == 0.5
    assert month.previous["sign_rate"] is None and month.change["sign_rate"] is None
    assert compare({"repeat_rate": 0.1}, {"repeat_rate": 0.2})["repeat_rate"] == pytest.approx(-0.1)
    assert improved("repeat_rate", -0.1) is True and improved("sign_rate", -0.1) is False
    assert improved("sign_rate", 0.0) is None


def test_windows_are_local_days() -> None:
    w = Window(date(2026, 11, 1), date(2026, 11, 28))
    assert w.start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 00:00 Shanghai
    assert w.end == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    assert w.days == 28 and w.previous() == Window(date(2026, 10, 4), date(2026, 10, 31))
    assert last_days(date(2026, 11, 28), 7) == Window(date(2026, 11, 22), date(2026, 11, 28))
    assert window_from(date(2026, 11, 28), None, None).days == 30
    assert window_from(date(2026, 11, 28), "2026/11/01", "20261105") == Window(date(2026, 11, 1), date(2026, 11, 5))
    with pytest.raises(ValidationError, match="--from"):
        parse_day("11/01", "--from")
    with pytest.raises(ValidationError):
        window_from(date(2026, 11, 28), "2026-11-05", "2026-11-01")


def test_sparkline() -> None:
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
    assert sparkline([None, 0.9, 0.9]) == " ▄▄"
    assert sparkline([None, None]) == "  "


# ---- the hand-built week, through the real state machine and SQL ------------------------------------


@pytest.fixture
def built(store: OrderStore, clock: FixedClock) -> dict[str, str]:
    return week.build(store, clock)


def _row(table, key: str):  # noqa: ANN001, ANN202
    found = [r for r in table.rows if r.key == key]
    assert found, f"no row {key}: {[r.key for r in table.rows]}"
    return found[0].to_json()


def test_department_rates_are_exact(db: Database, clock: FixedClock, built: dict[str, str]) -> None:
    table = KpiStore(db, clock=clock).table(WEEK, "department")
    scjg = _row(table, "SCJG")
    assert scjg["dispatched"] == 8  # o1–o8, returns included
    # sign: o1, o4 on time; o2, o3 late; o5 returned unjustified (never signed); o6/o7/o8 left out
    assert (scjg["signed_on_time"], scjg["sign_base"], scjg["sign_rate"]) == (2, 5, 0.4)
    # arrival: o1–o4 on time; o5 never arrived
    assert (scjg["arrived_on_time"], scjg["arrival_base"], scjg["arrival_rate"]) == (4, 5, 0.8)
    # feedback: o1, o3 (extended deadline), o4 (deadline of the reopened round) on time; o2 late; o5 never
    assert (scjg["fed_back_on_time"], scjg["feedback_base"], scjg["feedback_rate"]) == (3, 5, 0.6)
    # resolution: o1, o2 resolved; o3 unresolved; o4 reopened
    assert (scjg["resolved"], scjg["orders_fed_back"], scjg["resolution_rate"]) == (2, 4, 0.5)
    # repeat calls: o2 (8 min) and o3 (72 h); o1 (7 min) and o4 (73 h) are not; o8 has none
    assert (scjg["repeat_orders"], scjg["orders"], scjg["repeat_rate"]) == (2, 5, 0.4)
    assert (scjg["satisfied"], scjg["visited"]) == (2, 3)
    assert scjg["satisfaction_rate"] == pytest.approx(2 / 3)
    assert (scjg["onsite_resolved"], scjg["onsite_fed_back"]) == (2, 4)
    assert (scjg["returned_justified"], scjg["returned_unjustified"], scjg["returned_unjudged"]) == (1, 1, 1)
    assert scjg["extended"] == 1 and scjg["reopened"] == 1
    assert scjg["score"] == 58.0
    # times: signed after 5, 15, 11, 5 minutes (o6's justified return is left out)
    assert (scjg["sign_minutes_n"], scjg["sign_minutes_p50"], scjg["sign_minutes_p90"]) == (4, 5.0, 15.0)
    assert (scjg["arrive_minutes_p50"], scjg["arrive_minutes_p90"]) == (20.0, 25.0)


def test_reassigned_order_belongs_to_the_new_department(db: Database, clock: FixedClock, built: dict[str, str]) -> None:
    table = KpiStore(db, clock=clock).table(WEEK, "department")
    zjj = _row(table, "ZJJ")
    # o5 (reassigned to ZJJ, never signed) and o9 (dual, on time)
    assert (zjj["dispatched"], zjj["signed_on_time"], zjj["sign_base"]) == (2, 1, 2)
    assert zjj["orders"] == 2 and zjj["resolution_rate"] == 1.0


def test_police_station_row_and_dual_arrival_gap(db: Database, clock: FixedClock, built: dict[str, str]) -> None:
    table = KpiStore(db, clock=clock).table(WEEK, "department")
    police = _row(table, "GA-LS")
    assert police["name"] == "鹿山派出所"
    assert (police["dispatched"], police["sign_rate"], police["arrival_rate"], police["feedback_rate"]) == (
        1,
        1.0,
        1.0,
        1.0,
    )
    assert police["orders"] == 1  # the dual order's outcome is shared with the police station
    # ZJJ arrived 8 minutes after the police on o9
    assert police["dual_gap_minutes_p50"] == 8.0 and _row(table, "ZJJ")["dual_gap_minutes_p50"] == 8.0
    assert table.total.to_json()["dual_gap_minutes_n"] == 1
    ranks = [r.rank for r in table.rows]
    assert ranks == sorted(ranks)  # best first


def test_total_counts_each_order_once(db: Database, clock: FixedClock, built: dict[str, str]) -> None:
    table = KpiStore(db, clock=clock).table(WEEK, "department")
    total = table.total.to_json()
    assert total["key"] == TOTAL_KEY
    assert total["orders"] == 13  # o1–o9 and r1–r4; o10 was cancelled
    assert total["dispatched"] == sum(r.counts.dispatched for r in table.rows) == 15
    assert total["repeat_orders"] == 2
    overall = KpiStore(db, clock=clock).table(WEEK, "overall")
    assert overall.rows == [] and overall.total.to_json() == total


def test_town_and_tag_views(db: Database, clock: FixedClock, built: dict[str, str]) -> None:
    ks = KpiStore(db, clock=clock)
    town = ks.table(WEEK, "town")
    assert [r.key for r in town.rows] == ["LS"] and town.rows[0].name == "鹿山街道"
    assert town.rows[0].to_json() | {"key": "ALL", "name": "", "rank": None} == town.total.to_json() | {"name": ""}
    tag = ks.table(WEEK, "tag")
    b11 = _row(tag, "B11")
    assert b11["orders"] == 4 and b11["arrival_rate"] is None  # no site visit for B11
    only = ks.table(WEEK, "tag", dept="SCJG")
    assert [r.key for r in only.rows] == ["B01"]
    assert only.total.to_json()["sign_rate"] == 0.4


def test_dept_filter_groups_township_codes(db: Database, clock: FixedClock, built: dict[str, str]) -> None:
    ks = KpiStore(db, clock=clock)
    assert [r.key for r in ks.table(WEEK, "department", dept="ga").rows] == ["GA-LS"]
    assert [r.key for r in ks.table(WEEK, "department", dept="GA-LS").rows] == ["GA-LS"]
    with pytest.raises(ValidationError):
        ks.table(WEEK, "department", dept="NOPE")
    with pytest.raises(ValidationError):
        ks.table(WEEK, "county")


def test_pending_work_counts_once_its_deadline_passes(db: Database, clock: FixedClock, built: dict[str, str]) -> None:
    ks = KpiStore(db, clock=clock)
    before = _row(ks.table(WEEK, "department"), "SCJG")
    clock.advance(minutes=8)  # o8's sign-off deadline (10 minutes after dispatch) has passed
    after = _row(ks.table(WEEK, "department"), "SCJG")
    assert (after["sign_base"], after["signed_on_time"]) == (before["sign_base"] + 1, before["signed_on_time"])
    assert after["arrival_base"] == before["arrival_base"]  # arrival is due 30 minutes after dispatch


def test_windows_count_orders_by_their_call(db: Database, clock: FixedClock, built: dict[str, str]) -> None:
    ks = KpiStore(db, clock=clock)
    first_day = ks.table(Window(date(2026, 11, 20), date(2026, 11, 20)), "department")
    assert _row(first_day, "SCJG")["dispatched"] == 7  # o8 came in on the 28th
    later = ks.table(Window(date(2026, 11, 21), date(2026, 11, 27)), "department")
    assert sorted(r.key for r in later.rows) == ["SFJ"]  # r3 and r4, 72 and 73 hours later
    daily = ks.daily(WEEK)
    assert daily[date(2026, 11, 20)].orders == 10 and daily[date(2026, 11, 28)].orders == 1
    assert sum(c.dispatched for c in daily.values()) == 15


def test_repeat_found_when_the_order_is_entered_after_the_call(
    store: OrderStore, db: Database, clock: FixedClock
) -> None:
    t = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    week.dispatch(store, "13900000001", "B11", t + timedelta(minutes=30))  # the second call, entered first
    late = week.dispatch(store, "13900000001", "B01", t)  # the first call, entered late
    with db.read() as conn:
        rows = dict(
            conn.exec_driver_sql(
                "SELECT o.order_no, r.repeat_call_at FROM orders o LEFT JOIN kpi_repeats r ON r.order_id = o.id"
            ).all()
        )
    assert rows[late] == "2026-11-27T02:30:00.000000Z"
    assert len([v for v in rows.values() if v]) == 1


def test_repeat_edges_to_the_microsecond(store: OrderStore, db: Database, clock: FixedClock) -> None:
    t = datetime(2026, 11, 27, 2, 0, 0, 999_999, tzinfo=UTC)
    nos = {}
    for phone, gap in (
        ("13900000011", timedelta(minutes=8) - timedelta(microseconds=1)),
        ("13900000012", timedelta(minutes=8)),
        ("13900000013", timedelta(hours=72)),
        ("13900000014", timedelta(hours=72, microseconds=1)),
    ):
        nos[phone] = week.dispatch(store, phone, "B11", t - timedelta(hours=73))
        week.dispatch(store, phone, "B11", t - timedelta(hours=73) + gap)
    with db.read() as conn:
        flagged = {
            r[0]
            for r in conn.exec_driver_sql("SELECT o.order_no FROM orders o JOIN kpi_repeats r ON r.order_id = o.id")
        }
    assert flagged == {nos["13900000012"], nos["13900000013"]}


def test_frequent_callers_and_addresses(store: OrderStore, db: Database, clock: FixedClock) -> None:
    now = clock()
    for i, hours in enumerate((1, 30, 100)):
        week.dispatch(
            store, "13857512345", ["B02", "B01", "B02"][i], now - timedelta(hours=hours), address="鹿山街道某小区3幢"
        )
    week.dispatch(store, "13857512399", "B02", now - timedelta(hours=2), address="鹿山街道某小区3幢")
    week.dispatch(store, "13857512345", "B02", now - timedelta(days=9))  # outside the 7 days
    ks = KpiStore(db, clock=clock)
    callers = ks.frequent(now - timedelta(days=7), now)
    assert [(c.key, c.calls, c.tags) for c in callers] == [("13857512345", 3, ("B02", "B01"))]
    addresses = ks.frequent(now - timedelta(days=7), now, by="address")
    assert [(a.key, a.town, a.calls) for a in addresses] == [("鹿山街道某小区3幢", "LS", 4)]
    # over a longer window: 3 calls within some 7 days
    assert ks.frequent(now - timedelta(days=30), now)[0].calls == 4
    assert ks.frequent(now - timedelta(days=30), now, min_calls=5) == []


def test_live_picture(db: Database, clock: FixedClock, built: dict[str, str]) -> None:
    live = KpiStore(db, clock=clock).live()
    assert live.today.orders == 1 and live.today.calls == 1  # o8
    assert live.today.awaiting_sign == 6  # o5 (reassigned to ZJJ), o8, r1–r4
    assert live.today.overdue == 5  # all but o8
    assert live.today.returned == 2  # o6, o7 wait to be reassigned
    assert live.feedback.returns_to_judge == 1  # o7
    assert live.feedback.awaiting_visit == 2  # o3 (unresolved) and o9
    assert live.feedback.awaiting_close == 2  # o2, o4
    loads = {d.code: d for d in live.depts}
    assert loads["SCJG"].awaiting_sign == 1 and loads["SCJG"].overdue == 0
    assert loads["SFJ"].overdue == 4  # r1–r4 never signed
    clock.advance(minutes=8)
    assert {d.code: d for d in KpiStore(db, clock=clock).live().depts}["SCJG"].overdue == 1
