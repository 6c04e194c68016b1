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

from fengqiao.store.audit import verify
from fengqiao.store.backup import backup, restore
from fengqiao.store.db import Database
from tests.crashkit import FENGQIAO, TORTURE, Harness, ServerHarness

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
        Row(
            "crash",
            f"{stats.kills:,} SIGKILLs ({stats.exec_kills} of `python -m tests.torture`, 2 at once)",
            stats.seconds,
            "s",
            note="PASS" if not problems else f"FAIL: {problems[:3]}",
        ),
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
        Row(
            "crash",
            f"{sstats.kills} SIGKILLs of `fengqiao server run` ({sstats.startup_kills} in start-up), "
            "3 desks pushing and pulling",
            sstats.seconds,
            "s",
            note="PASS" if not sproblems else f"FAIL: {sproblems[:3]}",
        ),
        Row(
            "crash",
            "server: time per kill (start-up ~1 s, up to 0.6 s of pushes, kill)",
            sstats.seconds / max(sstats.kills, 1) * 1000,
            "ms",
        ),
        Row(
            "crash",
            "server: acknowledged events / answered as duplicates after a kill",
            f"{sstats.acked:,} / {sstats.duplicates}",
            note=f"{sstats.conflicts} conflicts; {sstats.failed_rounds:,} sync rounds found it down",
        ),
        Row("crash", "server verdict (integrity, numbering, acks, desks converged)", sverdict, "s"),
    ]
    probe = work / "probe.db"
    Database(probe).close()
    rows.append(
        Row(
            "crash",
            "process start-up: `python -m tests.torture --count 1`",
            _median_run([*TORTURE, "--db", str(probe), "--count", "1"], 7),
            "ms",
            _median_run([sys.executable, "-c", "pass"], 7),
            note="floor: a bare `python -c pass`",
        )
    )
    rows.append(Row("crash", "process start-up: `fengqiao --help`", _median_run([FENGQIAO, "--help"], 7), "ms"))

    n = 10_000 if ctx.quick else 100_000
    source = ctx.demo_db(n)
    live = ctx.scratch(f"audit-{n}.db")
    shutil.copyfile(source, live)
    size = live.stat().st_size / 1e6
    db = Database(live)
    stale = _replay_projection(db)  # the shared demo base was built before the first-overdue rule
    if stale:
        rows.append(
            Row(
                "audit",
                f"demo base: projection of {n:,} orders replayed first (built by older code)",
                stale[1],
                "s",
                note=f"{stale[0]:,} orders had older first-overdue moments",
            )
        )
    try:
        dest = ctx.scratch(f"backup-{n}.db")
        result = backup(db, dest)
        floor_dest = ctx.scratch(f"copy-{n}.db")
        started = time.perf_counter()
        shutil.copyfile(live, floor_dest)
        copy_s = time.perf_counter() - started
        rows.append(
            Row(
                "audit",
                f"backup of {n:,} orders ({size:,.0f} MB, online API, checked)",
                result.seconds,
                "s",
                copy_s,
                note="floor: plain file copy",
            )
        )
        started = time.perf_counter()
        report = verify(db, projection=False)
        quick_s = time.perf_counter() - started
        floor = _bare_read(live)
        rows.append(
            Row(
                "audit",
                f"check --quick: {report.events:,} event hashes and chains",
                quick_s,
                "s",
                floor,
                note="floor: read every event row",
            )
        )
        started = time.perf_counter()
        report = verify(db)
        rows.append(
            Row(
                "audit",
                f"check: plus replay of {report.orders:,} orders",
                time.perf_counter() - started,
                "s",
                note="PASS" if report.ok else "FAULTS",
            )
        )
    finally:
        db.close()
    target = ctx.scratch(f"restored-{n}.db")
    started = time.perf_counter()
    restore(target, dest)
    rows.append(
        Row(
            "audit",
            f"restore of {n:,} orders (backup checked and replayed first)",
            time.perf_counter() - started,
            "s",
            copy_s,
            note="floor: plain file copy",
        )
    )
    for p in (dest, floor_dest, target, live):
        for extra in (p, Path(str(p) + "-wal"), Path(str(p) + "-shm")):
            extra.unlink(missing_ok=True)
    return rows


def _bare_read(path: Path) -> float:
    conn = sqlite3.connect(path)
    started = time.perf_counter()
    for _ in conn.execute(
        "SELECT id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, "
        "payload, prev_hash, hash FROM events ORDER BY desk, desk_seq"
    ):
        pass
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def _replay_projection(db: Database) -> tuple[int, float] | None:
    """Bring the projection of a database written by an older version up to the current replay rules.

    The shared demo bases in /work/.bench-base predate the rule that any event after a missed deadline records
    the first overdue moment (board), so `check` and `restore` would find their rows differ from the replay.
    Returns (orders that differed, seconds), or None when nothing differed.
    """
    from fengqiao.models.machine import replay
    from fengqiao.store.audit import verify
    from fengqiao.store.projection import (
        UPSERT_ASSIGNMENT,
        UPSERT_ORDER,
        assignment_tuples,
        load_events_of,
        order_tuple,
    )

    report = verify(db)
    stale = sorted({f.order_no for f in report.faults if f.log == "orders" and f.order_no})
    if not stale:
        return None
    started = time.perf_counter()
    with db.write() as conn:
        for i in range(0, len(stale), 400):
            chunk = stale[i : i + 400]
            marks = ", ".join("?" for _ in chunk)
            ids = [
                r[0] for r in conn.exec_driver_sql(f"SELECT id FROM orders WHERE order_no IN ({marks})", tuple(chunk))
            ]
            states = [replay(events).state for events in load_events_of(conn, ids).values()]
            conn.exec_driver_sql(
                f"DELETE FROM assignments WHERE order_id IN ({', '.join('?' for _ in ids)})", tuple(ids)
            )
            conn.exec_driver_sql(UPSERT_ORDER, [order_tuple(st) for st in states if st is not None])
            conn.exec_driver_sql(
                UPSERT_ASSIGNMENT, [row for st in states if st is not None for row in assignment_tuples(st)]
            )
    return len(stale), time.perf_counter() - started
