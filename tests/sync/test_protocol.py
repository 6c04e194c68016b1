"""The sync protocol, each test on a SQLite server and on a PostgreSQL server (skipped without one)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy.exc import DBAPIError

from fengqiao.models.machine import Action, Intent
from fengqiao.store.audit import verify
from fengqiao.store.signing import Verifier
from fengqiao.store.sync import SimulatedCrash
from fengqiao.store.wire import PushRequest

from .hub import FORM, FORM_HZ, Hub


def test_two_desks_reach_the_same_state(hub: Hub) -> None:
    a = hub.add("CT1", "call_taker", prefix="SZ")
    s = hub.add("SUP", "supervisor")
    o = a.store.dispatch(FORM, "B01")
    report = a.sync()
    assert (report.pushed, report.waiting) == (1, 0)
    assert s.sync().pulled == 1
    hub.clock.advance(minutes=5)
    a.store.act(o.order_no, Intent(Action.CANCEL, note="报警人撤回"))
    hub.sync_all()
    sql = "SELECT order_no, status, primary_assignee, cancel_reason FROM orders"
    assert a.rows(sql) == s.rows(sql) == [(o.order_no, "cancelled", "SCJG", "报警人撤回")]
    assert s.rows("SELECT phone, description, order_id FROM calls") == [("13857512345", FORM.description, o.id)]
    assert [e["desk_seq"] for e in hub.server.events()] == [1, 2]


def test_push_is_idempotent_and_answers_the_original_numbers(hub: Hub) -> None:
    a = hub.add("CT1", "call_taker", prefix="SZ")
    a.store.dispatch(FORM, "B01")
    a.store.dispatch(FORM_HZ, "A03")
    batch = PushRequest(events=[a.wire(1), a.wire(2)]).model_dump(mode="json")
    first = hub.post("/v1/push", a.token, batch).json()
    again = hub.post("/v1/push", a.token, batch).json()
    assert [r["status"] for r in first["results"]] == ["stored", "stored"]
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
    assert [r["seq"] for r in again["results"]] == [r["seq"] for r in first["results"]] == [1, 2]
    assert again["head"] == 2 and len(hub.server.events()) == 2


def test_a_gap_is_answered_with_the_expected_number(hub: Hub) -> None:
    a = hub.add("CT1", "call_taker", prefix="SZ")
    for _ in range(3):
        a.store.dispatch(FORM, "B01")
    resp = hub.post("/v1/push", a.token, PushRequest(events=[a.wire(2), a.wire(3)]).model_dump(mode="json"))
    assert resp.status_code == 200
    body = resp.json()
    assert [r["status"] for r in body["results"]] == ["gap", "gap"] and body["expected"] == 1
    assert hub.server.events() == []
    report = a.sync()  # the client pushes from its own outbox, in order
    assert report.pushed == 3 and [e["desk_seq"] for e in hub.server.events()] == [1, 2, 3]


def test_a_business_conflict_is_stored_and_shown_everywhere(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    dept = hub.add("SCJG", "department", dept="SCJG")
    o = ct.store.dispatch(FORM, "B01")
    hub.sync_all()
    hub.clock.advance(minutes=2)
    ct.store.act(o.order_no, Intent(Action.CANCEL, note="报警人撤回"))  # offline from each other…
    hub.clock.advance(minutes=1)
    dept.store.act(o.order_no, Intent(Action.SIGN))  # …the department signs the order just cancelled
    assert ct.sync().pushed == 1
    report = dept.sync()
    assert report.pushed == 1  # a 200, not an error: the sign is stored
    sign = hub.server.events()[-1]
    assert (sign["kind"], sign["state"]) == ("sign", "conflict")
    ct.sync()
    for d in (ct, dept):
        assert d.rows("SELECT status FROM orders") == [("cancelled",)]
        marks = {e.event.kind: e.status for e in d.store.timeline(o.order_no)[1]}
        assert marks == {"dispatch": "applied", "cancel": "applied", "sign": "conflict"}
        assert d.rows("SELECT count(*) FROM event_state WHERE status = 'conflict'") == [(1,)]


def test_both_signed_is_redundant_not_an_error(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    town = hub.add("HZ", "township", town="HZ")
    police = hub.add("GAHZ", "department", dept="GA-HZ")
    o = ct.store.dispatch(FORM_HZ, "A03")  # dual: ZZ-HZ and GA-HZ
    hub.sync_all()
    hub.clock.advance(minutes=2)
    town.store.act(o.order_no, Intent(Action.SIGN, assignee="GA-HZ"))  # the township centre signs for the station
    police.store.act(o.order_no, Intent(Action.SIGN))  # and the station signs too
    hub.sync_all()
    states = {(e["desk"], e["kind"]): e["state"] for e in hub.server.events()}
    assert states[("HZ", "sign")] == "applied" and states[("GAHZ", "sign")] == "redundant"
    for d in (ct, town, police):
        assert d.rows("SELECT assignee, status FROM assignments ORDER BY seq") == [
            ("ZZ-HZ", "dispatched"),
            ("GA-HZ", "signed"),
        ]


def test_events_of_unknown_kinds_are_stored_and_kept(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    sup = hub.add("SUP", "supervisor")
    o = ct.store.dispatch(FORM, "B01")
    ct.forge(o.id, "photo-attached", {"url": "https://example/1.jpg"})  # a kind from a newer version
    hub.sync_all()
    assert [e["state"] for e in hub.server.events()] == ["applied", "unknown"]
    for d in (ct, sup):
        assert d.rows("SELECT kind, payload FROM events ORDER BY seq")[1] == (
            "photo-attached",
            json.dumps({"url": "https://example/1.jpg"}, separators=(",", ":")),
        )
        assert d.rows("SELECT status FROM event_state ORDER BY server_seq") == [("applied",), ("unknown",)]
        assert d.rows("SELECT status FROM orders") == [("dispatched",)]


def test_a_department_pulls_only_its_orders_and_a_reassigned_order_whole(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    scjg = hub.add("SCJG", "department", dept="SCJG")
    zjj = hub.add("ZJJ", "department", dept="ZJJ")
    mine = ct.store.dispatch(FORM, "B01")  # SCJG
    other = ct.store.dispatch(FORM, "C04")  # SW
    hub.sync_all()
    assert scjg.rows("SELECT order_no FROM orders") == [(mine.order_no,)]
    assert zjj.rows("SELECT count(*) FROM events") == [(0,)]
    hub.clock.advance(minutes=3)
    scjg.store.act(mine.order_no, Intent(Action.RETURN, note="不属本局职责"))
    scjg.sync()
    ct.sync()
    hub.clock.advance(minutes=3)
    ct.store.act(mine.order_no, Intent(Action.REASSIGN, to="ZJJ", note="改派住建"))
    hub.sync_all()
    # ZJJ now has the order with its whole history (dispatch and return were before its cursor)
    assert zjj.rows("SELECT order_no, primary_assignee, status FROM orders") == [(mine.order_no, "ZJJ", "dispatched")]
    assert [r[0] for r in zjj.rows("SELECT kind FROM events ORDER BY seq")] == ["dispatch", "return", "reassign"]
    assert other.id not in {r[0] for r in zjj.rows("SELECT order_id FROM events")}
    assert scjg.rows("SELECT primary_assignee FROM orders") == [("ZJJ",)]  # SCJG still sees its old order


def test_a_township_follows_the_orders_it_sent_to_a_county_bureau(hub: Hub) -> None:
    town = hub.add("HZ", "township", town="HZ")
    water = hub.add("SW", "department", dept="SW")
    o = town.store.dispatch(FORM_HZ, "C04")  # a burst main: the water company's, not the centre's
    hub.sync_all()
    hub.clock.advance(minutes=2)
    water.store.act(o.order_no, Intent(Action.SIGN))
    hub.sync_all()
    assert town.rows("SELECT order_no, status FROM orders") == [(o.order_no, "signed")]


def test_a_crash_mid_pull_leaves_the_desk_as_it_was(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    sup = hub.add("SUP", "supervisor")
    for _ in range(3):
        ct.store.dispatch(FORM, "B01")
    ct.sync()

    def crash(point: str) -> None:
        if point == "pull:stored":
            raise SimulatedCrash(point)

    with pytest.raises(SimulatedCrash):
        sup.client(crash=crash).sync_once()
    assert sup.rows("SELECT count(*) FROM events") == [(0,)]
    assert sup.rows("SELECT value FROM meta WHERE key = 'sync.cursor'") in ([], [("0",)])
    assert sup.sync().pulled == 3 and sup.rows("SELECT count(*) FROM orders") == [(3,)]


def test_a_crash_between_the_servers_commit_and_the_ack_applies_nothing_twice(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    ct.store.dispatch(FORM, "B01")
    ct.store.dispatch(FORM, "B02")

    def crash(point: str) -> None:
        if point == "push:answered":
            raise SimulatedCrash(point)

    with pytest.raises(SimulatedCrash):
        ct.client(crash=crash).sync_once()
    assert len(hub.server.events()) == 2  # committed on the server, never recorded by the desk
    report = ct.sync()
    assert (report.pushed, report.duplicates, report.waiting) == (0, 2, 0)
    assert len(hub.server.events()) == 2
    assert ct.rows("SELECT server_seq FROM event_state ORDER BY server_seq") == [(1,), (2,)]


def test_a_new_epoch_makes_desks_repush_and_repull(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    sup = hub.add("SUP", "supervisor")
    o = ct.store.dispatch(FORM, "B01")
    hub.sync_all()
    restore = hub.backup()
    hub.clock.advance(minutes=3)
    ct.store.act(o.order_no, Intent(Action.CANCEL, note="撤回"))
    ct.store.dispatch(FORM, "C04")
    hub.sync_all()
    assert len(hub.server.events()) == 3
    # Disaster: the server is restored from the backup (one event instead of three) and given a new epoch.
    hub.restore(restore())
    assert len(hub.server.events()) == 1
    hub.server.new_epoch()
    report = sup.sync()
    assert report.epoch_reset
    ct.sync()
    sup.sync()
    assert len(hub.server.events()) == 3
    sql = "SELECT order_no, status FROM orders ORDER BY order_no"
    assert ct.rows(sql) == sup.rows(sql) and len(ct.rows(sql)) == 2
    seqs = "SELECT e.id, s.server_seq FROM events e JOIN event_state s ON s.event_id = e.id ORDER BY e.id"
    assert ct.rows(seqs) == sup.rows(seqs)


def test_a_restore_without_a_new_epoch_is_noticed(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    ct.store.dispatch(FORM, "B01")
    ct.sync()
    restore = hub.backup()
    ct.store.dispatch(FORM, "B02")
    ct.sync()
    hub.restore(restore())  # the operator forgot `fengqiao server new-epoch`
    report = ct.sync()
    assert report.epoch_reset and len(hub.server.events()) == 2


def test_the_server_never_lets_an_event_be_edited(hub: Hub) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    ct.store.dispatch(FORM, "B01")
    ct.sync()
    with pytest.raises(DBAPIError), hub.server.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE srv_events SET actor = 'someone else'")
    with pytest.raises(DBAPIError), hub.server.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM srv_events")
    changed = ct.wire(1).model_copy(update={"payload": ct.wire(1).payload.replace("假货", "真货")})
    body = hub.post("/v1/push", ct.token, PushRequest(events=[changed]).model_dump(mode="json")).json()
    assert body["results"][0]["status"] == "rejected" and body["results"][0]["reason"] == "altered"
    assert "假货" in hub.server.events()[0]["payload"]


def test_concurrent_pushes_get_gap_free_numbers_in_commit_order(hub: Hub) -> None:
    """Eight desks push at once while a reader pulls: the reader never skips a committed event."""
    desks = [hub.add(f"CT{i}", "call_taker", prefix=f"P{i}") for i in range(8)]
    for d in desks:
        for _ in range(12):
            d.store.dispatch(FORM, "B01")
    reader = hub.add("SUP", "supervisor")
    seen: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def push(d) -> None:  # noqa: ANN001
        try:
            d.sync(push_batch=1)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def pull() -> None:
        cursor = 0
        row = hub.server.authenticate(reader.token)
        while True:
            last = done.is_set()
            resp = hub.server.pull(row, cursor, 5)
            seen.extend(e.seq for e in resp.events)
            cursor = resp.cursor
            if last and not resp.more:
                return

    threads = [threading.Thread(target=push, args=(d,)) for d in desks]
    puller = threading.Thread(target=pull)
    puller.start()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    done.set()
    puller.join()
    assert not errors
    assert seen == list(range(1, 97))


def test_a_push_is_answered_in_runs_with_one_signature(hub: Hub) -> None:
    """Protocol 2: the events taken come back as ranges of desk and server numbers; a refused event is the one
    result, and splits the run; the signature is over the newest event taken."""
    a = hub.add("CT1", "call_taker", prefix="SZ")
    a.store.dispatch(FORM, "B01")
    a.forge("no-such-order-" + "0" * 20, "dispatch", {"order_no": "XX-1", "town": "SHH"})  # refused: prefix
    a.store.dispatch(FORM_HZ, "A03")
    a.store.dispatch(FORM, "B02")
    batch = PushRequest(protocol=2, events=[a.wire(i) for i in (1, 2, 3, 4)]).model_dump(mode="json")
    body = hub.post("/v1/push", a.token, batch).json()
    assert [(r["id"], r["status"], r["reason"]) for r in body["results"]] == [(a.wire(2).id, "refused", "prefix")]
    runs = [(r["status"], r["first"], r["last"], r["seq"]) for r in body["runs"]]
    assert runs == [("stored", 1, 1, 1), ("stored", 3, 4, 2)] and body["expected"] == 5
    key = Verifier(hub.server.public_key())
    assert body["runs"][0]["sig"] is None and key.valid(body["runs"][1]["sig"], "CT1", 4, a.wire(4).id, a.wire(4).hash)
    again = hub.post("/v1/push", a.token, batch).json()
    assert [(r["status"], r["first"], r["last"], r["seq"]) for r in again["runs"]] == [
        ("duplicate", 1, 1, 1),
        ("duplicate", 3, 4, 2),
    ]
    assert [r["status"] for r in again["results"]] == ["refused"]
    old = hub.post("/v1/push", a.token, {k: v for k, v in batch.items() if k != "protocol"}).json()  # a 1 desk
    assert [(r["status"], r["seq"]) for r in old["results"]] == [
        ("duplicate", 1),
        ("refused", None),
        ("duplicate", 2),
        ("duplicate", 3),
    ]
    assert "runs" not in old or old["runs"] == []


def test_a_desk_syncs_with_a_server_of_protocol_1(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server of protocol 1 ignores the desk's `protocol` and answers one result per event: the desk reads it
    the same way (acknowledgements, numbers, the signed head)."""
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    for _ in range(5):
        ct.store.dispatch(FORM, "B01")
    real = hub.server.push
    asked: list[int] = []

    def old_server(row, request):  # noqa: ANN001, ANN202
        asked.append(request.protocol)
        return real(row, request.model_copy(update={"protocol": 1}))

    monkeypatch.setattr(hub.server, "push", old_server)
    report = ct.sync(push_batch=2)
    assert (report.pushed, report.waiting, report.problems) == (5, 0, []) and asked == [2, 2, 2]
    assert ct.rows("SELECT server_seq FROM event_state ORDER BY server_seq") == [(i,) for i in range(1, 6)]
    assert verify(ct.db).ok


