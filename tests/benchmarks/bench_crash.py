"""Crash safety and the audit tools at size: 2,000 SIGKILLs of writers, 100 of the sync server, process start-up,
backup/restore/check of the 100k-order demo database beside the plainest way to do the same (a file copy, bare
reads)."""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from store.audit import verify
from store.backup import backup, restore
from store.db import Database
from tests.crashkit import FENGQIAO, Harness, ServerHarness

from .common import Context, Row


def _median_run(argv: list[str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def bench(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    kills = 200 if ctx.quick else 2000
    work = ctx.scratch("crash")
    work.mkdir(parents=True)
    harness = Harness(work / "crash.db", work, seed=2026)
    stats = harness.run(kills)
    started = time.perf_counter()
    problems = harness.check()
    verdict = time.perf_counter() - started
    rows += [
        Row("crash", f"{stats.kills:,} SIGKILLs ({stats.exec_kills} of `fengqiao torture`, 2 at once)",
            stats.seconds, "s", note="PASS" if not problems else f"FAIL: {problems[:3]}"),
        Row("crash", "time per kill (start, write, kill, reap)", stats.seconds / stats.kills * 1000, "ms"),
        Row("crash", "acknowledged writes / orders", f"{stats.acked_writes:,} / {stats.acked_orders:,}"),
        Row("crash", "commits made but not yet acknowledged at the kill", stats.unacked_commits),
        Row("crash", "verdict (integrity, chains, replay, acks)", verdict, "s"),
    ]
    server_kills = 10 if ctx.quick else 100
    server = ServerHarness(work / "server", seed=2026)
    try:
        sstats = server.run(server_kills)
        started = time.perf_counter()
        sproblems = server.check()
        sverdict = time.perf_counter() - started
    finally:
        server.close()
    rows += [
        Row("crash", f"{sstats.kills} SIGKILLs of `fengqiao server run` ({sstats.startup_kills} in start-up), "
                     "3 desks pushing and pulling", sstats.seconds, "s",
            note="PASS" if not sproblems else f"FAIL: {sproblems[:3]}"),
        Row("crash", "server: time per kill (start-up ~1 s, up to 0.6 s of pushes, kill)",
            sstats.seconds / max(sstats.kills, 1) * 1000, "ms"),
        Row("crash", "server: acknowledged events / answered as duplicates after a kill",
            f"{sstats.acked:,} / {sstats.duplicates}", note=f"{sstats.conflicts} conflicts; "
                                                          f"{sstats.failed_rounds:,} sync rounds found it down"),
        Row("crash", "server verdict (integrity, numbering, acks, desks converged)", sverdict, "s"),
    ]
    probe = work / "probe.db"
    Database(probe).close()
    rows.append(Row("crash", "process start-up: `fengqiao torture --count 1`",
                    _median_run([FENGQIAO, "--db", str(probe), "torture", "--count", "1"], 7), "ms",
                    _median_run([sys.executable, "-c", "pass"], 7), note="floor: a bare `python -c pass`"))
    rows.append(Row("crash", "process start-up: `fengqiao --help`",
                    _median_run([FENGQIAO, "--help"], 7), "ms"))

    n = 10_000 if ctx.quick else 100_000
    source = ctx.demo_db(n)
    live = ctx.scratch(f"audit-{n}.db")
    shutil.copyfile(source, live)
    size = live.stat().st_size / 1e6
    db = Database(live)
    try:
        dest = ctx.scratch(f"backup-{n}.db")
        result = backup(db, dest)
        floor_dest = ctx.scratch(f"copy-{n}.db")
        started = time.perf_counter()
        shutil.copyfile(live, floor_dest)
        copy_s = time.perf_counter() - started
        rows.append(Row("audit", f"backup of {n:,} orders ({size:,.0f} MB, online API, checked)", result.seconds, "s",
                        copy_s, note="floor: plain file copy"))
        started = time.perf_counter()
        report = verify(db, projection=False)
        quick_s = time.perf_counter() - started
        floor = _bare_read(live)
        rows.append(Row("audit", f"check --quick: {report.events:,} event hashes and chains", quick_s, "s", floor,
                        note="floor: read every event row"))
        started = time.perf_counter()
        report = verify(db)
        rows.append(Row("audit", f"check: plus replay of {report.orders:,} orders", time.perf_counter() - started,
                        "s", note="PASS" if report.ok else "FAULTS"))
    finally:
        db.close()
    target = ctx.scratch(f"restored-{n}.db")
    started = time.perf_counter()
    restore(target, dest)
    rows.append(Row("audit", f"restore of {n:,} orders (backup checked and replayed first)",
                    time.perf_counter() - started, "s", copy_s, note="floor: plain file copy"))
    for p in (dest, floor_dest, target, live):
        for extra in (p, Path(str(p) + "-wal"), Path(str(p) + "-shm")):
            extra.unlink(missing_ok=True)
    return rows


def _bare_read(path: Path) -> float:
    conn = sqlite3.connect(path)
    started = time.perf_counter()
    for _ in conn.execute("SELECT id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, "
                          "payload, prev_hash, hash FROM events ORDER BY desk, desk_seq"):
        pass
    seconds = time.perf_counter() - started
    conn.close()
    return seconds
