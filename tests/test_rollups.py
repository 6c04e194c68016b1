"""KPI rollups (store/rollups.py) give exactly the figures of the raw computation from the projection.

Seeded random histories, through the real OrderStore (late entries with ``at``, extensions approved and refused,
returns and their judgement, reassignments, reopenings, repeat and linked calls, cancellations), on one desk and
on desks syncing through the in-process server with events arriving out of order; the demo generator's batches;
the migration's backfill; and ``check`` finding a rollup edited by hand.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fengqiao.models.clock import UTC, FixedClock, ensure_utc, to_db
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.kpi import Weights, Window, last_days, local_date
from fengqiao.models.machine import Action, Intent
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import Desk
from fengqiao.store import migrations, rollups
from fengqiao.store.audit import verify
from fengqiao.store.db import Database
from fengqiao.store.demo import generate
from fengqiao.store.kpi import KpiStore
from fengqiao.store.orders import OrderStore

from .sync.hub import Hub

REF = default_reference()
TAGS = sorted(REF.tags)
TOWNS = sorted(REF.towns)
DEPTS = ["SCJG", "ZJJ", "ZRZY", "STHJ", "ZHZF"]
PHONES = [f"1385751{i:04d}" for i in range(12)] + [""]  # few phones: repeat calls; "" a call without a number
START = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)


def _window_set(now: datetime) -> list[Window]:
    today = local_date(now)
    return [
        last_days(today, 1),
        last_days(today, 7),
        last_days(today, 30),
        Window(today - timedelta(days=12), today - timedelta(days=4)),
    ]


def same_figures(db: Database, clock: Any, *, depts: tuple[str | None, ...] = (None, "SCJG", "GA", "ZZ")) -> int:
    """Assert rollup-based KPIs equal the raw ones for several windows, views and department filters."""
    rolled = KpiStore(db, clock=clock)
    plain = KpiStore(db, clock=clock, rollups=False)
    compared = 0
    for window in _window_set(ensure_utc(clock())):
        for by in ("department", "town", "tag", "overall"):
            for dept in depts:
                a, b = rolled.table(window, by, dept), plain.table(window, by, dept)
                ja, jb = a.to_json(), b.to_json()
                assert ja == jb, (window, by, dept)
                for ra, rb in zip([*a.rows, a.total], [*b.rows, b.total], strict=True):
                    assert ra.counts == rb.counts and ra.spreads == rb.spreads, (window, by, dept, ra.key)
                compared += 1
        assert rolled.daily(window) == plain.daily(window)
        # 基本满意 counted as half ([kpi] basic_weight): the same satisfaction rates both ways
        half = Weights(basic_weight=0.5)
        ha = KpiStore(db, clock=clock, weights=half).table(window, "department")
        hb = KpiStore(db, clock=clock, weights=half, rollups=False).table(window, "department")
        assert ha.to_json() == hb.to_json(), window
    assert rolled.live().today_counts == plain.live().today_counts
    with db.read() as conn:
        assert rollups.differences(conn) == 0
    return compared


def _random_intent(rng: random.Random) -> Intent:
    action = rng.choice(
        [Action.SIGN] * 4
        + [Action.ARRIVE] * 3
        + [Action.FEEDBACK] * 3
        + [
            Action.RETURN,
            Action.REASSIGN,
            Action.EXTEND,
            Action.APPROVE_EXTENSION,
            Action.REFUSE_EXTENSION,
            Action.JUDGE_RETURN,
            Action.VISIT,
            Action.VISIT,
            Action.REOPEN,
            Action.CLOSE,
            Action.CLOSE,
            Action.ESCALATE,
        ]
    )
    return Intent(
        action,
        assignee=rng.choice([None, None, "GA"]),
        note="备注",
        result=rng.choice(["resolved", "resolved", "unresolved"]),
        satisfaction=rng.choice(["satisfied", "basic", "unsatisfied"]),
        to=rng.choice(DEPTS),
        hours=rng.choice([12, 24, 48]),
        justified=rng.choice([True, False]),
        visibility="internal",
    )


class Driver:
    """Random work on one desk's store: dispatches (late, dual, repeat phones), links, actions with ``at``."""

    def __init__(self, store: OrderStore, clock: FixedClock, rng: random.Random) -> None:
        self.store, self.clock, self.rng = store, clock, rng
        self.orders: dict[str, datetime] = {}  # order number -> time of its last event

    def late(self, floor: datetime) -> datetime | None:
        now = ensure_utc(self.clock())
        if floor >= now or self.rng.random() < 0.3:
            return None
        span = (now - floor).total_seconds()
        return floor + timedelta(seconds=self.rng.uniform(0, min(span, 40 * 3600)))

    def dispatch(self) -> None:
        rng = self.rng
        now = ensure_utc(self.clock())
        at = now - timedelta(minutes=rng.uniform(0, 3 * 24 * 60)) if rng.random() < 0.5 else None
        form = IntakeForm(
            phone=rng.choice(PHONES), town=rng.choice(TOWNS), description="来电反映情况", address="人民路1号"
        )
        try:
            o = self.store.dispatch(
                form, rng.choice(TAGS), mode=rng.choice([None, None, "dual"]), at=at, received_at=at
            )
        except FengqiaoError:
            return
        self.orders[o.order_no] = o.updated_at or o.created_at

    def _act(self, no: str, at: datetime | None) -> Any:
        """Try a few random intents until the state machine takes one (most are illegal in a given state)."""
        if self.rng.random() < 0.03:
            return self.store.act(no, Intent(Action.CANCEL, note="撤销"), at=at)
        for _ in range(8):
            try:
                return self.store.act(no, _random_intent(self.rng), at=at)
            except FengqiaoError:
                continue
        return None

    def step(self) -> None:
        rng = self.rng
        self.clock.advance(minutes=rng.uniform(0.5, 90))
        roll = rng.random()
        if roll < 0.25 or not self.orders:
            self.dispatch()
            return
        no = rng.choice(sorted(self.orders))
        at = self.late(self.orders[no])
        try:
            if roll < 0.3:
                phone = rng.choice(PHONES[:-1])
                o = self.store.link(
                    no, IntakeForm(phone=phone, town="", description="又来电催促"), at=at, received_at=at
                )
            else:
                o = self._act(no, at)
        except FengqiaoError:
            return
        if o is None:
            return
        self.orders[no] = o.updated_at or self.orders[no]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_histories_on_one_desk(tmp_path: Path, seed: int) -> None:
    clock = FixedClock(START)
    db = Database(tmp_path / "desk.db")
    store = OrderStore(db, ref=REF, desk=Desk(name="test-desk", operator="tester"), clock=clock)
    drive = Driver(store, clock, random.Random(seed))
    for i in range(260):
        drive.step()
        if i in (60, 259):
            same_figures(db, clock)
    clock.advance(hours=30)  # no writes: deadlines pass, pending work joins the denominators
    assert same_figures(db, clock) > 0
    db.close()


