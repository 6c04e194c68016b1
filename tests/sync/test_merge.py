"""The merge rule on the desk: replay order, outcome of each event, the cheap state copy, the CLI timeline."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

from typer.testing import CliRunner

from fengqiao.console.cli import app
from fengqiao.models.errors import DomainError, Redundant
from fengqiao.models.machine import Action, Fold, Intent, OrderState, apply, replay, step
from fengqiao.store.db import Database
from fengqiao.store.demo import generate
from fengqiao.store.projection import assignment_tuples, load_events, order_tuple

from .hub import FORM, Hub, HubDesk


def deep_replay(events):  # noqa: ANN001, ANN201 - the reference fold, with a full deepcopy per event
    state, statuses = None, {}
    for ev in events:
        try:
            state = apply(copy.deepcopy(state), ev)
            statuses[ev.id] = "applied"
        except Redundant:
            statuses[ev.id] = "redundant"
        except DomainError as exc:
            statuses[ev.id] = "unknown" if exc.reason == "unknown_kind" else "conflict"
    return state, statuses


def test_clone_replays_exactly_like_deepcopy(tmp_path: Path, clock) -> None:
    """OrderState.clone() copies only what handlers change; shuffled histories make many events illegal."""
    db = Database(tmp_path / "demo.db")
    generate(db, orders=300, days=30, seed=5, clock=clock)
    with db.read() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM orders")]
        histories = [load_events(conn, oid) for oid in ids]
    db.close()
    rng = random.Random(5)
    for events in histories:
        for order in (events, [events[0], *rng.sample(events[1:], len(events) - 1)]):
            fast = replay(order)
            state, statuses = deep_replay(order)
            assert fast.statuses == statuses
            assert order_tuple(fast.state) == order_tuple(state)
            assert assignment_tuples(fast.state) == assignment_tuples(state)


def test_fold_in_place_answers_like_step(tmp_path: Path, clock) -> None:
    """Fold (in place, a copy only on a refusal) gives step's state, status and reason event after event, on
    shuffled histories where many events are refused; the state it starts from is never changed."""
    db = Database(tmp_path / "demo.db")
    generate(db, orders=200, days=30, seed=7, clock=clock)
    with db.read() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM orders")]
        histories = [load_events(conn, oid) for oid in ids]
    db.close()
    rng = random.Random(7)
    refused = 0
    for events in histories:
        shuffled = [events[0], *rng.sample(events[1:], len(events) - 1)]
        for order in (events, shuffled, shuffled[1:]):
            cut = rng.randrange(len(order))
            start = replay(order[:cut]).state  # a state the caller still holds, as the server's loaded orders
            before = None if start is None else (order_tuple(start), assignment_tuples(start))
            fold, state = Fold(start), start
            for ev in order[cut:]:
                state, status, reason = step(state, ev)
                got, got_status, got_reason = fold.step(ev)
                assert (got_status, got_reason) == (status, reason)
                refused += status != "applied"
                if state is None:
                    assert got is None
                else:
                    assert order_tuple(got) == order_tuple(state)
                    assert assignment_tuples(got) == assignment_tuples(state)
            if start is not None:
                assert (order_tuple(start), assignment_tuples(start)) == before
    assert refused > 50  # the refusal path ran often


def cancel_meets_sign(hub: Hub) -> tuple[HubDesk, HubDesk, OrderState]:
    """The call-taker cancels while the department, not yet aware of it, signs."""
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    dept = hub.add("SCJG", "department", dept="SCJG")
    o = ct.store.dispatch(FORM, "B01")
    hub.sync_all()
    hub.clock.advance(minutes=1)
    dept.store.act(o.order_no, Intent(Action.SIGN))
    hub.clock.advance(minutes=1)
    ct.store.act(o.order_no, Intent(Action.CANCEL, note="撤回"))
    return ct, dept, o


def test_replay_order_is_server_order_then_own_pending(sqlite_hub: Hub) -> None:
    ct, dept, o = cancel_meets_sign(sqlite_hub)
    ct.sync()  # the cancel reaches the server first
    dept.client().pull()  # the department has the cancel (server order) but its sign is still pending
    with dept.db.read() as conn:
        assert [e.kind for e in load_events(conn, o.id)] == ["dispatch", "cancel", "sign"]
    entries = dept.store.timeline(o.order_no)[1]
    assert [(e.event.kind, e.status, e.confirmed) for e in entries] == [
        ("dispatch", "applied", True),
        ("cancel", "applied", True),
        ("sign", "conflict", False),
    ]
    assert dept.rows("SELECT status FROM orders") == [("cancelled",)]


def test_order_json_shows_outcomes_and_conflicts(sqlite_hub: Hub, tmp_path: Path) -> None:
    ct, _dept, o = cancel_meets_sign(sqlite_hub)
    sqlite_hub.sync_all()
    path = str(tmp_path / "CT1.db")
    result = CliRunner().invoke(app, ["--db", path, "order", o.order_no, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(e["kind"], e["status"], e["server_seq"]) for e in data["events"]] == [
        ("dispatch", "applied", 1),
        ("cancel", "applied", 2),
        ("sign", "conflict", 3),
    ]
    assert [(c["kind"], c["desk"], c["status"]) for c in data["conflicts"]] == [("sign", "SCJG", "conflict")]
    assert o.order_no in data["conflicts"][0]["reason"]
    text = CliRunner().invoke(app, ["--db", path, "order", o.order_no])
    assert "签收 (冲突)" in text.stdout
