"""First paint of the console (issue 18): from the command being started to the first frame that shows its text.

Each command is started as a terminal would start it: a new process on a pseudo-terminal of 100x30 (``TERM``
xterm-256color, a fresh ``HOME``/XDG folder with no config, the store given by ``--db``, already created). What the
process writes to the terminal is read as it comes, escape sequences taken out, until the text appears; then the
process is terminated. Timed:

* ``fengqiao run --caller 13857512345`` until the number shows in the intake's phone field;
* ``fengqiao dashboard`` until the cockpit shows its figures (the 考核指标 heading of the loaded KPI table);
* ``fengqiao dashboard`` again, until the whole cockpit is drawn (the 部门在办 title of its department table, mounted
  just after the first frame);
* the floor, measured the same way: ``python paint_floor.py TEXT``, a bare Textual app with a Header, an Input
  holding TEXT and a Footer (tests/benchmarks/paint_floor.py), until TEXT shows.

Goal: ≤ 1.3× the floor. Median of several rounds, run interleaved so machine load touches all alike.

Memory: a console process (Textual's headless driver, 100x30) on the 100k-order demo store, and on the largest size
asked for (1M in a full run, whose board bench makes that store), opens the intake, then the board (F6) and the
cockpit (F7), each until its rows/figures are drawn; its RSS (VmRSS) and peak (VmHWM) then.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
import tty
from fcntl import ioctl
from pathlib import Path

from .common import Context, Row

HERE = Path(__file__).resolve().parent
FENGQIAO = shutil.which("fengqiao", path=str(Path(sys.executable).parent)) or "fengqiao"
NUMBER = "13857512345"
COCKPIT_TEXT = "考核指标"
DEPTS_TEXT = "部门在办"  # the department table's title: the cockpit whole (its tables are mounted after the figures)
GOAL = 1.3
SIZE = (30, 100)  # rows, columns
# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte escapes.
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def paint_time(
    argv: list[str], text: str, env: dict[str, str], *, first: tuple[str, str] | None = None, timeout: float = 30.0
) -> tuple[float, float]:
    """Milliseconds from starting ``argv`` on a pseudo-terminal to ``text`` in what it has drawn (twice); with
    ``first`` (a text, and keys to type when it shows, ``|`` between presses): to that first text, and from the
    last key typed to ``text``."""
    master, slave = pty.openpty()
    ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[0], SIZE[1], 0, 0))
    tty.setraw(slave)  # as the program will set it: Enter arrives as CR, not translated
    needle = text.encode()
    waiting = first[0].encode() if first else None
    seen = b""
    first_at: float | None = None
    started = typed = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    try:
        while True:
            left = timeout - (time.perf_counter() - started)
            if left <= 0:
                raise TimeoutError(f"{argv[1:]}: {text!r} not drawn in {timeout} s; last output {seen[-400:]!r}")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the process has gone and closed the terminal
                raise RuntimeError(f"{argv[1:]} ended before drawing {text!r}: {seen[-400:]!r}") from None
            seen += chunk
            drawn = _ESCAPES.sub(b"", seen)
            if waiting is not None and first is not None and waiting in drawn:
                first_at = (time.perf_counter() - started) * 1000
                waiting = None
                seen = b""
                for piece in first[1].split("|"):
                    time.sleep(TYPING_GAP)
                    os.write(master, piece.encode())
                typed = time.perf_counter()
            elif waiting is None and needle in drawn:
                done = (time.perf_counter() - typed) * 1000
                return (first_at if first_at is not None else done), done
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _drain(master)
        os.close(master)


def _drain(fd: int) -> None:
    while select.select([fd], [], [], 0)[0]:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def clean_env(home: Path) -> dict[str, str]:
    # A terminal's environment: also without PYTHONDONTWRITEBYTECODE (set in some shells that run the bench), which
    # made every round compile the project's modules again while the floor's Textual had its bytecode from pip;
    # the warm-up round writes it, as the first start of an install does.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FENGQIAO_", "XDG_", "TEXTUAL"))
        and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        TERM="xterm-256color",
        COLORTERM="truecolor",
        LANG="C.UTF-8",
    )
    return env


SIGN_IN_TEXT = "上岗签到"  # the sign-in form the console shows first (nothing else is drawn until someone signs in)
SIGN_IN_KEYS = "zhang|\r|1024|\r"  # name, Enter, staff number, Enter: typed when the form shows
TYPING_GAP = 0.2  # seconds before each press (a person's pace: the focus moves to the next field in between)


def first_paint(rounds: int) -> dict[str, list[float]]:
    """Per command, the milliseconds of each round; ``run`` also ``sign-in`` (to the sign-in form drawn)."""
    times: dict[str, list[float]] = {"sign-in": [], "run": [], "dashboard": [], "dashboard-whole": [], "floor": []}
    with tempfile.TemporaryDirectory(prefix="fq-paint-") as tmp:
        home = Path(tmp)
        env = clean_env(home)
        fresh = home / "fresh.db"
        db = home / "desk.db"
        subprocess.run([FENGQIAO, "--db", str(fresh), "init"], env=env, check=True, capture_output=True)
        commands = {
            "run": ([FENGQIAO, "--db", str(db), "run", "--caller", NUMBER], NUMBER, (SIGN_IN_TEXT, SIGN_IN_KEYS)),
            "dashboard": ([FENGQIAO, "--db", str(db), "dashboard"], COCKPIT_TEXT, None),
            "dashboard-whole": ([FENGQIAO, "--db", str(db), "dashboard"], DEPTS_TEXT, None),
            "floor": ([sys.executable, str(HERE / "paint_floor.py"), NUMBER], NUMBER, None),
        }
        for warm in (True, *([False] * rounds)):  # one round to warm the file cache and the bytecode
            for name, (argv, text, first) in commands.items():
                for p in home.glob("desk.db*"):
                    p.unlink()
                shutil.copyfile(fresh, db)  # every round on the same new store (no draft, no operator yet)
                shown, done = paint_time(argv, text, env, first=first)
                if warm:
                    continue
                times[name].append(done)
                if first is not None:
                    times["sign-in"].append(shown)
    return times


MEMORY_SCRIPT = r"""
import asyncio, sys
from fengqiao.console.app import FengqiaoApp, desk_context
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import make_desk
from fengqiao.store.db import Database

