"""Screen-pop into the running console: from ``fengqiao pop PHONE`` being started to the number on screen.

A console runs in this process (Textual headless, 80x24, listening on its store's socket as a live console
does); each round empties its form, starts ``fengqiao --db DB pop NUMBER`` as the telephony system would
(a new process), and waits for the number to be in the intake form's phone field. Goal: ≤ 100 ms.

Floor: the plainest way to do the same, a bare ``python -I -S`` process that connects to the socket and
writes the line, to the same number on screen. The note adds the hand-over alone (connect and write from a
thread of this process, no process start).
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fengqiao.console.app import FengqiaoApp
from fengqiao.console.popsock import send_pop, socket_path
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import make_desk
from fengqiao.store.db import Database

from .common import Context, Row

FENGQIAO = shutil.which("fengqiao", path=str(Path(sys.executable).parent)) or "fengqiao"
PLAIN = (
    "import socket,sys;s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1]);"
    "s.sendall(b'POP '+sys.argv[2].encode()+b'\\n');s.recv(16)"
)


async def _rounds(db_path: Path, rounds: int) -> dict[str, list[float]]:
    ref = default_reference()
    db = Database(db_path)
    app = FengqiaoApp(db=db, desk=make_desk(ref, "110-1", "call_taker"), ref=ref, watch_store=False, listen=True)
    path = socket_path(db.path)
    times: dict[str, list[float]] = {"pop": [], "plain": [], "handover": []}
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            while app.pops is None:
                await pilot.pause(0.01)
            screen = app.intake
            assert screen is not None
            phone_field = screen.query_one("#phone")
            for i in range(rounds):
                for kind in ("pop", "plain", "handover"):
                    screen.clear_form()
                    await pilot.pause()
                    number = f"1390000{i:02d}{len(kind):02d}"
                    started = time.perf_counter()
                    if kind == "pop":
                        proc = subprocess.Popen([FENGQIAO, "--db", str(db.path), "pop", number])
                    elif kind == "plain":
                        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", PLAIN, str(path), number])
                    else:
                        proc = None
                        task = asyncio.create_task(asyncio.to_thread(send_pop, path, number))
                    while phone_field.value != number:  # type: ignore[attr-defined]
                        await asyncio.sleep(0.0005)
                    times[kind].append((time.perf_counter() - started) * 1000)
                    if proc is not None:
                        await asyncio.to_thread(proc.wait)
                    else:
                        await task
    finally:
        db.close()
    return times


def bench(ctx: Context) -> list[Row]:
    work = ctx.scratch("pop")
    work.mkdir(parents=True)
    times = asyncio.run(_rounds(work / "desk.db", 5 if ctx.quick else 20))
    pop, plain, handover = (statistics.median(times[k]) for k in ("pop", "plain", "handover"))
    return [
        Row(
            "intake",
            "screen-pop: `fengqiao pop` started → number on the running console's form (median)",
            pop,
            "ms",
            floor=plain,
            note=f"goal ≤ 100 ms {'PASS' if pop <= 100 else 'MISS'}; floor: bare `python -I -S` writing to the "
            f"socket; hand-over alone (no process start) {handover:.1f} ms; max {max(times['pop']):.0f} ms",
        )
    ]