@pytest.mark.parametrize("protocol", [1, 2])
def test_the_desk_records_runs_as_it_records_results(hub: Hub, monkeypatch: pytest.MonkeyPatch, protocol: int) -> None:
    """Whether the server answers in runs (protocol 2: the desk writes a run with one statement) or one result
    per event (protocol 1), the desk keeps the same: each event's server number, the signature on each batch's
    newest event."""
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    for _ in range(5):
        ct.store.dispatch(FORM, "B01")
    real = hub.server.push
    monkeypatch.setattr(
        hub.server, "push", lambda row, request: real(row, request.model_copy(update={"protocol": protocol}))
    )
    report = ct.sync(push_batch=2)
    assert (report.pushed, report.waiting, report.problems) == (5, 0, [])
    rows = ct.rows(
        "SELECT e.desk_seq, s.server_seq, s.sig IS NOT NULL FROM events e JOIN event_state s ON s.event_id = e.id "
        "ORDER BY e.desk_seq"
    )
    assert rows == [(1, 1, 0), (2, 2, 1), (3, 3, 0), (4, 4, 1), (5, 5, 1)]
    assert verify(ct.db).ok


def test_a_batch_insert_that_fails_is_the_databases_error_and_stores_nothing(hub: Hub) -> None:
    """The push's rows go in as one batch (a COPY on PostgreSQL): a broken one is an IntegrityError, a database
    failure ServerUnavailable (a 503 the desk retries), as with a plain INSERT; nothing of the batch stays."""
    from sqlalchemy.exc import IntegrityError

    from fengqiao.server.store import ServerUnavailable

    s = hub.server
    with pytest.raises(IntegrityError), s.write() as conn:
        s._insert_many(conn, "srv_order_nos", ("order_no", "order_id"), [("X-1", "a"), ("X-1", "b")])
    with pytest.raises(ServerUnavailable), s.write() as conn:
        s._insert_many(conn, "srv_order_nos", ("order_no", "no_such_column"), [("X-2", "a"), ("X-3", "b")])
    with s.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM srv_order_nos").scalar() == 0


