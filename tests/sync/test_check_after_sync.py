"""`fengqiao check` on a desk that synced: the projection is compared with the replay in sync's merge order
(server order, then this desk's pending events), not in the order the events reached this file."""

from __future__ import annotations

from typer.testing import CliRunner

from fengqiao.console.cli import app
from fengqiao.models.machine import Action, Intent
from fengqiao.store.audit import verify

from .hub import FORM, Hub


def test_check_replays_in_server_order(sqlite_hub: Hub) -> None:
    a = sqlite_hub.add("110-A", "call_taker", prefix="SZ")
    b = sqlite_hub.add("110-B", "call_taker", prefix="SZB")
    order = a.store.dispatch(FORM, "B01")
    a.sync()
    b.sync()
    a.store.act(order.order_no, Intent(Action.CANCEL, note="报警人撤回"))  # A cancels, not yet pushed
    b.store.link(order.order_no, FORM)  # B links a repeat call, and its push reaches the server first
    b.sync()
    a.sync()  # A's cancel is numbered after B's link; A pulls the link after its own cancel
    b.sync()
    with a.db.read() as conn:
        local = [r[0] for r in conn.exec_driver_sql("SELECT kind FROM events ORDER BY seq")]
        linked = conn.exec_driver_sql("SELECT linked_calls, status FROM orders").one()
    assert local == ["dispatch", "cancel", "link"]  # this file's order differs from the server's
    assert tuple(linked) == (1, "cancelled")  # server order: the link, then the cancel
    for desk in (a, b):
        report = verify(desk.db)
        assert report.ok, [f.message for f in report.faults]
    result = CliRunner().invoke(app, ["--db", str(a.db.path), "check"])
    assert result.exit_code == 0, result.output
