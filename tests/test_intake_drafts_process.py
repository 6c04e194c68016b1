"""The draft against a real console process in a pseudo-terminal: SIGKILL while typing, SIGHUP (a closed SSH
session). Keys go in as a terminal would deliver them; the store is then read from outside.

No speed is asserted: the waits only bound how long the test tolerates a slow machine.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fengqiao.models.intake import Draft
from fengqiao.store.db import Database
from fengqiao.store.drafts import load_draft

from .crashkit import FENGQIAO

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals and signals are POSIX")
PATIENCE = 60.0  # seconds a slow, shared machine may take for a start-up or a save


class Console:
    """``fengqiao run`` on a pseudo-terminal of 100x30."""

    def __init__(self, db: Path, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(
            [FENGQIAO, "--db", str(db), "run", "--desk", "110-1", "--role", "call_taker"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = b""

    def read(self) -> None:
        import select

        while select.select([self.master], [], [], 0.05)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.seen += chunk

    def wait_for(self, what: Callable[[], bool], label: str) -> None:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            self.read()
            if what():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"console exited ({self.proc.returncode}) waiting for {label}")
        shown = re.sub(rb"\x1b\[[0-?]*[ -/]*[@-~]", b"", self.seen[-3000:]).decode("utf-8", "replace")
        raise AssertionError(f"timed out waiting for {label}; last drawn: {shown[-600:]!r}")

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        os.close(self.master)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Callable[[], Console]]:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    db = tmp_path / "desk.db"
    Database(db).close()
    made: list[Console] = []

    def start() -> Console:
        c = Console(db, env)
        made.append(c)
        c.wait_for(lambda: "工号".encode() in c.seen, "the shift sign-in")  # the operator signs in first
        c.type("张三\r")
        time.sleep(0.3)
        c.type("1024\r")
        c.wait_for(lambda: "来电号码".encode() in c.seen, "the intake form")
        time.sleep(0.5)  # the draft lookup at start-up
        return c

    yield start
    for c in made:
        c.close()


def draft_of(db: Path) -> Draft | None:
    with Database(db) as store:
        return load_draft(store, "110-1")


def test_sigkill_while_typing_loses_at_most_the_last_second(console, tmp_path: Path) -> None:  # noqa: ANN001
    db = tmp_path / "desk.db"
    c = console()
    c.type("13857512345\r")
    c.type("cl\r长乐镇沿江路18号\r我在店里买到假货")
    c.wait_for(lambda: (d := draft_of(db)) is not None and d.description == "我在店里买到假货", "the draft")
    c.type("，老板不肯退")  # and the power goes at once: only these last keys may be lost
    c.proc.send_signal(signal.SIGKILL)
    c.proc.wait(10)
    kept = draft_of(db)
    assert kept is not None
    assert kept.phone == "13857512345" and kept.town_code == "CL" and kept.address == "长乐镇沿江路18号"
    assert kept.description.startswith("我在店里买到假货")
    assert kept.call_started is not None


def test_sighup_saves_what_was_typed_and_exits(console, tmp_path: Path) -> None:  # noqa: ANN001
    db = tmp_path / "desk.db"
    c = console()
    c.type("13857512345\rcl\r长乐镇\r楼上漏水")
    c.wait_for(lambda: draft_of(db) is not None, "the first draft")
    c.seen = b""
    c.type("到我家了")
    c.wait_for(lambda: "我家了".encode() in c.seen, "the keys on screen")  # typed, not still in the terminal
    c.proc.send_signal(signal.SIGHUP)  # what a closed SSH session sends
    assert c.proc.wait(PATIENCE) == 0  # a clean exit, not a death by signal
    kept = draft_of(db)
    assert kept is not None and kept.description == "楼上漏水到我家了"
