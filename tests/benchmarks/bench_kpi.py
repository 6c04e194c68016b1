"""KPI tables and the cockpit on big stores, each beside a bare SQLite aggregate over the same rows (the floor);
and the bytes an idle cockpit writes to its terminal.

* ``kpi table, 30 days`` — ``KpiStore.table`` for the last 30 days (rates, counts, medians and p90s, score,
  ranking). Floor: one bare ``count``/``sum`` of the same orders joined to their assignments, grouped the same way.
* ``cockpit live`` — what the cockpit recomputes on every store change (today's counts, open work by
  department, feedback status, frequent callers and addresses, today's KPI counts). Floor: a bare count of
  the open orders by status and of today's calls.
* ``cockpit trend`` — per-day counts of the 60 days before today and the 30-day ranking (every 5 minutes).
  Floor: a bare per-day count of the same orders and assignments.
* ``idle cockpit`` — ``fengqiao dashboard`` run under a pseudo-terminal (80x24); after it has drawn, the bytes
  it writes in the next N seconds (the header clock redraws once a minute; nothing else should).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from fengqiao.models.clock import to_db
from fengqiao.models.kpi import last_days, local_date
from fengqiao.store.db import Database
from fengqiao.store.kpi import KpiStore

from .common import ROOT, Context, Row, timed


def _floor_table(path: Path, start: str, end: str, key: str) -> float:
    conn = sqlite3.connect(path)
    sql = (
        f"SELECT {key}, count(*), sum(a.signed_at <= a.sign_due), sum(o.result = 'resolved') "
        "FROM orders o JOIN assignments a ON a.order_id = o.id WHERE o.call_at >= ? AND o.call_at < ? GROUP BY 1"
    )
    try:
        return timed(lambda: conn.execute(sql, (start, end)).fetchall())
    finally:
        conn.close()


def _floor_live(path: Path, day: str, week: str, now: str) -> float:
    """The same picture the plainest way: bare counts and groupings, one query each, no rules."""
    conn = sqlite3.connect(path)

    def run() -> None:
        conn.execute(
            "SELECT status, count(*) FROM orders WHERE status IN ('dispatched', 'signed', 'arrived', "
            "'returned', 'fed_back', 'visited') GROUP BY status"
        ).fetchall()
        conn.execute("SELECT count(*) FROM calls WHERE received_at >= ?", (day,)).fetchall()
        conn.execute("SELECT count(*) FROM orders WHERE call_at >= ?", (day,)).fetchall()
        conn.execute(
            "SELECT a.assignee, count(*) FROM orders o JOIN assignments a ON a.order_id = o.id "
            "WHERE o.status IN ('dispatched', 'signed', 'arrived', 'returned') GROUP BY 1"
        ).fetchall()
        conn.execute(
            "SELECT a.assignee, count(*), sum(a.signed_at <= a.sign_due) FROM orders o "
            "JOIN assignments a ON a.order_id = o.id WHERE o.call_at >= ? AND o.call_at < ? GROUP BY 1",
            (day, now),
        ).fetchall()
        conn.execute(
            "SELECT phone, count(*) FROM calls WHERE received_at >= ? AND received_at < ? "
            "GROUP BY phone HAVING count(*) >= 3",
            (week, now),
        ).fetchall()

    try:
        return timed(run)
    finally:
        conn.close()


def _floor_trend(path: Path, start: str, end: str) -> float:
    conn = sqlite3.connect(path)
    sql = (
        "SELECT date(o.call_at, '+480 minutes'), count(*), sum(a.signed_at <= a.sign_due) FROM orders o "
        "JOIN assignments a ON a.order_id = o.id WHERE o.call_at >= ? AND o.call_at < ? GROUP BY 1"
    )
    try:
        return timed(lambda: conn.execute(sql, (start, end)).fetchall(), repeat=3)
    finally:
        conn.close()


def idle_bytes(
    db: Path,
    seconds: float,
    size: tuple[int, int] = (80, 24),
    quiet: float = 10.0,
    shortest: float = 15.0,
    longest: float = 90.0,
    dump: Path | None = None,
    extra: tuple[str, ...] = (),
) -> tuple[float, int]:
    """Run ``fengqiao dashboard`` in a pseudo-terminal; return (idle bytes per second, bytes of the first paint).

    The first paint ends when nothing has been written for ``quiet`` seconds, and not before ``shortest`` (the
    trend of a big store takes a few seconds in its worker); then every byte written in the next ``seconds``
    seconds counts as idle output.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "FENGQIAO_CONFIG": str(db.with_suffix(".no-config.toml")),
    }
    env.pop("NO_COLOR", None)
    exe = Path(sys.executable).with_name("fengqiao")
    proc = subprocess.Popen(
        [str(exe), "--db", str(db), "dashboard", "--desk", "bench", "--role", "supervisor", *extra],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    counts = {"paint": 0, "idle": 0}
    phase = "paint"
    started = last_output = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            settled = now - last_output >= quiet and now - started >= shortest
            if phase == "paint" and (settled or now - started >= longest):
                phase, idle_start = "idle", now
            if phase == "idle" and now - idle_start >= seconds:
                break
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                counts[phase] += len(data)
                last_output = time.monotonic()
                if dump is not None and phase == "idle":
                    with dump.open("ab") as fh:  # what an idle cockpit writes, for a look with `cat -v`
                        fh.write(f"\n--- {last_output - started:.2f} s, {len(data)} B\n".encode() + data)
    finally:
        try:
            os.write(master, b"\x11")  # ctrl+q
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        os.close(master)
    return counts["idle"] / seconds, counts["paint"]


def _same(a: Any, b: Any) -> None:
    """The rollup-based table and the raw one hold the same figures (the bench refuses to time a wrong answer)."""
    ja, jb = a.to_json(), b.to_json()
    ja.pop("generated_at"), jb.pop("generated_at")
    if ja != jb:
        raise AssertionError("KPIs from the rollups differ from the raw computation")


def _kpi_json(path: Path, month: Any) -> float:
    """`fengqiao kpi --json` (30 days, by department) as a whole command: best of 3."""
    env = {**os.environ, "FENGQIAO_CONFIG": str(path.with_suffix(".no-config.toml"))}
    exe = str(Path(sys.executable).with_name("fengqiao"))
    cmd = [exe, "--db", str(path), "kpi", "--from", month.first.isoformat(), "--to", month.last.isoformat(), "--json"]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=ROOT)
        best = min(best, time.perf_counter() - started)
    return best


