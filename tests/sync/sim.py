"""A seeded fault-injection simulation of several desks and the server in one process.

Desks take random legal actions through the same store the console uses, and sync through a transport that
drops requests, loses acknowledgements, delivers requests twice, holds requests back and delivers them late
(out of order), while desks crash between the server's commit and their own record of it, crash in the
middle of a pull, stay offline for long stretches and run with clocks a day fast or slow. At the end every
desk comes online and syncs until quiet, and :meth:`Simulation.check` lists every broken invariant:

* no event lost: every event a desk wrote is on the server, and on every desk that may see its order;
* none applied twice: each desk's events are on the server once each, numbered 1…n without gaps;
* each desk's order kept: the server's order of a desk's events is that desk's own order (and hash chain);
* all replicas identical: every desk's orders, assignments, calls and event outcomes equal the replay of
  the server's log (a department desk: for the orders it may see);
* conflicts visible: every event the replay marks as a conflict is marked so on every desk that has it;
* merges agree across orders: an order merged into another is listed on the survivor, and never both ways.

Desks also merge, unmerge and split orders (issue 17), offline too, so the same orders are merged and split
concurrently.

Used by tests/sync/test_faults.py (short, seeded) and by ``make bench`` (longer runs).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel

from fengqiao.models.clock import UTC, FixedClock
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.events import new_id
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Event, Intent, replay
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import Desk, make_desk
from fengqiao.models.validate import SCHEMAS
from fengqiao.server.app import create_app
from fengqiao.server.store import ServerStore, _event
from fengqiao.store.audit import verify
from fengqiao.store.db import Database, set_meta
from fengqiao.store.orders import OrderStore
from fengqiao.store.projection import ORDER_COLUMNS, append_events, assignment_tuples, order_tuple
from fengqiao.store.sync import (
    META_CURSOR,
    DeskLog,
    HttpTransport,
    SimulatedCrash,
    SyncClient,
    SyncError,
    SyncUnavailable,
    timeline,
)

T0 = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
TAGS = ["B01", "A03", "B02", "C14", "B04", "B01", "A03", "C04"]  # C04: the water company, even in HZ
TOWNS = ["HZ", "HZ", "SHH"]
REASSIGN_TO = ["SCJG", "ZJJ", "ZHZF", "SW"]
# name, role, dept, town, prefix, clock offset
DESKS = [
    ("CT1", "call_taker", None, None, "SZ", timedelta(0)),
    ("CT2", "call_taker", None, None, "SZB", timedelta(minutes=4)),  # a few minutes fast
    ("HZ", "township", None, "HZ", "HZ", timedelta(minutes=-7)),
    ("SCJG", "department", "SCJG", None, None, timedelta(0)),
    ("ZJJ", "department", "ZJJ", None, None, timedelta(minutes=5)),
    ("GAHZ", "department", "GA-HZ", None, None, timedelta(0)),
    ("SUP", "supervisor", None, None, None, timedelta(minutes=-3)),  # a few minutes slow
]


class SkewedClock:
    """A desk's clock: the simulation's time plus a fixed error."""

    def __init__(self, base: FixedClock, offset: timedelta) -> None:
        self.base, self.offset = base, offset

    def __call__(self) -> datetime:
        return self.base() + self.offset


@dataclass
class Faults:
    drop: float = 0.08  # the request never reaches the server
    lost_ack: float = 0.08  # the server commits, the answer is lost
    duplicate: float = 0.06  # the request is delivered twice
    hold: float = 0.05  # held back and delivered later, after newer requests
    crash_after_commit: float = 0.05  # the desk dies after the server answered, before recording it
    crash_mid_pull: float = 0.05  # the desk dies inside the pull transaction
    offline: float = 0.04  # chance per step that a desk goes offline (for a long stretch)

    @classmethod
    def none(cls) -> Faults:
        return cls(0, 0, 0, 0, 0, 0, 0)


class FaultyTransport(HttpTransport):
    """The network between one desk and the server, misbehaving on purpose. One call at a time, in the desk's
    thread: the faults are drawn from the simulation's seeded generator in a fixed order."""

    PREFETCH = False

    def __init__(self, sim: Simulation, token: str) -> None:
        super().__init__(None, token, client=sim.http)
        self.sim = sim

    def close(self) -> None:  # the in-process client is shared
        pass

    def call(
        self,
        method: str,
        path: str,
        model: type[BaseModel],
        *,
        params: dict[str, Any] | None = None,
        body: BaseModel | bytes | None = None,
    ) -> Any:
        sim, f = self.sim, self.sim.faults
        rng = sim.rng
        if rng.random() < f.drop:
            sim.counts["dropped"] += 1
            raise SyncUnavailable("dropped")
        if method == "POST" and rng.random() < f.hold:
            sim.held.append((self.token, path, body))
            sim.counts["held"] += 1
            raise SyncUnavailable("held back")
        answer = super().call(method, path, model, params=params, body=body)
        if rng.random() < f.duplicate:
            sim.counts["duplicated"] += 1
            answer = super().call(method, path, model, params=params, body=body)
        if rng.random() < f.lost_ack:
            sim.counts["lost_acks"] += 1
            raise SyncUnavailable("answer lost")
        return answer