def _push(store: OrderStore, clock: FixedClock, no: str, rng: random.Random) -> None:
    """Drive one order through sign-off, arrival and feedback to a follow-up visit (often unsatisfied) and a reopen;
    sometimes the reworked order is then returned and reassigned, or cancelled. Refused steps are skipped."""
    steps = [
        Intent(Action.SIGN),
        Intent(Action.SIGN, assignee="GA"),
        Intent(Action.ARRIVE),
        Intent(Action.ARRIVE, assignee="GA"),
        Intent(Action.FEEDBACK, result=rng.choice(["resolved", "unresolved"]), note="已处置"),
        Intent(Action.FEEDBACK, assignee="GA", result="resolved", note="已处置"),
        Intent(Action.VISIT, satisfaction=rng.choice(["unsatisfied", "unsatisfied", "basic", "satisfied"])),
        Intent(Action.REOPEN, note="群众不满意"),
    ]
    steps += rng.choice(
        [
            [],
            [Intent(Action.RETURN, note="不属于本单位"), Intent(Action.REASSIGN, to=rng.choice(DEPTS), note="改派")],
            [Intent(Action.CANCEL, note="撤销")],
            [Intent(Action.FEEDBACK, result="resolved", note="重办"), Intent(Action.VISIT, satisfaction="basic")],
        ]
    )
    for intent in steps:
        clock.advance(minutes=rng.uniform(1, 120))
        try:
            store.act(no, intent)
        except FengqiaoError:
            continue


@pytest.mark.parametrize("seed", [4, 5])
def test_random_histories_with_visits_and_redos(tmp_path: Path, seed: int) -> None:
    """Random work plus orders pushed to a visit and a reopen: the counts of the return and redo rates and of
    基本满意 are exercised (not only zeros) and the rollups stay exactly the raw computation."""
    clock = FixedClock(START)
    db = Database(tmp_path / "desk.db")
    store = OrderStore(db, ref=REF, desk=Desk(name="test-desk", operator="tester"), clock=clock)
    rng = random.Random(seed)
    drive = Driver(store, clock, rng)
    for i in range(160):
        drive.step()
        if drive.orders and rng.random() < 0.3:
            _push(store, clock, rng.choice(sorted(drive.orders)), rng)
        if i == 80:
            same_figures(db, clock, depts=(None, "SCJG", "GA"))
    assert same_figures(db, clock) > 0
    total = KpiStore(db, clock=clock).table(last_days(local_date(clock()), 30), "department").total.counts
    assert total.returned and total.basic_satisfied, total
    assert 0 < total.redone < total.redo_base and total.redone <= total.reopened, total
    db.close()


