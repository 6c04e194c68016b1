"""Crash safety: kill writers with SIGKILL at random moments, then prove nothing acknowledged was lost.

Victims are real processes running the store's write loop (:func:`tests.torture.run`), each acknowledging
every committed write (``ORDER_NO EVENTS``) before it goes on:

* ``exec`` victims are real processes, ``python -m tests.torture --db PATH``, started from scratch (the
  first one creates the database, so some kills land in start-up and in the first migration);
* ``fork`` victims run the same function in a process forked from a multiprocessing fork server that has
  already imported the code, so a kill costs milliseconds instead of a ~0.5 s interpreter start-up. The
  process dies the same way (SIGKILL: no handler, no flush, no rollback).

Two victims write at once (separate desks, so two hash chains grow and contend for the write lock). After
the last kill, :meth:`Harness.check` verifies the file (integrity, every desk chain gap-free with its
head, every order equal to the replay of its events, calls consistent: no half-written order) and that
every acknowledged write is present: an order acknowledged with N events has N events, or N+1 when the
victim died between a commit and its acknowledgement.

The sync server has its own harness, :class:`ServerHarness`: the victim is the real ``fengqiao server run``
process, restarted after every SIGKILL, while desks (threads of the test process, each with its own SQLite
file) keep writing and syncing through the real client over HTTP. An event is acknowledged when the server
answered its push with a number; :meth:`ServerHarness.check` then demands a sound server file, every
acknowledged event there exactly once under the number it was given, a gap-free global sequence, and, after a
final sync, desks that agree with each other and with the server.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FENGQIAO = shutil.which("fengqiao", path=str(Path(sys.executable).parent)) or "fengqiao"
# The crash tests' writer: a real process from scratch, the store's write loop (test-only, not a product command).
TORTURE = [sys.executable, "-m", "tests.torture"]
ROOT = Path(__file__).resolve().parents[1]  # where ``tests`` is importable from


def _fork_victim(db_path: str, desk: str, seed: int, ack_path: str) -> None:
    """The body of a forked victim: the same loop as ``python -m tests.torture``, acknowledging to a file."""
    from fengqiao.models.roles import Desk
    from fengqiao.store.db import Database
    from tests.torture import run

    fd = os.open(ack_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def ack(order_no: str, events: int) -> None:
        os.write(fd, f"{order_no} {events}\n".encode())

    run(Database(db_path), desk=Desk(name=desk, operator=desk), seed=seed, ack=ack)


@dataclass
class Victim:
    kind: str  # exec | fork
    started: float
    deadline: float
    handle: Any  # subprocess.Popen | multiprocessing.Process
    ack_path: Path | None = None

    @property
    def pid(self) -> int:
        return self.handle.pid

    def kill(self) -> str:
        """SIGKILL and reap; return what it acknowledged."""
        if self.kind == "exec":
            self.handle.send_signal(signal.SIGKILL)
            out, _ = self.handle.communicate()
            return out.decode("utf-8", "replace")
        self.handle.kill()
        self.handle.join()
        self.handle.close()
        assert self.ack_path is not None
        return self.ack_path.read_text("utf-8", "replace") if self.ack_path.exists() else ""


@dataclass
class Stats:
    kills: int = 0
    exec_kills: int = 0
    acked_writes: int = 0
    acked_orders: int = 0
    unacked_commits: int = 0
    seconds: float = 0.0


class Harness:
    def __init__(
        self,
        db_path: Path,
        work: Path,
        *,
        seed: int = 7,
        parallel: int = 2,
        exec_every: int = 10,
        fork_delay: float = 0.12,
        exec_delay: float = 1.2,
    ) -> None:
        self.db_path = db_path
        self.work = work
        self.rng = random.Random(seed)
        self.parallel = parallel
        self.exec_every = exec_every
        self.fork_delay = fork_delay
        self.exec_delay = exec_delay
        self.acks: dict[str, int] = {}
        self.stats = Stats()
        self._spawned = 0
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["tests.crashkit", "tests.torture", "fengqiao.store.db"])

    # ---- victims ------------------------------------------------------------------------------------
    def start_victim(self, slot: int) -> Victim:
        n = self._spawned
        self._spawned += 1
        desk = f"crash-{'AB'[slot % 2]}{slot // 2 or ''}"
        seed = self.rng.randrange(1 << 30)
        now = time.monotonic()
        if n == 0 or (self.exec_every and n % self.exec_every == 0):
            env = {**os.environ, "FENGQIAO_CONFIG": str(self.work / "no-config.toml")}
            proc = subprocess.Popen(
                [*TORTURE, "--db", str(self.db_path), "--seed", str(seed), "--desk", desk],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=ROOT,
            )
            return Victim("exec", now, now + self.rng.uniform(0, self.exec_delay), proc)
        ack_path = self.work / f"acks-{n}.txt"
        proc = self._ctx.Process(target=_fork_victim, args=(str(self.db_path), desk, seed, str(ack_path)), daemon=True)
        proc.start()
        return Victim("fork", now, now + self.rng.uniform(0, self.fork_delay), proc, ack_path)

    def _record(self, victim: Victim, text: str) -> None:
        lines = text.split("\n")
        complete = lines[:-1]  # a line without its newline was cut by the kill: not acknowledged
        for line in complete:
            order_no, events = line.split()
            self.acks[order_no] = max(self.acks.get(order_no, 0), int(events))
        self.stats.acked_writes += len(complete)

    def run(self, kills: int) -> Stats:
        started = time.monotonic()
        self.work.mkdir(parents=True, exist_ok=True)
        slots: list[Victim | None] = [None] * self.parallel
        slots[0] = self.start_victim(0)  # the first one alone: it creates the database
        time.sleep(self.rng.uniform(0, self.exec_delay))
        for i in range(1, self.parallel):
            slots[i] = self.start_victim(i)
        while self.stats.kills < kills:
            i = min(range(self.parallel), key=lambda k: slots[k].deadline)  # type: ignore[union-attr]
            victim = slots[i]
            assert victim is not None
            wait = victim.deadline - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            text = victim.kill()
            self._record(victim, text)
            self.stats.kills += 1
            if victim.kind == "exec":
                self.stats.exec_kills += 1
            remaining = kills - self.stats.kills
            busy = sum(1 for s in slots if s is not None) - 1
            slots[i] = self.start_victim(i) if remaining > busy else None
            if slots[i] is None:
                # no replacement needed: finish the others at their deadlines
                alive = [s for s in slots if s is not None]
                for other in sorted(alive, key=lambda s: s.deadline):
                    wait = other.deadline - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    self._record(other, other.kill())
                    self.stats.kills += 1
                    if other.kind == "exec":
                        self.stats.exec_kills += 1
                break
        self.stats.seconds = time.monotonic() - started
        self.stats.acked_orders = len(self.acks)
        return self.stats

    # ---- verdict ------------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Everything that is wrong with the database after the kills (empty: nothing)."""
        from fengqiao.store.audit import verify
        from fengqiao.store.db import Database

        problems: list[str] = []
        db = Database(self.db_path)  # opening recovers the WAL exactly as the next console would
        try:
            report = verify(db)
        finally:
            db.close()
        problems += [f.message for f in report.faults]
        if report.integrity != ["ok"]:
            problems.append(f"integrity_check: {report.integrity}")
        conn = sqlite3.connect(self.db_path)
        try:
            counts = dict(
                conn.execute(
                    "SELECT o.order_no, count(e.seq) FROM orders o LEFT JOIN events e "
                    "ON e.order_id = o.id GROUP BY o.id"
                ).fetchall()
            )
            calls_without_order = conn.execute("SELECT count(*) FROM calls WHERE order_id IS NULL").fetchone()[0]
        finally:
            conn.close()
        if calls_without_order:
            problems.append(f"{calls_without_order} calls without an order")
        for order_no, acked in sorted(self.acks.items()):
            have = counts.get(order_no)
            if have is None:
                problems.append(f"acknowledged order {order_no} is missing")
            elif not acked <= have <= acked + 1:
                problems.append(f"order {order_no}: acknowledged {acked} events, the store has {have}")
            elif have == acked + 1:
                self.stats.unacked_commits += 1
        return problems