HOSTILE = [("EVIL", "department", "SCJG", None, None, timedelta(0))]  # sends garbage among honest traffic


@dataclass
class SimDesk:
    name: str
    desk: Desk
    db: Database
    store: OrderStore
    token: str
    online: bool = True
    offline_until: int = 0


class Simulation:
    def __init__(
        self,
        server_url: str,
        workdir: Path,
        *,
        seed: int,
        steps: int = 200,
        client_cls: type[SyncClient] = SyncClient,
        faults: Faults | None = None,
        hostile: bool = False,
        merge_rate: float = 0.12,
    ) -> None:
        self.rng = random.Random(seed)
        self.merge_rate = merge_rate  # of a desk's actions on orders: a merge, an undone merge or a split
        self.steps = steps
        self.client_cls = client_cls
        self.faults = faults if faults is not None else Faults()
        self.clock = FixedClock(T0)
        self.ref = default_reference()
        self.server = ServerStore(server_url, clock=self.clock)
        self.http = TestClient(create_app(self.server, deliver=False), raise_server_exceptions=False)
        self.held: list[tuple[str, str, BaseModel | bytes | None]] = []
        self.counts: Counter[str] = Counter()
        self.desks: list[SimDesk] = []
        workdir.mkdir(parents=True, exist_ok=True)
        self.hostile: set[str] = {"EVIL"} if hostile else set()
        for name, role, dept, town, prefix, offset in DESKS + (HOSTILE if hostile else []):
            token = self.server.add_desk(name, role, dept=dept, town=town, prefix=prefix)
            desk = make_desk(self.ref, name, role, dept=dept, town=town, prefix=prefix)
            db = Database(workdir / f"{name}.db")
            store = OrderStore(db, ref=self.ref, desk=desk, clock=SkewedClock(self.clock, offset))
            self.desks.append(SimDesk(name, desk, db, store, token))

    def close(self) -> None:
        for d in self.desks:
            d.db.close()
        self.http.close()
        self.server.close()

    # ---- one desk's sync, with crashes ----------------------------------------------------------
    def _crash_hook(self) -> Callable[[str], None]:
        f = self.faults

        def hook(point: str) -> None:
            p = f.crash_after_commit if point == "push:answered" else f.crash_mid_pull
            if self.rng.random() < p:
                self.counts[f"crash {point}"] += 1
                raise SimulatedCrash(point)

        return hook

    def sync(self, d: SimDesk, *, faults: bool = True) -> bool:
        """One sync round of desk ``d`` (a new client each time: a crash loses nothing in memory)."""
        transport = FaultyTransport(self, d.token) if faults else HttpTransport(None, d.token, client=self.http)
        client = self.client_cls(
            d.db,
            transport,
            desk=d.desk,
            clock=d.store.clock,
            push_batch=self.rng.choice([1, 3, 50]),
            pull_limit=self.rng.choice([2, 7, 500]),
            crash=self._crash_hook() if faults else None,
        )
        try:
            client.sync_once()
            return True
        except SimulatedCrash:
            return False
        except SyncUnavailable:
            self.counts["unavailable"] += 1
            return False
        except SyncError as exc:
            self.counts[f"error {exc}"] += 1
            return False
        except FengqiaoError:
            if d.name not in self.hostile:
                raise
            self.counts["hostile desk choked on its own garbage"] += 1
            return False

    def deliver_held(self, n: int = 1) -> None:
        """Deliver some held-back requests now (late and out of order); nobody hears the answer."""
        for _ in range(min(n, len(self.held))):
            token, path, body = self.held.pop(self.rng.randrange(len(self.held)))
            self.http.post(
                path,
                content=body if isinstance(body, bytes) or body is None else body.model_dump_json(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            self.counts["late deliveries"] += 1

    # ---- desks at work --------------------------------------------------------------------------
    def act(self, d: SimDesk) -> None:
        if d.name in self.hostile:
            self.garbage(d)
            return
        rng, store = self.rng, d.store
        role = d.desk.role
        if role in ("call_taker", "township") and rng.random() < 0.3:
            town = "HZ" if role == "township" else rng.choice(TOWNS)
            phone = f"138{rng.randrange(10**8):08d}"
            form = IntakeForm(
                phone=phone,
                town=town,
                description=rng.choice(["买到假货", "欠薪", "噪音扰民"]),
                address=f"{rng.choice(['人民路', '前岩村'])}{rng.randrange(1, 50)}号",
            )
            store.dispatch(form, rng.choice(TAGS))
            self.counts["dispatches"] += 1
            return
        rows = store.list_orders(limit=40, open_only=rng.random() < 0.8)
        if not rows:
            return
        row = rng.choice(rows)
        if role in ("call_taker", "township") and rng.random() < 0.15:
            open_rows = [r for r in rows if r.status not in ("closed", "cancelled")]
            if open_rows:
                no = rng.choice(open_rows).order_no
                store.link(no, IntakeForm(phone=f"139{rng.randrange(10**8):08d}", town="HZ", description="又打来了"))
                self.counts["links"] += 1
                return
        if (
            role in ("call_taker", "township", "supervisor")
            and rng.random() < self.merge_rate
            and self.merge_or_split(d, rows)
        ):
            return
        state = store.order(row.order_no)
        options = store.allowed(state)
        if not options:
            return
        weights = [0.1 if a in (Action.CANCEL, Action.ESCALATE) else 1.0 for a, _ in options]
        action, target = rng.choices(options, weights=weights)[0]
        asg = state.assignment(target).assignee if target else None
        intent = Intent(
            action,
            assignee=asg,
            note="处理说明",
            result=rng.choice(["resolved", "resolved", "unresolved"]),
            satisfaction=rng.choice(["satisfied", "basic", "unsatisfied"]),
            to=rng.choice([c for c in REASSIGN_TO if c != state.primary.dept]),
            hours=24,
            justified=rng.random() < 0.5,
        )
        try:
            store.act(row.order_no, intent)
            self.counts[f"act {action}"] += 1
        except FengqiaoError:
            self.counts["refused locally"] += 1

    def merge_or_split(self, d: SimDesk, rows: list[Any]) -> bool:
        """Merge two or three open orders, undo a merge, or split an order (issue 17): desks offline for long
        stretches merge and split the same orders concurrently. False when nothing was tried."""
        rng, store = self.rng, d.store
        working = [r.order_no for r in rows if r.status in ("dispatched", "signed", "arrived", "returned")]
        choice = rng.random()
        try:
            if choice < 0.45 and len(working) >= 2:
                picked = rng.sample(working, min(len(working), rng.choice([2, 2, 3])))
                store.merge(picked[0], picked[1:], reason="同一件事")
                self.counts["merges"] += 1
            elif choice < 0.6:
                merged = [r.order_no for r in store.list_orders(limit=40, status=["cancelled"])]
                if not merged:
                    return False
                store.unmerge(rng.choice(merged), reason="不是同一件事")
                self.counts["unmerges"] += 1
            elif d.desk.role != "supervisor" and working:
                store.split(rng.choice(working), rng.sample(REASSIGN_TO, rng.choice([1, 2])), reason="分给各单位")
                self.counts["splits"] += 1
            else:
                return False
        except FengqiaoError:
            self.counts["merge or split refused locally"] += 1
        return True

    def garbage(self, d: SimDesk) -> None:
        """A hostile desk appends an event of any kind with a payload and times a desk would never write."""
        rng = self.rng
        with d.db.read() as conn:
            known = [r[0] for r in conn.exec_driver_sql("SELECT DISTINCT order_id FROM events LIMIT 50")]
        kind = rng.choice([*SCHEMAS, "bogus"])
        order_id = rng.choice(known) if known and rng.random() < 0.8 else new_id()
        payload = rng.choice(
            [
                {},
                {"hours": 2**63, "reason": "x"},
                {"text": {"a": 1}, "result": "resolved"},
                {"mode": "triple", "tag": "Z99"},
                {"satisfaction": 3},
                {"note": "长" * 5000},
                {"feedback_due": "2036-01-01T00:00:00.000000Z", "reason": ""},
                {"justified": "yes"},
            ]
        )
        now = self.clock()
        at = rng.choice([now, now + timedelta(days=3650), datetime(1970, 1, 1, tzinfo=UTC), now - timedelta(days=30)])
        with d.db.read() as conn:
            asg = conn.exec_driver_sql("SELECT id FROM assignments WHERE order_id = ? LIMIT 1", (order_id,)).first()
        ev = Event(
            id=new_id(),
            order_id=order_id,
            kind=kind,
            event_at=at,
            recorded_at=now,
            desk=d.name,
            actor="evil",
            assignment_id=asg[0] if asg else new_id(),
            payload=payload,
        )
        with d.db.write() as conn:
            append_events(conn, d.name, [ev])
        self.counts["garbage"] += 1

    # ---- the run --------------------------------------------------------------------------------
    def run(self) -> list[str]:
        rng = self.rng
        for step in range(self.steps):
            self.clock.advance(minutes=rng.choice([1, 3, 7, 20, 60]))
            d = rng.choice(self.desks)
            if not d.online and step >= d.offline_until:
                d.online = True
            if d.online and rng.random() < self.faults.offline:
                d.online, d.offline_until = False, step + rng.randrange(20, max(21, self.steps // 3))
                self.counts["went offline"] += 1
            if rng.random() < 0.55:
                self.act(d)
            elif d.online:
                self.sync(d)
            if self.held and rng.random() < 0.1:
                self.deliver_held(rng.randrange(1, 3))
        return self.settle()

    def settle(self) -> list[str]:
        """Everyone back online, the network healed: sync until nothing changes, then check."""
        self.deliver_held(len(self.held))
        for d in self.desks:
            d.online = True
        for _ in range(3):
            for d in self.desks:
                ok = self.sync(d, faults=False)
                assert ok or d.name in self.hostile, f"{d.name} could not sync on a healthy network"
        return self.check()

    # ---- the invariants -------------------------------------------------------------------------
    def check(self) -> list[str]:
        problems: list[str] = []
        srv = self.server.events()
        everything_refused = self.server.refused()
        refused = [r for r in everything_refused if r["desk"] not in self.hostile]
        self.counts["hostile refused"] = len(everything_refused) - len(refused)
        if refused:
            problems.append(
                f"server refused {len(refused)} events from well-behaved desks: "
                f"{[(r['desk'], r['reason']) for r in refused[:3]]}"
            )
        ids = [e["id"] for e in srv]
        if len(ids) != len(set(ids)):
            problems.append("an event is stored twice on the server")
        if [e["seq"] for e in srv] != list(range(1, len(srv) + 1)):
            problems.append("the server's global order has gaps")
        by_id = {e["id"]: e for e in srv}
        # Each desk's own events: all on the server, once, in the desk's order, chain intact.
        for d in self.honest:
            with d.db.read() as conn:
                own = conn.exec_driver_sql(
                    "SELECT id, desk_seq FROM events WHERE desk = ? ORDER BY desk_seq", (d.name,)
                ).all()
            missing = [r.id for r in own if r.id not in by_id]
            if missing:
                problems.append(f"{d.name}: {len(missing)} of its events missing on the server")
            mine = [e for e in srv if e["desk"] == d.name]
            seqs = [e["desk_seq"] for e in mine]
            if seqs != list(range(1, len(seqs) + 1)):
                problems.append(f"{d.name}: server has its events out of order or with gaps: {seqs[:12]}…")
            if len(mine) != len(own):
                problems.append(f"{d.name}: wrote {len(own)} events, server has {len(mine)}")
            prev = "0" * 64
            for e in mine:
                if e["prev_hash"] != prev:
                    problems.append(f"{d.name}: hash chain broken on the server at {e['desk_seq']}")
                    break
                prev = e["hash"]
        # The truth: every order replayed from the server's log in server order.
        per_order: dict[str, list[Any]] = defaultdict(list)
        for e in srv:
            per_order[e["order_id"]].append(_event(_Row(e)))
        truth = {oid: replay(evs) for oid, evs in per_order.items()}
        conflicts = {eid for r in truth.values() for eid, st in r.statuses.items() if st == "conflict"}
        self.counts["conflicts"] = len(conflicts)
        self.counts["redundant"] = sum(1 for r in truth.values() for st in r.statuses.values() if st == "redundant")
        self.counts["events"] = len(srv)
        problems += _merge_problems(truth)
        self.counts["merges taken"] = sum(1 for r in truth.values() if r.state is not None and r.state.merge)
        self.counts["merge conflicts"] = sum(
            1 for e in srv if e["kind"] == "merge-into" and truth[e["order_id"]].statuses.get(e["id"]) == "conflict"
        )
        for d in self.honest:
            problems += self._check_replica(d, truth, by_id, conflicts)
            report = verify(d.db, clock=self.clock)
            if report.faults:
                problems.append(f"{d.name}: check found {[f.kind for f in report.faults][:3]}")
        return problems

    def _check_replica(
        self, d: SimDesk, truth: dict[str, Any], by_id: dict[str, dict[str, Any]], conflicts: set[str]
    ) -> list[str]:
        problems = []
        codes = d.desk.assignee_codes(self.ref)
        visible = {
            oid
            for oid, r in truth.items()
            if r.state is not None
            and (d.desk.sees_all() or any(a.assignee in codes for a in r.state.assignments) or r.state.desk == d.name)
        }
        with d.db.read() as conn:
            local = {
                r.id: r
                for r in conn.exec_driver_sql(
                    "SELECT e.id, e.order_id, s.server_seq, s.status FROM events e "
                    "LEFT JOIN event_state s ON s.event_id = e.id"
                )
            }
            orders = {r[0]: tuple(r) for r in conn.exec_driver_sql(f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders")}
            assignments = {
                r[0]: tuple(r)
                for r in conn.exec_driver_sql(
                    "SELECT id, order_id, seq, role, assignee, dept, town, onsite, status, active, dispatched_at, sign_due, "
                    "arrive_due, feedback_due, feedback_due_original, signed_at, arrived_at, fed_back_at, returned_at, "
                    "result, feedback_text, return_reason, return_justified, ext_status, ext_hours, ext_reason, "
                    "first_overdue_at FROM assignments"
                )
            }
        dup = Counter(r.id for r in local.values())
        if any(n > 1 for n in dup.values()):
            problems.append(f"{d.name}: an event stored twice")
        for oid in visible:
            for eid, status in truth[oid].statuses.items():
                mine = local.get(eid)
                if mine is None:
                    problems.append(f"{d.name}: missing event {eid[:13]} of an order it may see")
                    break
                if mine.server_seq != by_id[eid]["seq"]:
                    problems.append(
                        f"{d.name}: event {eid[:13]} has server number {mine.server_seq}, not {by_id[eid]['seq']}"
                    )
                    break
                if mine.status != status:
                    problems.append(
                        f"{d.name}: event {eid[:13]} marked {mine.status}, replay says {status}"
                        + (" (a conflict not shown)" if eid in conflicts else "")
                    )
                    break
        with d.db.read() as conn:  # what the order's timeline (CLI, detail screen) shows
            for oid in {by_id[e]["order_id"] for e in conflicts} & visible:
                shown = {e.event.id for e in timeline(conn, oid) if e.status == "conflict"}
                if not {e for e in conflicts if by_id[e]["order_id"] == oid} <= shown:
                    problems.append(f"{d.name}: a conflict on order {oid[:13]} is not on its timeline")
        if set(orders) != visible:
            problems.append(
                f"{d.name}: has {len(orders)} orders, should have {len(visible)} "
                f"(extra {len(set(orders) - visible)}, missing {len(visible - set(orders))})"
            )
        wrong = [oid for oid in visible & set(orders) if orders[oid] != _normal(order_tuple(truth[oid].state))]
        if wrong:
            problems.append(f"{d.name}: {len(wrong)} orders differ from the replay of the server's log")
        want = {a[0]: _normal(a) for oid in visible for a in assignment_tuples(truth[oid].state)}
        if assignments != want:
            problems.append(f"{d.name}: assignments differ from the replay of the server's log")
        return problems

    @property
    def honest(self) -> list[SimDesk]:
        return [d for d in self.desks if d.name not in self.hostile]

    def replicas_equal(self) -> bool:
        """The full-view desks hold byte-identical projections."""
        dumps = []
        for d in self.honest:
            if not d.desk.sees_all():
                continue
            with d.db.read() as conn:
                dumps.append(
                    [
                        conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1").all()
                        for t in ("orders", "assignments", "calls")
                    ]
                )
        return all(x == dumps[0] for x in dumps)


def _merge_problems(truth: dict[str, Any]) -> list[str]:
    """Merges agree across orders: a merged order's survivor lists it, the survivor is not merged back into it
    (no cycle), and a split's children name their parent."""
    out = []
    states = {oid: r.state for oid, r in truth.items() if r.state is not None}
    for oid, s in states.items():
        if s.merge is not None:
            survivor = states.get(s.merge.into)
            if survivor is None or not any(x.order_id == oid for x in survivor.absorbed):
                out.append(f"order {s.order_no} is merged into {s.merge.into_no}, which does not list it")
            seen, at = {oid}, survivor
            while at is not None and at.merge is not None:
                if at.merge.into in seen:
                    out.append(f"merge cycle through {s.order_no}")
                    break
                seen.add(at.merge.into)
                at = states.get(at.merge.into)
        for child in s.children:
            c = states.get(child.order_id)
            if c is None or c.parent != (oid, s.order_no):
                out.append(f"child {child.order_no} of {s.order_no} does not name its parent")
    return out


class _Row:
    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)


def _normal(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Python values as SQLite returns them (booleans as 0/1)."""
    return tuple(int(v) if isinstance(v, bool) else v for v in row)


class CursorFirstLog(DeskLog):
    """PLANTED BUG (test-only): moves the cursor in its own transaction before storing the pulled events."""

    def apply_pull(self, me: str, resp: Any, crash: Any = None, **kw: Any) -> tuple[int, int]:
        with self.db.write() as conn:
            set_meta(conn, META_CURSOR, resp.cursor)
        return super().apply_pull(me, resp, crash, **kw)


class CursorFirstClient(SyncClient):
    log_class = CursorFirstLog