def test_synced_desks_out_of_order(tmp_path: Path) -> None:
    """A call-taker, two department desks and a supervisor act offline on the same orders and sync in random
    order: events arrive late, out of order, some refused or in conflict; every desk's rollups stay exact."""
    hub = Hub(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)
    hub.clock.set(START)
    rng = random.Random(7)
    try:
        ct = hub.add("CT1", "call_taker", prefix="SZ")
        sup = hub.add("SUP", "supervisor", prefix="SV")
        units = [hub.add(d, "department", dept=d) for d in ("SCJG", "ZJJ")]
        desks = [ct, sup, *units]
        drivers = {d.name: Driver(d.store, hub.clock, rng) for d in desks}
        for i in range(220):
            desk = rng.choice(desks)
            drive = drivers[desk.name]
            if desk is ct and rng.random() < 0.5:
                drive.dispatch()
            else:
                with desk.db.read() as conn:  # what this desk knows of
                    known = {r[0]: r[1] for r in conn.exec_driver_sql("SELECT order_no, updated_at FROM orders")}
                for no, at in known.items():
                    drive.orders.setdefault(no, datetime.fromisoformat(at.replace("Z", "+00:00")))
                drive.step()
            if rng.random() < 0.2:
                rng.choice(desks).sync()
            if i == 110:
                for d in desks:
                    same_figures(d.db, hub.clock, depts=(None, "SCJG"))
        hub.sync_all()
        for d in desks:
            same_figures(d.db, hub.clock, depts=(None, "SCJG", "GA"))
        with ct.db.read() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM kpi_rollup").scalar()
    finally:
        hub.close()


def test_demo_batches_and_backfill(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 28, 1, 30, tzinfo=UTC))
    db = Database(tmp_path / "demo.db")
    generate(db, orders=400, days=20, seed=3, clock=clock)
    same_figures(db, clock, depts=(None, "ZZ"))
    with db.write() as conn:  # the migration's backfill gives the same tables
        before = rollups.contributions(conn)
        rollups.rebuild(conn)
        assert rollups.differences(conn) == 0
        assert rollups.contributions(conn).counts == before.counts
    db.close()


def test_migration_backfills_an_old_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import write_as_schema_10

    write_as_schema_10(monkeypatch)
    path = tmp_path / "old.db"
    clock = FixedClock(START)
    old = Database(path, migrate=False)
    with old.write() as conn:
        migrations.upgrade(conn, path, target=9)
    store = OrderStore(old, ref=REF, desk=Desk(name="test-desk", operator="tester"), clock=clock)
    drive = Driver(store, clock, random.Random(11))
    for _ in range(80):
        drive.step()
    old.close()
    monkeypatch.undo()
    new = Database(path)  # opening migrates: 0010 creates and fills the rollups
    with new.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM kpi_rollup").scalar()
        assert conn.exec_driver_sql("SELECT count(*) FROM meta WHERE key = 'kpi.rollups'").scalar() == 0
    same_figures(new, clock, depts=(None,))
    new.close()


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE kpi_rollup SET signed_on_time = signed_on_time + 1 "
        "WHERE (scope, day, key, dept) IN (SELECT scope, day, key, dept FROM kpi_rollup WHERE scope = 'a' LIMIT 1)",
        "DELETE FROM kpi_pending WHERE (assignment_id, measure) IN "
        "(SELECT assignment_id, measure FROM kpi_pending LIMIT 1)",
        "UPDATE kpi_rollup_minutes SET vals = zeroblob(length(vals)) WHERE rowid IN "
        "(SELECT rowid FROM kpi_rollup_minutes LIMIT 1)",
    ],
)
def test_check_finds_a_rollup_edited_by_hand(tmp_path: Path, edit: str) -> None:
    clock = FixedClock(START)
    db = Database(tmp_path / "desk.db")
    store = OrderStore(db, ref=REF, desk=Desk(name="test-desk", operator="tester"), clock=clock)
    drive = Driver(store, clock, random.Random(5))
    for _ in range(40):
        drive.step()
    assert not [f for f in verify(db, clock=clock).faults if f.kind == "derived"]
    with db.write() as conn:
        assert conn.exec_driver_sql(edit).rowcount == 1
    faults = [f for f in verify(db, clock=clock).faults if f.kind == "derived"]
    assert len(faults) == 1 and "KPI" in faults[0].message, faults
    db.close()


def test_percentile_selection_matches_a_sort() -> None:
    rng = random.Random(3)
    from fengqiao.models.kpi import spread

    for _ in range(200):
        days = [sorted(rng.uniform(-50, 5000) * rng.random() for _ in range(rng.randrange(1, 30))) for _ in range(5)]
        days += [[0.0, 0.0, 1e-9]] if rng.random() < 0.3 else []
        parts = [rollups.pack(d)[1:] for d in days]
        assert rollups.select(parts) == spread([v for d in days for v in d])
    assert to_db(START)  # the module's clock helpers in use