# ---- the sync server under SIGKILL ---------------------------------------------------------------------------

SERVER_DESKS = (
    ("110-A", "call_taker", None, "SZ"),
    ("110-B", "call_taker", None, "SZB"),
    ("市场监管-C", "department", "SCJG", None),
)


@dataclass
class ServerStats:
    kills: int = 0
    startup_kills: int = 0  # killed before it answered its health check (start-up, schema check)
    events: int = 0  # on the server at the end
    acked: int = 0  # events whose push the server answered with a number
    duplicates: int = 0  # answered "already have it": committed before a kill, acknowledgement lost
    failed_rounds: int = 0  # sync rounds that found the server gone (retried)
    conflicts: int = 0
    seconds: float = 0.0
    startup: list[float] = field(default_factory=list)  # seconds from spawn to healthy


class _Desk:
    """One desk of the test: its file, its store, its sync client (acknowledgements recorded), its thread."""

    def __init__(
        self,
        work: Path,
        url: str,
        index: int,
        name: str,
        role: str,
        dept: str | None,
        prefix: str | None,
        token: str,
        seed: int,
    ) -> None:
        from fengqiao.models.reference import default_reference
        from fengqiao.models.roles import make_desk
        from fengqiao.store.db import Database
        from fengqiao.store.orders import OrderStore
        from fengqiao.store.sync import DeskLog, HttpTransport, SyncClient

        acks = self.acks = {}  # event id -> server number, as the server answered the push
        stats = self.counts = {"duplicates": 0, "failed": 0}

        class AckLog(DeskLog):
            def record_push(self, me, sent, resp):  # noqa: ANN001, ANN202
                for r in resp.outcomes(sent):  # the answer is the acknowledgement, whatever the desk does next
                    if r.status in ("stored", "duplicate") and r.seq is not None:
                        acks[r.id] = r.seq
                        stats["duplicates"] += r.status == "duplicate"
                return super().record_push(me, sent, resp)

        self.name = name
        self.rng = random.Random(seed)
        self.ref = default_reference()
        self.desk = make_desk(self.ref, name, role, dept=dept, prefix=prefix, operator=name)
        self.db = Database(work / f"desk-{index}.db")
        self.store = OrderStore(self.db, ref=self.ref, desk=self.desk)
        self.client = SyncClient(
            self.db, HttpTransport(url, token, timeout=3.0), desk=self.desk, push_batch=5, pull_limit=50
        )
        self.client.log = AckLog(self.db)
        self.problems: list[str] = []

    def write(self) -> None:
        """One step of a desk's work: a call, a repeat call, a cancellation, or a department's next step."""
        from fengqiao.models.errors import FengqiaoError
        from fengqiao.models.intake import IntakeForm
        from fengqiao.models.machine import Action, Intent
        from tests.torture import TEXTS

        rng = self.rng
        try:
            open_orders = [r for r in self.store.list_orders(limit=30, open_only=True)]
            if self.desk.role == "department":
                if open_orders:
                    state = self.store.order(rng.choice(open_orders).order_no)
                    steps = [
                        (a, tg)
                        for a, tg in self.store.allowed(state)
                        if a in (Action.SIGN, Action.ARRIVE, Action.FEEDBACK)
                    ]
                    if steps:
                        action, target = rng.choice(steps)
                        self.store.act(
                            state.order_no,
                            Intent(
                                action,
                                assignee=state.assignment(target).assignee if target else None,
                                note="已处理",
                                result="resolved" if action == Action.FEEDBACK else None,
                            ),
                        )
                return
            roll = rng.random()
            if roll < 0.55 or not open_orders:
                tag = rng.choice(("B01", "B02", "C04", "A03", "D01"))  # B01 goes to SCJG: the department has work
                self.store.dispatch(
                    IntakeForm(
                        phone=f"138{rng.randrange(10**8):08d}",
                        town=rng.choice(("SHH", "LS", "CL", "HZ")),
                        description=rng.choice(TEXTS),
                        address="某小区 [b]3[/b] 幢",
                    ),
                    tag,
                )
            elif roll < 0.85:
                row = rng.choice(open_orders)
                self.store.link(row.order_no, IntakeForm(phone=row.phone, town=row.town, description="又打来催促"))
            else:
                self.store.act(rng.choice(open_orders).order_no, Intent(Action.CANCEL, note="报警人撤回"))
        except FengqiaoError:
            pass  # a step another desk made illegal: nothing written

    def sync(self) -> bool:
        """One sync round; False when the server could not be reached (it is being killed or restarted)."""
        from fengqiao.store.sync import SyncError, SyncUnavailable

        try:
            self.client.sync_once()
            return True
        except SyncUnavailable:
            self.counts["failed"] += 1
            return False
        except SyncError as exc:  # token refused, rejected, diverged: never expected here
            self.problems.append(f"{self.name}: {exc}")
            return False

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.rng.random() < 0.6:
                self.write()
            self.sync()
            stop.wait(self.rng.uniform(0.005, 0.03))