def rollup_rows(ctx: Context) -> list[Row]:
    """Issue 18's KPI figures: `kpi --json` at the smallest and largest size and their ratio (goal ≤ 2×), and
    the 365-day table at the largest size (goal ≤ 1.5 s); floors: the raw computation from the projection."""
    rows: list[Row] = []
    clock = ctx.clock()
    today = local_date(clock())
    month, year = last_days(today, 30), last_days(today, 365)
    sizes = sorted({ctx.sizes[0], ctx.sizes[-1]})
    whole: dict[int, float] = {}
    for n in sizes:
        path = ctx.demo_db(n)
        db = Database(path)
        rolled, plain = KpiStore(db, clock=clock), KpiStore(db, clock=clock, rollups=False)
        _same(rolled.table(month, "department"), plain.table(month, "department"))
        value = timed(lambda: rolled.table(month, "department"), repeat=3)
        floor = timed(lambda: plain.table(month, "department"), repeat=1)
        rows.append(
            Row(
                "kpi",
                f"{n:,} orders: kpi table from rollups, 30 days, by department",
                value,
                "ms",
                floor,
                note="floor: the raw computation (same figures, checked)",
            )
        )
        whole[n] = _kpi_json(path, month)
        rows.append(
            Row(
                "kpi",
                f"{n:,} orders: `fengqiao kpi --json`, 30 days, by department",
                whole[n],
                "s",
                note="whole command, best of 3",
            )
        )
        db.close()
    small, big = sizes[0], sizes[-1]
    if big != small:
        rows.append(
            Row("kpi", f"`kpi --json` {big:,} vs {small:,} orders", whole[big], "s", whole[small], note="goal ≤ 2×")
        )
    db = Database(ctx.demo_db(big))
    rolled, plain = KpiStore(db, clock=clock), KpiStore(db, clock=clock, rollups=False)
    raw_started = time.perf_counter()
    raw_year = plain.table(year, "department")
    raw_seconds = time.perf_counter() - raw_started
    _same(rolled.table(year, "department"), raw_year)
    value = timed(lambda: rolled.table(year, "department"), repeat=3)
    rows.append(
        Row(
            "kpi",
            f"{big:,} orders: kpi table from rollups, 365 days, by department",
            value / 1000,
            "s",
            raw_seconds,
            note="goal ≤ 1.5 s; floor: the raw computation (same figures, checked)",
        )
    )
    db.close()
    return rows


