"""The store on a real SQLite file: one transaction per command, the event log and the projection in step,
the hash chain, append-only events, concurrent writers, late entries and repeat calls."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from fengqiao.models.clock import from_db
from fengqiao.models.errors import DomainError, NotFound, PermissionDenied, StoreError, ValidationError
from fengqiao.models.events import GENESIS, hash_fields
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent, replay
from fengqiao.models.roles import make_desk
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore
from fengqiao.store.projection import load_events

FORM = IntakeForm(phone="138 5751 2345", town="HZ", description="店里买到假货，老板不给退", address="黄泽镇人民路1号")


def rows(db: Database, sql: str, *params) -> list[tuple]:
    with db.read() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql, params).all()]


def test_dispatch_writes_call_order_assignments_and_event(store: OrderStore, db: Database) -> None:
    o = store.dispatch(FORM, "B01")
    assert o.order_no == "SZ-20261128-0001"
    assert rows(db, "SELECT phone, town, order_id FROM calls") == [("13857512345", "HZ", o.id)]
    assert rows(db, "SELECT order_no, status, primary_assignee, one_team FROM orders") == [
        ("SZ-20261128-0001", "dispatched", "ZZ-HZ", 1)
    ]
    assert rows(db, "SELECT assignee, status FROM assignments") == [("ZZ-HZ", "dispatched")]
    assert rows(db, "SELECT kind, desk, actor, desk_seq FROM events") == [("dispatch", "test-desk", "tester", 1)]
    assert store.dispatch(FORM, "A03").order_no == "SZ-20261128-0002"


def test_order_numbers_follow_the_local_day(store: OrderStore, clock) -> None:
    clock.set(from_db("2026-11-28T15:59:00.000000Z"))  # 23:59 in Shanghai
    assert store.dispatch(FORM, "B01").order_no == "SZ-20261128-0001"
    clock.advance(minutes=2)  # 00:01 on the 29th
    assert store.dispatch(FORM, "B01").order_no == "SZ-20261129-0001"


def test_projection_equals_the_replay_of_events(store: OrderStore, db: Database, clock) -> None:
    o = store.dispatch(FORM, "B02")  # dual
    for intent in [
        Intent(Action.SIGN),
        Intent(Action.SIGN, assignee="GA"),
        Intent(Action.ARRIVE),
        Intent(Action.ARRIVE, assignee="GA"),
        Intent(Action.FEEDBACK, result="resolved", note="调解成功"),
        Intent(Action.FEEDBACK, assignee="GA", result="resolved", note="秩序正常"),
    ]:
        clock.advance(minutes=3)
        store.act(o.order_no, intent)
    with db.read() as conn:
        state = replay(load_events(conn, o.id)).state
    assert state is not None and state.status == "fed_back"
    assert rows(db, "SELECT status, result FROM orders") == [("fed_back", "resolved")]
    assert rows(db, "SELECT assignee, status, signed_at IS NOT NULL FROM assignments ORDER BY seq") == [
        ("ZJJ", "fed_back", 1),
        ("GA-HZ", "fed_back", 1),
    ]


def test_refused_action_writes_nothing(store: OrderStore, db: Database) -> None:
    o = store.dispatch(FORM, "B01")
    before = rows(db, "SELECT count(*) FROM events")
    with pytest.raises(DomainError, match="SZ-20261128-0001"):
        store.act(o.order_no, Intent(Action.CLOSE))
    with pytest.raises(ValidationError):
        store.act(o.order_no, Intent(Action.RETURN))  # no reason
    assert rows(db, "SELECT count(*) FROM events") == before
    with pytest.raises(NotFound):
        store.act("SZ-19990101-0001", Intent(Action.SIGN))


def test_hash_chain_links_every_event(store: OrderStore, db: Database, clock) -> None:
    o = store.dispatch(FORM, "B01")
    clock.advance(minutes=1)
    store.act(o.order_no, Intent(Action.SIGN))
    clock.advance(minutes=1)
    store.dispatch(FORM, "C04")
    events = rows(
        db,
        "SELECT id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, payload, "
        "prev_hash, hash FROM events ORDER BY desk_seq",
    )
    prev = GENESIS
    for id_, order_id, asg, kind, actor, desk, seq, event_at, recorded_at, payload, prev_hash, hash_ in events:
        assert prev_hash == prev
        assert hash_ == hash_fields(
            id=id_,
            order_id=order_id,
            assignment_id=asg,
            kind=kind,
            actor=actor,
            desk=desk,
            desk_seq=seq,
            event_at=event_at,
            recorded_at=recorded_at,
            payload=payload,
            prev_hash=prev_hash,
        )
        prev = hash_
    assert [e[6] for e in events] == [1, 2, 3]
    assert rows(db, "SELECT seq, hash FROM desk_heads") == [(3, prev)]


def test_events_are_append_only(store: OrderStore, db_path: Path) -> None:
    store.dispatch(FORM, "B01")
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET actor = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")
    conn.close()


def test_concurrent_writers_lose_nothing(db_path: Path, ref, clock) -> None:
    """Eight threads sign/act at once on separate connections: BEGIN IMMEDIATE serializes them."""
    stores = [
        OrderStore(Database(db_path), ref=ref, desk=make_desk(ref, f"desk-{i}", None), clock=clock) for i in range(8)
    ]
    errors: list[BaseException] = []

    def work(s: OrderStore) -> None:
        try:
            for _ in range(10):
                s.dispatch(FORM, "B01")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    numbers = rows(stores[0].db, "SELECT order_no FROM orders")
    assert len(numbers) == 80 and len(set(numbers)) == 80  # no number handed out twice
    assert rows(stores[0].db, "SELECT last FROM order_counters") == [(80,)]
    for s in stores:
        s.db.close()


def test_late_entry_rules(store: OrderStore, clock) -> None:
    o = store.dispatch(FORM, "B01", at=clock() - timedelta(hours=2))
    assert o.created_at == clock() - timedelta(hours=2)
    with pytest.raises(ValidationError, match="晚于现在"):
        store.act(o.order_no, Intent(Action.SIGN), at=clock() + timedelta(hours=1))
    with pytest.raises(ValidationError, match="早于该工单上一条记录"):
        store.act(o.order_no, Intent(Action.SIGN), at=clock() - timedelta(hours=3))
    signed = store.act(o.order_no, Intent(Action.SIGN), at=clock() - timedelta(hours=1))
    assert signed.primary.signed_at == clock() - timedelta(hours=1)
    assert signed.first_overdue_at == o.primary.sign_due  # signed 50 minutes late


def test_repeat_call_is_marked_and_can_be_linked(store: OrderStore, db: Database, clock) -> None:
    first = store.dispatch(FORM, "B01")
    clock.advance(hours=5)
    repeat = store.repeat_for("13857512345")
    assert repeat is not None and repeat.order_no == first.order_no and repeat.open
    linked = store.link(first.order_no, FORM)
    assert len(linked.linked_calls) == 1
    assert rows(db, "SELECT linked, repeat_of FROM calls ORDER BY received_at") == [(0, None), (1, first.id)]
    clock.advance(hours=1)
    second = store.dispatch(FORM, "B01")
    assert second.repeat_of == first.id
    clock.advance(hours=80)
    assert store.dispatch(FORM, "B01").repeat_of is None  # more than 72 hours after the last one
    recent = store.recent_calls(phone="13857512345")
    assert len(recent) == 4 and recent[0].order_no is not None


def test_override_needs_a_reason(store: OrderStore) -> None:
    with pytest.raises(ValidationError, match="理由"):
        store.dispatch(FORM, "B01", override_dept="SFJ")
    o = store.dispatch(FORM, "B01", override_dept="SFJ", override_reason="涉及合同纠纷，需调解")
    assert o.primary.assignee == "SFJ" and o.override_reason == "涉及合同纠纷，需调解"


def test_roles_are_enforced_by_the_store(db: Database, ref, clock) -> None:
    taker = OrderStore(db, ref=ref, desk=make_desk(ref, "110-1", "call_taker"), clock=clock)
    o = taker.dispatch(IntakeForm(phone="13857512345", town="SHH", description="物业乱收费"), "B02")  # ZJJ + GA-SHH
    zjj = OrderStore(db, ref=ref, desk=make_desk(ref, "zjj", "department", dept="ZJJ"), clock=clock)
    scjg = OrderStore(db, ref=ref, desk=make_desk(ref, "scjg", "department", dept="SCJG"), clock=clock)
    police = OrderStore(db, ref=ref, desk=make_desk(ref, "shh", "township", town="SHH"), clock=clock)
    sup = OrderStore(db, ref=ref, desk=make_desk(ref, "sup", "supervisor"), clock=clock)
    with pytest.raises(NotFound):
        scjg.order(o.order_no)  # not theirs: not even visible
    assert scjg.list_orders() == []
    with pytest.raises(PermissionDenied):
        taker.act(o.order_no, Intent(Action.SIGN))
    with pytest.raises(PermissionDenied):
        sup.act(o.order_no, Intent(Action.SIGN))
    clock.advance(minutes=1)
    assert zjj.act(o.order_no, Intent(Action.SIGN)).primary.status == "signed"
    with pytest.raises(PermissionDenied):
        zjj.act(o.order_no, Intent(Action.SIGN, assignee="GA"))  # the police's assignment is not theirs
    clock.advance(minutes=1)
    assert police.act(o.order_no, Intent(Action.SIGN)).police.status == "signed"  # township acts for its station
    offered = {a for a, _ in zjj.allowed(zjj.order(o.order_no))}
    assert offered == {Action.ARRIVE, Action.RETURN, Action.EXTEND, Action.NOTE}  # a note: any desk, any time
    assert {a for a, _ in sup.allowed(sup.order(o.order_no))} == {Action.NOTE}
    with pytest.raises(PermissionDenied):
        OrderStore(db, ref=ref, desk=make_desk(ref, "hz", "township", town="HZ"), clock=clock).dispatch(
            IntakeForm(phone="13857512345", town="SHH", description="x"), "B01"
        )


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (IntakeForm(phone="1385751234", town="HZ", description="x"), "phone"),
        (IntakeForm(phone="13857512345", town="", description="x"), "town"),
        (IntakeForm(phone="13857512345", town="NOWHERE", description="x"), "town"),
        (IntakeForm(phone="13857512345", town="HZ", description="   "), "description"),
        (IntakeForm(phone="13857512345", town="HZ", description="长" * 4001), "description"),
        (IntakeForm(phone="13857512345", town="HZ", description="a\x00b"), "description"),
        (IntakeForm(phone="13857512345", town="HZ", description="x", address="路" * 201), "address"),
    ],
)
def test_bad_intake_is_refused_and_nothing_stored(
    store: OrderStore, db: Database, form: IntakeForm, field: str
) -> None:
    with pytest.raises(ValidationError) as err:
        store.dispatch(form, "B01")
    assert err.value.field == field
    assert rows(db, "SELECT count(*) FROM calls") == [(0,)]
    assert rows(db, "SELECT count(*) FROM events") == [(0,)]


def test_text_is_stored_exactly(store: OrderStore) -> None:
    text = "[bold red]假货[/] \x1b[31m红字\x1b[0m \x1b]0;title\x07 😀 𠀀 \t第二行\n第三行"
    o = store.dispatch(IntakeForm(phone="13857512345", town="HZ", description=text, name="[i]王[/i]"), "B01")
    again = store.order(o.order_no)
    assert again.call.description == text.strip() and again.call.name == "[i]王[/i]"


def test_files_that_are_not_ours(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 10)
    with pytest.raises(StoreError, match="不是 SQLite 数据库"):
        Database(junk)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="不是枫桥派单台的数据库"):
        Database(other)
    with pytest.raises(StoreError, match="是一个目录"):
        Database(tmp_path)


def test_locked_database_gives_a_clear_error(db_path: Path, ref, clock) -> None:
    Database(db_path).close()
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        db = Database(db_path, busy_ms=200, migrate=False)
        s = OrderStore(db, ref=ref, clock=clock)
        with pytest.raises(StoreError, match="被另一个程序占用"):
            s.dispatch(FORM, "B01")
        db.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_read_only_database(db_path: Path, ref, clock) -> None:
    Database(db_path).close()
    db = Database(db_path, migrate=False)
    db.engine.dispose()
    import os

    if os.geteuid() == 0:
        # root ignores file permissions; simulate with SQLite's own read-only mode instead
        from fengqiao.store.db import Engine

        db.engine = Engine(db_path, db.busy_ms, readonly=True)  # SQLite's mode=ro
    else:
        db_path.chmod(0o444)
    s = OrderStore(db, ref=ref, clock=clock)
    with pytest.raises(StoreError, match="只读"):
        s.dispatch(FORM, "B01")


def test_recent_calls_find_an_address_typed_with_other_spacing(store: OrderStore, clock) -> None:  # noqa: ANN001
    store.dispatch(
        IntakeForm(phone="13857500001", town="LS", address="金桂苑 3幢", description="物业把门禁停了"), "B02"
    )
    clock.advance(hours=1)
    store.dispatch(IntakeForm(phone="13857500002", town="LS", address="金桂苑5幢", description="物业不修电梯"), "B02")
    for typed in ("金桂苑3幢", "金桂苑　3幢", " 金桂苑 3 幢 ", "金桂苑 3幢"):
        found = store.recent_calls(address=typed)
        assert [c.phone for c in found] == ["13857500001"], typed  # not 5幢, and once only
    assert store.recent_calls(address="金桂苑") == []
    from fengqiao.store.orders import COMPACT_ADDRESS_SQL

    with store.db.read() as conn:  # the lookup reads the matching calls by ix_calls_address_compact, not a scan
        plan = " ".join(
            str(r[-1])
            for r in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN SELECT id FROM calls WHERE {COMPACT_ADDRESS_SQL} = ? AND received_at >= ?",
                ("金桂苑3幢", "2026-01-01"),
            ).all()
        )
    assert "ix_calls_address_compact" in plan, plan