class ServerHarness:
    """Kill ``fengqiao server run`` with SIGKILL at random moments while desks push to it; restart it each time."""

    def __init__(self, work: Path, *, seed: int = 7, up_max: float = 0.6, startup_every: int = 4) -> None:
        import socket

        from fengqiao.server.store import ServerStore

        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(seed)
        self.up_max = up_max
        self.startup_every = startup_every  # every n-th kill (the 2nd, the 6th, …) lands in the start-up
        self.db_path = work / "server.db"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        store = ServerStore(str(self.db_path))
        tokens = {
            name: store.add_desk(name, role, dept=dept, prefix=prefix) for name, role, dept, prefix in SERVER_DESKS
        }
        store.close()
        self.desks = [
            _Desk(work, self.url, i, name, role, dept, prefix, tokens[name], self.rng.randrange(1 << 30))
            for i, (name, role, dept, prefix) in enumerate(SERVER_DESKS)
        ]
        self.stats = ServerStats()
        self.server: subprocess.Popen[bytes] | None = None

    # ---- the victim ---------------------------------------------------------------------------------
    def start_server(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "FENGQIAO_CONFIG": str(self.work / "no-config.toml")}
        log = (self.work / "server.log").open("ab")
        try:
            self.server = subprocess.Popen(
                [
                    FENGQIAO,
                    "server",
                    "run",
                    "--port",
                    str(self.port),
                    "--db",
                    str(self.db_path),
                    "--log-level",
                    "warning",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        finally:
            log.close()
        return self.server

    def healthy(self, timeout: float = 60.0) -> float:
        """Wait until the server answers; return how long it took."""
        import httpx

        assert self.server is not None
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.server.poll() is not None:
                raise AssertionError("the server exited: " + (self.work / "server.log").read_text()[-2000:])
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=0.5).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise AssertionError("the server did not start")

    def kill_server(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGKILL)
        self.server.wait(timeout=30)
        self.server = None

    # ---- the run ------------------------------------------------------------------------------------
    def run(self, kills: int) -> ServerStats:
        started = time.monotonic()
        stop = threading.Event()
        threads = [threading.Thread(target=d.loop, args=(stop,), daemon=True) for d in self.desks]
        for th in threads:
            th.start()
        try:
            for i in range(kills):
                self.start_server()
                typical = sorted(self.stats.startup)[len(self.stats.startup) // 2] if self.stats.startup else None
                if typical is not None and i % self.startup_every == 1:
                    time.sleep(self.rng.uniform(0, 0.8 * typical))  # somewhere in its start-up
                    if not self._answers():
                        self.stats.startup_kills += 1
                else:
                    self.stats.startup.append(self.healthy())
                    time.sleep(self.rng.uniform(0, self.up_max))  # in the middle of the desks' pushes and pulls
                self.kill_server()
                self.stats.kills += 1
            self.start_server()  # the last one lives: every desk finishes its sync
            self.healthy()
            time.sleep(0.2)
        finally:
            stop.set()
            for th in threads:
                th.join(timeout=60)
        self.settle()
        self.kill_server()  # and dies the same way: the check reads what a restart would find
        self.stats.seconds = time.monotonic() - started
        self.stats.acked = sum(len(d.acks) for d in self.desks)
        self.stats.duplicates = sum(d.counts["duplicates"] for d in self.desks)
        self.stats.failed_rounds = sum(d.counts["failed"] for d in self.desks)
        return self.stats

    def _answers(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.url}/v1/health", timeout=0.2).status_code == 200
        except httpx.HTTPError:
            return False

    def settle(self, timeout: float = 120.0) -> None:
        """Sync every desk until nothing is waiting and a whole round brings nothing new."""
        end = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:
            assert time.monotonic() < end, "the desks did not converge"
            changed = False
            for d in self.desks:
                before = d.client.log.cursor(), d.client.log.pushed()
                if not d.sync():
                    changed = True
                    time.sleep(0.1)
                    continue
                changed |= (d.client.log.cursor(), d.client.log.pushed()) != before
                changed |= d.client.log.waiting(d.name) > 0
            quiet = 0 if changed else quiet + 1

    # ---- verdict ------------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Everything wrong with the server's file and the desks after the kills (empty: nothing)."""
        problems = [p for d in self.desks for p in d.problems]
        conn = sqlite3.connect(self.db_path)  # opening recovers the WAL as the next server start would
        try:
            integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if integrity != ["ok"]:
                problems.append(f"integrity_check: {integrity[:5]}")
            count, low, high = conn.execute("SELECT count(*), min(seq), max(seq) FROM srv_events").fetchone()
            counter = conn.execute("SELECT value FROM srv_counter WHERE name = 'events'").fetchone()
            if count and (low != 1 or high != count):
                problems.append(f"the global sequence has gaps: {count} events numbered {low}…{high}")
            if counter is None or counter[0] != (high or 0):
                problems.append(f"the counter says {counter} but the last event is number {high}")
            server = {
                r[0]: (r[1], r[2], r[3], r[4])
                for r in conn.execute("SELECT id, seq, desk, desk_seq, hash FROM srv_events")
            }
            twice = conn.execute(
                "SELECT desk, desk_seq, count(*) FROM srv_events GROUP BY desk, desk_seq HAVING count(*) > 1"
            ).fetchall()
            problems += [f"desk {r[0]} event {r[1]} is on the server {r[2]} times" for r in twice]
            heads = dict(conn.execute("SELECT desk, seq FROM srv_desk_heads").fetchall())
            per_desk = dict(conn.execute("SELECT desk, count(*) FROM srv_events GROUP BY desk").fetchall())
        finally:
            conn.close()
        self.stats.events = len(server)
        with self.desks[0].db.read() as c:
            self.stats.conflicts = c.exec_driver_sql(
                "SELECT count(*) FROM event_state WHERE status = 'conflict'"
            ).scalar()
        for d in self.desks:
            for event_id, seq in d.acks.items():
                got = server.get(event_id)
                if got is None:
                    problems.append(f"{d.name}: acknowledged event {event_id} (number {seq}) is not on the server")
                elif got[0] != seq:
                    problems.append(f"{d.name}: event {event_id} was acknowledged as number {seq}, is {got[0]}")
            with d.db.read() as c:
                own = {
                    r[0]: (r[1], r[2])
                    for r in c.exec_driver_sql("SELECT id, desk_seq, hash FROM events WHERE desk = ?", (d.name,))
                }
            if per_desk.get(d.name, 0) != len(own) or heads.get(d.name, 0) != len(own):
                problems.append(
                    f"{d.name}: {len(own)} events of its own, the server has {per_desk.get(d.name, 0)} "
                    f"(head {heads.get(d.name)})"
                )
            for event_id, (desk_seq, digest) in own.items():
                got = server.get(event_id)
                if got is None or got[2:] != (desk_seq, digest):
                    problems.append(f"{d.name}: its event {desk_seq} differs on the server: {got}")
                    break
            if d.client.log.waiting(d.name):
                problems.append(f"{d.name}: {d.client.log.waiting(d.name)} events still waiting after the final sync")
        problems += self._converged()
        return problems

    def _converged(self) -> list[str]:
        """The call-takers hold the same orders, events and states; the department the same for its orders."""
        from fengqiao.store.audit import verify

        problems = []
        tables = []
        for d in self.desks:
            report = verify(d.db)
            problems += [f"{d.name}: {f.message}" for f in report.faults]
            with d.db.read() as c:
                orders = {r[0]: tuple(r) for r in c.exec_driver_sql("SELECT * FROM orders ORDER BY id")}
                assignments = {tuple(r) for r in c.exec_driver_sql("SELECT * FROM assignments")}
                events = {r[0] for r in c.exec_driver_sql("SELECT id FROM events")}
            tables.append((d, orders, assignments, events))
        (a, a_orders, a_asg, a_events), *others = tables
        for d, orders, assignments, events in others:
            if d.desk.role == "department":
                extra = set(orders) - set(a_orders)
                if extra:
                    problems.append(f"{d.name}: orders the call-takers do not have: {sorted(extra)[:3]}")
                for oid in set(orders) & set(a_orders):
                    if orders[oid] != a_orders[oid]:
                        problems.append(f"{d.name} and {a.name} differ on order {oid}: {orders[oid]} / {a_orders[oid]}")
                        break
                if not orders:
                    problems.append(f"{d.name}: the department never received an order")
                continue
            if orders != a_orders:
                diff = [k for k in set(orders) | set(a_orders) if orders.get(k) != a_orders.get(k)]
                problems.append(
                    f"{d.name} and {a.name} differ on {len(diff)} orders, e.g. {orders.get(diff[0])} / "
                    f"{a_orders.get(diff[0])}"
                )
            if assignments != a_asg:
                problems.append(f"{d.name} and {a.name} differ on {len(assignments ^ a_asg)} assignment rows")
            if events != a_events:
                problems.append(f"{d.name} and {a.name} differ on {len(events ^ a_events)} events")
        return problems

    def close(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.kill_server()
        for d in self.desks:
            d.client.transport.close()
            d.db.close()