def bench(ctx: Context) -> list[Row]:
    rows: list[Row] = rollup_rows(ctx)
    clock = ctx.clock()
    today = local_date(clock())
    month = last_days(today, 30)
    for n in ctx.sizes:
        path = ctx.demo_db(n)
        db = Database(path)
        kpi = KpiStore(db, clock=clock)
        label = f"{n:,} orders"
        start, end = to_db(month.start), to_db(month.end)
        for by, key in (("department", "a.assignee"), ("town", "o.town")):
            value = timed(lambda by=by: kpi.table(month, by), repeat=3)
            rows.append(
                Row(
                    "kpi",
                    f"{label}: kpi table, 30 days, by {by}",
                    value,
                    "ms",
                    _floor_table(path, start, end, key),
                    note="floor: bare join count/sum",
                )
            )
        value = timed(kpi.live)
        rows.append(
            Row(
                "kpi",
                f"{label}: cockpit live refresh",
                value,
                "ms",
                _floor_live(path, to_db(last_days(today, 1).start), to_db(clock() - timedelta(days=7)), to_db(clock())),
                note="repeat refresh (callers kept until a call comes); floor: bare counts",
            )
        )
        value = timed(lambda: KpiStore(db, clock=clock).live(), repeat=3)
        rows.append(Row("kpi", f"{label}: cockpit live, first time", value, "ms", note="frequent callers recomputed"))
        value = timed(kpi.trend, repeat=3)
        past = last_days(today - timedelta(days=1), 60)
        rows.append(
            Row(
                "kpi",
                f"{label}: cockpit trend (60 days + 30-day ranking)",
                value,
                "ms",
                _floor_trend(path, to_db(past.start), to_db(past.end)),
                note="every 5 min, in a worker; floor: bare per-day count",
            )
        )
        db.close()
    big = ctx.demo_db(ctx.sizes[-1])
    db = Database(big)
    year = last_days(today, 365)
    value = timed(lambda: KpiStore(db, clock=clock).table(year, "department"), repeat=1)
    rows.append(
        Row(
            "kpi",
            f"{ctx.sizes[-1]:,} orders: kpi table, 365 days, by department",
            value / 1000,
            "s",
            _floor_table(big, to_db(year.start), to_db(year.end), "a.assignee") / 1000,
            note="the year-end review window",
        )
    )
    db.close()
    env = {**os.environ, "FENGQIAO_CONFIG": str(big.with_suffix(".no-config.toml"))}
    exe = str(Path(sys.executable).with_name("fengqiao"))
    started = time.perf_counter()
    subprocess.run(
        [exe, "--db", str(big), "kpi", "--from", month.first.isoformat(), "--to", month.last.isoformat(), "--json"],
        check=True,
        capture_output=True,
        env=env,
        cwd=ROOT,
    )
    rows.append(
        Row(
            "kpi",
            f"{ctx.sizes[-1]:,} orders: `fengqiao kpi --json` (whole command)",
            time.perf_counter() - started,
            "s",
            note="process start and imports included",
        )
    )
    target = ctx.scratch("report.xlsx")
    started = time.perf_counter()
    subprocess.run(
        [
            exe,
            "--db",
            str(big),
            "report",
            "--from",
            month.first.isoformat(),
            "--to",
            month.last.isoformat(),
            "--format",
            "xlsx",
            "-o",
            str(target),
        ],
        check=True,
        capture_output=True,
        env=env,
        cwd=ROOT,
    )
    rows.append(
        Row(
            "kpi",
            f"{ctx.sizes[-1]:,} orders: `fengqiao report --format xlsx`, 30 days",
            time.perf_counter() - started,
            "s",
            note="3 views + frequent callers/addresses",
        )
    )
    seconds = 20.0 if ctx.quick else 65.0
    per_second, paint = idle_bytes(big, seconds, dump=ctx.scratch("idle-output.txt"))
    rows.append(
        Row(
            "kpi",
            f"idle cockpit (dashboard, 80x24, {seconds:.0f} s)",
            per_second,
            "B/s",
            note=f"first paint {paint:,} B; clock redraws once a minute",
        )
    )
    per_second, paint = idle_bytes(big, seconds, extra=("--unmasked",))
    rows.append(
        Row(
            "kpi",
            f"idle cockpit, full numbers (dashboard --unmasked, {seconds:.0f} s)",
            per_second,
            "B/s",
            note=f"first paint {paint:,} B; numbers recorded once, not per refresh",
        )
    )
    return rows
