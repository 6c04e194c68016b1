"""Crash safety: 200 SIGKILLs of real writer processes in a row, then nothing acknowledged is lost.

See tests/crashkit.py for how victims are started and killed; ``make bench`` runs 2,000 kills.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from fengqiao.console.app import FengqiaoApp
from fengqiao.console.cli import app as cli
from fengqiao.models.roles import Desk, make_desk
from fengqiao.screens.base import DeskBar
from fengqiao.store.db import Database
from tests.crashkit import Harness, ServerHarness
from tests.torture import run

KILLS = 200


async def test_200_sigkills_lose_nothing_acknowledged(tmp_path: Path, ref, clock) -> None:
    db_path = tmp_path / "crash.db"
    harness = Harness(db_path, tmp_path / "work", seed=11)
    stats = harness.run(KILLS)
    assert stats.kills == KILLS
    assert stats.exec_kills >= KILLS // 10  # real `python -m tests.torture` processes, not only forked ones
    # the victims did write between the kills (the kills come at random moments in wall time: a loaded machine
    # gives them less done in between, so the floor is low; 27 of 200 were seen at a load of 9 on 2 cores)
    assert stats.acked_writes > KILLS // 20, stats
    assert harness.check() == []
    # The console starts normally on the database and the CLI's own check agrees.
    db = Database(db_path)
    try:
        console = FengqiaoApp(db=db, desk=make_desk(ref, "110-1", "call_taker"), clock=clock, watch_store=False)
        async with console.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert console.screen.query_one(DeskBar)
            await pilot.press("ctrl+q")
        assert console.return_code == 0
    finally:
        db.close()
    result = CliRunner().invoke(cli, ["--db", str(db_path), "check"])
    assert result.exit_code == 0, result.output


def test_the_verdict_notices_a_lost_acknowledged_write(tmp_path: Path) -> None:
    """The checker is not blind: remove the last event of an acknowledged order and it says so."""
    db_path = tmp_path / "crash.db"
    harness = Harness(db_path, tmp_path / "work", seed=3)
    db = Database(db_path)
    try:
        run(
            db,
            desk=Desk(name="t"),
            seed=3,
            count=40,
            ack=lambda no, events: harness.acks.__setitem__(no, max(events, harness.acks.get(no, 0))),
        )
    finally:
        db.close()
    assert harness.check() == []
    order_no = max(harness.acks, key=lambda no: harness.acks[no])
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER events_append_only_delete")
    conn.execute(
        "DELETE FROM events WHERE seq = (SELECT max(e.seq) FROM events e JOIN orders o ON o.id = e.order_id "
        "WHERE o.order_no = ?)",
        (order_no,),
    )
    conn.commit()
    conn.close()
    problems = harness.check()
    assert any(order_no in p for p in problems), problems
    assert any("触发器" in p for p in problems)


SERVER_KILLS = 4  # about 1 s each (a server start-up); `make bench` runs 100


def test_sync_server_sigkilled_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """The real `fengqiao server run`, killed with SIGKILL at random moments while three desks push and pull
    (`make bench` runs 100 kills); every answered push is on the server once, the numbering has no gap, and
    after a final sync the desks agree."""
    harness = ServerHarness(tmp_path / "server-crash", seed=9)
    try:
        stats = harness.run(SERVER_KILLS)
        problems = harness.check()
    finally:
        harness.close()
    assert problems == [], problems
    assert stats.kills == SERVER_KILLS and stats.acked > 50, stats
    assert stats.failed_rounds > 0  # the desks did find the server gone and carried on
    assert stats.events == stats.acked  # every event on the server was acknowledged in the end


def test_the_server_verdict_notices_a_lost_acknowledged_event(tmp_path: Path) -> None:
    """The server checker is not blind: take an acknowledged event off the server and it says so."""
    harness = ServerHarness(tmp_path / "server-crash", seed=3)
    try:
        harness.run(0)  # no kill: the desks write and sync against a server that then stops
        assert harness.check() == []
        conn = sqlite3.connect(harness.db_path)
        last = conn.execute("SELECT id, seq FROM srv_events ORDER BY seq DESC LIMIT 1").fetchone()
        conn.execute("DROP TRIGGER srv_events_no_delete")  # the server refuses deletions: this is sabotage
        conn.execute("DELETE FROM srv_events WHERE seq = ?", (last[1],))
        conn.commit()
        conn.close()
        problems = harness.check()
    finally:
        harness.close()
    assert any(last[0] in p and "not on the server" in p for p in problems), problems
    assert any("counter" in p for p in problems), problems