def test_a_push_that_fails_after_its_first_rows_stream_stores_nothing(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A push is one transaction whatever its rows go in by (a COPY on PostgreSQL): a failure half-way
    (here the third event's role check) abandons it with the transaction; a row the database refuses (a
    server number another row holds) is its IntegrityError; nothing of the batch is kept either way, and the
    same push then goes through whole, numbered from 1 without a gap."""
    from sqlalchemy.exc import IntegrityError

    a = hub.add("CT1", "call_taker", prefix="SZ")
    for _ in range(4):
        a.store.dispatch(FORM, "B01")
    batch = PushRequest(protocol=2, events=[a.wire(i) for i in (1, 2, 3, 4)])
    s = hub.server
    desk_row = s.authenticate(a.token)
    assert desk_row is not None
    real, calls = s._judge, []

    def judge(*args: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the server's process fails mid-batch")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(s, "_judge", judge)
    with pytest.raises(RuntimeError):
        s.push(desk_row, batch)
    monkeypatch.setattr(s, "_judge", real)
    with s.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM srv_events").scalar() == 0
    b = hub.add("CT2", "call_taker", prefix="SZB")
    b.store.dispatch(FORM, "B01")
    b.store.dispatch(FORM, "B02")
    stray = ("x", "o", None, "dispatch", "a", "CT2", 2, "t", "t", "{}", "p", "h", 100, "applied", "t")
    cols = "id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, payload, prev_hash"
    insert = f"INSERT INTO srv_events ({cols}, hash, seq, state, received_at) VALUES ({', '.join(['?'] * 15)})"
    with s.write() as conn:  # a stray row holding CT2's second place: the push's second event is refused
        conn.exec_driver_sql(insert if s.dialect == "sqlite" else insert.replace("?", "%s"), stray)
    b_row = s.authenticate(b.token)
    assert b_row is not None
    with pytest.raises(IntegrityError):
        s.push(b_row, PushRequest(protocol=2, events=[b.wire(1), b.wire(2)]))
    with s.read() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT id FROM srv_events")] == ["x"]
    answer = s.push(desk_row, batch)
    assert [(r.status, r.first, r.last, r.seq) for r in answer.runs] == [("stored", 1, 4, 1)]
    with s.read() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT seq FROM srv_events ORDER BY seq")] == [1, 2, 3, 4, 100]