def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

async def main():
    ref = default_reference()
    db = Database(sys.argv[1])
    desk = make_desk(ref, "110-1", "call_taker")
    app = FengqiaoApp(desk_context(db, desk, ref=ref, lang="zh"), watch_store=False, listen=False)
    out = {}
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        out["start"] = rss()
        for key, mode in (("f6", "board"), ("f7", "cockpit")):
            app.switch_mode(mode)
            for _ in range(600):
                await pilot.pause(0.05)
                await app.workers.wait_for_complete()
                if mode == "board" and app.screen.query("DataTable") and app.screen.query_one("DataTable").row_count:
                    break
                if mode == "cockpit" and getattr(app.screen, "_live", None) is not None:
                    break
            await pilot.pause(0.3)
            out[mode] = rss()
    db.close()
    print(out)

asyncio.run(main())
"""


def memory(db: Path) -> dict[str, tuple[int, int]]:
    import ast

    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(db)], capture_output=True, text=True, check=True, timeout=600
    )
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def bench(ctx: Context) -> list[Row]:
    times = first_paint(3 if ctx.quick else 7)
    floor = statistics.median(times["floor"])
    rows = []
    for name, what in (
        ("sign-in", "first paint: `fengqiao run --caller N` → its first frame (the sign-in form)"),
        ("dashboard", "first paint: `fengqiao dashboard` → the cockpit's KPI figures"),
    ):
        value = statistics.median(times[name])
        rows.append(
            Row(
                "paint",
                what,
                value,
                "ms",
                floor=floor,
                note=f"goal ≤ {GOAL}× {'PASS' if value <= GOAL * floor else 'MISS'}; median of {len(times[name])}, "
                f"min {min(times[name]):.0f}, max {max(times[name]):.0f} ms; floor: bare Textual app (Header, Input, "
                f"Footer) in the same pty, min {min(times['floor']):.0f} ms",
            )
        )
    whole = times["dashboard-whole"]
    rows.append(
        Row(
            "paint",
            "`fengqiao dashboard` → the whole cockpit (its department table drawn)",
            statistics.median(whole),
            "ms",
            floor=floor,
            note=f"median of {len(whole)}, max {max(whole):.0f} ms; the tables are mounted after the first frame",
        )
    )
    after = times["run"]
    rows.append(
        Row(
            "paint",
            "`fengqiao run --caller N`: the sign-in's last Enter → the number in the phone field",
            statistics.median(after),
            "ms",
            note=f"median of {len(after)}, max {max(after):.0f} ms; the intake is ready under the sign-in form",
        )
    )
    # 100k as before, and the largest size asked for (1M in a full `make bench`, whose board bench makes that store)
    sizes = [10_000] if ctx.quick else sorted({100_000, max(ctx.sizes)})
    for size in sizes:
        work = ctx.scratch("paint-mem.db")
        shutil.copyfile(ctx.demo_db(size), work)
        mem = memory(work)
        work.unlink()
        for stage, what in (
            ("start", "console RSS at start (the intake, a call-taker desk)"),
            ("board", "console RSS after opening the board"),
            ("cockpit", "console RSS after opening board and cockpit"),
        ):
            rss, peak = mem[stage]
            rows.append(
                Row(
                    "paint",
                    f"{what}, {size:,}-order demo store",
                    rss / 1024,
                    "MiB",
                    note=f"peak so far {peak / 1024:.0f} MiB",
                )
            )
    return rows
