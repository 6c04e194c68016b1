"""Crash safety: kill writers with SIGKILL at random moments, then prove nothing acknowledged was lost.

Victims are real processes running the store's write loop (:func:`store.torture.run`), each acknowledging
every committed write (``ORDER_NO EVENTS``) before it goes on:

* ``exec`` victims are the real command line, ``fengqiao --db PATH torture``, started from scratch (the
  first one creates the database, so some kills land in start-up and in the first migration);
* ``fork`` victims run the same function in a process forked from a multiprocessing fork server that has
  already imported the code, so a kill costs milliseconds instead of a ~0.5 s interpreter start-up. The
  process dies the same way (SIGKILL: no handler, no flush, no rollback).

Two victims write at once (separate desks, so two hash chains grow and contend for the write lock). After
the last kill, :meth:`Harness.check` verifies the file (integrity, every desk chain gap-free with its
head, every order equal to the replay of its events, calls consistent: no half-written order) and that
every acknowledged write is present: an order acknowledged with N events has N events, or N+1 when the
victim died between a commit and its acknowledgement.

The same harness will serve the sync server once it exists: give :class:`Harness` a victim kind that starts
``fengqiao serve`` and pushes through the client, acknowledging what the server confirmed, and reuse
:meth:`Harness.check` on the server's database (see ``start_victim``).
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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FENGQIAO = shutil.which("fengqiao", path=str(Path(sys.executable).parent)) or "fengqiao"


def _fork_victim(db_path: str, desk: str, seed: int, ack_path: str) -> None:
    """The body of a forked victim: the same loop as ``fengqiao torture``, acknowledging to a file."""
    from models.roles import Desk
    from store.db import Database
    from store.torture import run

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
    def __init__(self, db_path: Path, work: Path, *, seed: int = 7, parallel: int = 2, exec_every: int = 10,
                 fork_delay: float = 0.12, exec_delay: float = 1.2) -> None:
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
        self._ctx.set_forkserver_preload(["tests.crashkit", "store.torture", "store.db"])

    # ---- victims ------------------------------------------------------------------------------------
    def start_victim(self, slot: int) -> Victim:
        n = self._spawned
        self._spawned += 1
        desk = f"crash-{'AB'[slot % 2]}{slot // 2 or ''}"
        seed = self.rng.randrange(1 << 30)
        now = time.monotonic()
        if n == 0 or (self.exec_every and n % self.exec_every == 0):
            env = {**os.environ, "FENGQIAO_CONFIG": str(self.work / "no-config.toml")}
            proc = subprocess.Popen([FENGQIAO, "--db", str(self.db_path), "torture", "--seed", str(seed),
                                     "--desk", desk], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            return Victim("exec", now, now + self.rng.uniform(0, self.exec_delay), proc)
        ack_path = self.work / f"acks-{n}.txt"
        proc = self._ctx.Process(target=_fork_victim, args=(str(self.db_path), desk, seed, str(ack_path)),
                                 daemon=True)
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
        from store.audit import verify
        from store.db import Database

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
            counts = dict(conn.execute("SELECT o.order_no, count(e.seq) FROM orders o LEFT JOIN events e "
                                       "ON e.order_id = o.id GROUP BY o.id").fetchall())
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
