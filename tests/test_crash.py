"""Crash safety: 200 SIGKILLs of real writer processes in a row, then nothing acknowledged is lost.

See tests/crashkit.py for how victims are started and killed; ``make bench`` runs 2,000 kills.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from console.app import FengqiaoApp
from console.cli import app as cli
from models.roles import Desk, make_desk
from screens.base import DeskBar
from store.db import Database
from store.torture import run
from tests.crashkit import Harness

KILLS = 200


async def test_200_sigkills_lose_nothing_acknowledged(tmp_path: Path, ref, clock) -> None:
    db_path = tmp_path / "crash.db"
    harness = Harness(db_path, tmp_path / "work", seed=11)
    stats = harness.run(KILLS)
    assert stats.kills == KILLS
    assert stats.exec_kills >= KILLS // 10  # real `fengqiao torture` processes, not only forked ones
    assert stats.acked_writes > KILLS // 4, stats  # the victims did write between the kills
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
        run(db, desk=Desk(name="t"), seed=3, count=40,
            ack=lambda no, events: harness.acks.__setitem__(no, max(events, harness.acks.get(no, 0))))
    finally:
        db.close()
    assert harness.check() == []
    order_no = max(harness.acks, key=lambda no: harness.acks[no])
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER events_append_only_delete")
    conn.execute("DELETE FROM events WHERE seq = (SELECT max(e.seq) FROM events e JOIN orders o ON o.id = e.order_id "
                 "WHERE o.order_no = ?)", (order_no,))
    conn.commit()
    conn.close()
    problems = harness.check()
    assert any(order_no in p for p in problems), problems
    assert any("触发器" in p for p in problems)
