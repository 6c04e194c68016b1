"""The board's queries on a real SQLite file: visibility equals the role rules, keyset paging neither skips nor
repeats, every filter and sort, search (full-text and short terms), counts, and the first overdue moment."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from fengqiao.models.clock import FixedClock, from_db, to_db
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent, replay
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import can_see, make_desk
from fengqiao.store.board import BoardFilter, BoardQuery, mark_overdue, search_tokens, visibility_sql
from fengqiao.store.db import Database
from fengqiao.store.demo import generate
from fengqiao.store.orders import OrderStore
from fengqiao.store.projection import load_events

from .conftest import T0

DESKS = [
    ("call_taker", {}),
    ("supervisor", {}),
    ("department", {"dept": "SCJG"}),
    ("department", {"dept": "ZJJ"}),
    ("department", {"dept": "GA-GLL"}),
    ("department", {"dept": "ZZ-HZ"}),
    ("township", {"town": "HZ"}),
    ("township", {"town": "GM"}),
    ("township", {"town": "GLL"}),
    ("township", {"town": "LS"}),  # also the orders grassroots routing told its centre of (informed)
    ("department", {"dept": "TJ-LS-CN"}),  # a village's mediation committee
    ("department", {"dept": "SO-CQ-AX"}),  # a social organisation
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """About 1,500 orders over 10 days up to T0 (open, near-due and overdue ones among them)."""
    path = tmp_path_factory.mktemp("board") / "demo.db"
    db = Database(path)
    generate(db, orders=1500, days=10, seed=7, clock=FixedClock(T0))
    yield db
    db.close()


def all_orders(db: Database) -> list[dict]:
    with db.read() as conn:
        rows = (
            conn.exec_driver_sql("SELECT o.*, c.address, c.description FROM orders o JOIN calls c ON c.id = o.call_id")
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def walk(board: BoardQuery, f: BoardFilter, size: int) -> list[str]:
    """Every row of the filter, page by page forwards (keyset)."""
    out: list[str] = []
    page = board.page(f, limit=size)
    while page:
        out += [r.order_no for r in page]
        page = board.page(f, after=page[-1].key, limit=size)
    return out


def walk_back(board: BoardQuery, f: BoardFilter, size: int) -> list[str]:
    out: list[str] = []
    page = board.page(f, last=True, limit=size)
    while page:
        out = [r.order_no for r in page] + out
        page = board.page(f, before=page[0].key, limit=size)
    return out


def expected_order(rows: list[dict], sort: str) -> list[str]:
    key = {
        "due": lambda r: (r["next_due"] or "~", r["order_no"]),
        "age": lambda r: (r["call_at"], r["order_no"]),
        "newest": lambda r: (r["call_at"], r["order_no"]),
        "town": lambda r: (r["town"], r["next_due"] or "~", r["order_no"]),
    }[sort]
    return [r["order_no"] for r in sorted(rows, key=key, reverse=sort == "newest")]


@pytest.fixture(scope="module")
def states(demo: Database) -> list:
    with demo.read() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM orders").all()]
        return [replay(load_events(conn, i)).state for i in ids]


@pytest.mark.parametrize(("role", "where"), DESKS)
def test_visibility_sql_is_the_role_rule(demo: Database, states: list, role: str, where: dict) -> None:
    ref = default_reference()
    desk = make_desk(ref, "d", role, **where)
    cond, params = visibility_sql(desk, ref)
    with demo.read() as conn:
        by_sql = {
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT id FROM orders o" + (f" WHERE {cond}" if cond else ""), tuple(params)
            ).all()
        }
    by_rule = {o.id for o in states if can_see(desk, ref, o)}
    assert by_sql == by_rule
    if role in ("department", "township"):
        assert 0 < len(by_sql) < len(states)


def query(db: Database, broad: int, **kw) -> BoardQuery:
    """A board query; ``broad`` low makes every filter count as broad (the sort-index plans)."""
    board = BoardQuery(db, clock=FixedClock(T0), **kw)
    board.broad = broad
    return board


@pytest.mark.parametrize("broad", [5000, 3], ids=["selective", "broad"])
@pytest.mark.parametrize("sort", ["due", "age", "newest", "town"])
@pytest.mark.parametrize("scope", ["open", "all", "closed"])
def test_keyset_pages_cover_every_row_once_in_order(demo: Database, sort: str, scope: str, broad: int) -> None:
    board = query(demo, broad)
    f = BoardFilter(scope=scope, sort=sort)
    rows = [
        r
        for r in all_orders(demo)
        if scope == "all" or (r["status"] not in ("closed", "cancelled") if scope == "open" else r["status"] == scope)
    ]
    want = expected_order(rows, sort)
    size = 17 if scope == "open" else 250
    assert walk(board, f, size) == want
    assert walk_back(board, f, size) == want
    assert board.count(f).total == len(want)


def test_refreshing_a_page_in_place(demo: Database) -> None:
    board = BoardQuery(demo, clock=FixedClock(T0))
    f = BoardFilter()
    first = board.page(f, limit=10)
    second = board.page(f, after=first[-1].key, limit=10)
    assert [r.order_no for r in board.page(f, start=second[0].key, limit=10)] == [r.order_no for r in second]
    assert [r.order_no for r in board.page(f, before=second[0].key, limit=10)] == [r.order_no for r in first]


def _matches(r: dict, f: BoardFilter, now: str) -> bool:
    if f.scope == "open" and r["status"] in ("closed", "cancelled"):
        return False
    if f.dept == "ZZ" and not r["primary_assignee"].startswith("ZZ-"):
        return False
    if f.dept == "GA" and r["police_assignee"] is None:
        return False
    if f.dept not in (None, "ZZ", "GA") and f.dept not in (r["primary_assignee"], r["police_assignee"]):
        return False
    if f.category and r["category"] != f.category:
        return False
    if f.town and r["town"] != f.town:
        return False
    if f.overdue and not (r["next_due"] and r["next_due"] < now):
        return False
    if f.repeat and not (r["repeat_of"] or r["linked_calls"]):
        return False
    return not (f.dual and r["mode"] != "dual")


@pytest.mark.parametrize(
    "f",
    [
        BoardFilter(dept="ZJJ"),
        BoardFilter(dept="ZZ"),
        BoardFilter(dept="GA"),
        BoardFilter(dept="GA-SHH", scope="all"),
        BoardFilter(category="C"),
        BoardFilter(town="LS", scope="all"),
        BoardFilter(overdue=True),
        BoardFilter(repeat=True, scope="all"),
        BoardFilter(dual=True),
        BoardFilter(dual=True, town="SHH", category="B"),
        BoardFilter(overdue=True, scope="all", sort="age"),
    ],
    ids=repr,
)
@pytest.mark.parametrize("broad", [5000, 3], ids=["selective", "broad"])
def test_filters(demo: Database, f: BoardFilter, broad: int) -> None:
    board = query(demo, broad)
    want = expected_order([r for r in all_orders(demo) if _matches(r, f, to_db(T0))], f.sort)
    assert want, "the demo should have rows for every filter"
    assert walk(board, f, 40) == want
    counts = board.count(f)
    assert counts.total == len(want)
    assert counts.overdue == sum(1 for r in all_orders(demo) if _matches(r, replace(f, overdue=True), to_db(T0)))


def test_escalation_queue_is_overdue_orders_longest_overdue_first(demo: Database) -> None:
    board = BoardQuery(demo, clock=FixedClock(T0))
    f = BoardFilter(dual=True, sort="age").escalation_queue()
    assert f.is_escalation_queue and f.dual
    rows = board.page(f, limit=500)
    assert rows and all(r.next_due is not None and r.next_due < T0 for r in rows)
    assert [r.next_due for r in rows] == sorted(r.next_due for r in rows)


def test_counts_can_be_capped(demo: Database) -> None:
    counts = BoardQuery(demo, clock=FixedClock(T0)).count(BoardFilter(scope="all"), cap=100)
    assert counts.total == 100 and counts.capped


def test_next_crossing_is_the_next_deadline_to_pass(demo: Database) -> None:
    board = BoardQuery(demo, clock=FixedClock(T0))
    crossing = board.next_crossing(BoardFilter())
    future = [from_db(r["next_due"]) for r in all_orders(demo) if r["next_due"] and r["next_due"] >= to_db(T0)]
    assert crossing == min(future)


def test_desk_sees_only_its_rows(demo: Database) -> None:
    ref = default_reference()
    board = BoardQuery(demo, desk=make_desk(ref, "d", "department", dept="SCJG"), clock=FixedClock(T0))
    rows = board.page(BoardFilter(scope="all"), limit=500)
    assert rows and {r.primary_assignee for r in rows} == {"SCJG"}
    town = BoardQuery(demo, desk=make_desk(ref, "t", "township", town="GM"), clock=FixedClock(T0))
    assert {r.town for r in town.page(BoardFilter(scope="all"), limit=500)} == {"GM"}


# ---- search --------------------------------------------------------------------------------------


def test_search_tokens() -> None:
    assert search_tokens("") == []
    assert search_tokens("假货 人民路") == [("假货",), ("人民路",)]
    assert search_tokens("138-5751-2345") == [("138-5751-2345", "13857512345")]
    assert search_tokens("0042") == [("0042",)]
    assert search_tokens("１３８－５７５１－２３４５") == [("138-5751-2345", "13857512345")]  # a Chinese input method
    assert search_tokens("ＫＴＶ") == [("ＫＴＶ",)]  # words are searched as typed


@pytest.fixture
def searchable(store: OrderStore, clock: FixedClock) -> OrderStore:
    store.dispatch(
        IntakeForm(phone="13857512345", town="HZ", description="店里买到假货，老板不给退", address="黄泽镇人民路1号"),
        "B01",
    )
    clock.advance(minutes=1)
    store.dispatch(
        IntakeForm(
            phone="0575-83012345", town="SHH", description="楼上漏水100%渗到我家_厨房", address="剡湖街道官河路7号"
        ),
        "C04",
    )
    clock.advance(minutes=1)
    third = store.dispatch(IntakeForm(phone="13900001111", town="LS", description="物业乱收费"), "B02")
    clock.advance(minutes=1)
    store.link(third.order_no, IntakeForm(phone="13622223333", town="LS", description="又来催缴物业费，态度恶劣"))
    return store


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("买到假货", ["SZ-20261128-0001"]),
        ("假货", ["SZ-20261128-0001"]),
        ("人民路", ["SZ-20261128-0001"]),
        ("2345", ["SZ-20261128-0001", "SZ-20261128-0002"]),
        ("138 5751 2345", ["SZ-20261128-0001"]),
        ("138-5751-2345", ["SZ-20261128-0001"]),
        ("0002", ["SZ-20261128-0002"]),
        ("1128-0003", ["SZ-20261128-0003"]),
        ("sz-20261128-0003", ["SZ-20261128-0003"]),
        ("100%", ["SZ-20261128-0002"]),
        ("_厨", ["SZ-20261128-0002"]),
        ("%", ["SZ-20261128-0002"]),
        ("货", ["SZ-20261128-0001"]),  # one character: the trigrams that begin with it
        ("退", ["SZ-20261128-0001"]),  # the last character of a text
        ("房", ["SZ-20261128-0002"]),
        ("物业", ["SZ-20261128-0003"]),
        ("厨房", ["SZ-20261128-0002"]),  # the last two characters
        ("龘", []),
        ("13622223333", ["SZ-20261128-0003"]),  # a linked repeat call's number
        ("态度恶劣", ["SZ-20261128-0003"]),
        ("漏水 官河路", ["SZ-20261128-0002"]),
        ("漏水 人民路", []),
        ('"', []),
        ("NEAR(", []),
    ],
)
def test_search(searchable: OrderStore, db: Database, clock: FixedClock, text: str, found: list[str]) -> None:
    for broad in (5000, 1):  # few hits: driven by the full-text hits; common: by the sort index
        for scope in ("all", "open"):
            board = BoardQuery(db, clock=clock)
            board.broad = broad
            f = BoardFilter(search=text, scope=scope, sort="age")
            assert [r.order_no for r in board.page(f, limit=50)] == found, (broad, scope)
            assert board.count(f).total == len(found), (broad, scope)
            assert (board.next_crossing(f) is not None) == bool(found)


def test_search_respects_the_desk(searchable: OrderStore, db: Database, clock: FixedClock) -> None:
    ref = default_reference()
    other = BoardQuery(db, desk=make_desk(ref, "d", "department", dept="SFJ"), clock=clock)
    assert other.page(BoardFilter(search="假货"), limit=10) == []


def test_search_index_survives_migration_from_the_first_schema(tmp_path: Path, ref, clock, monkeypatch) -> None:
    from fengqiao.store import migrations

    from .conftest import write_as_schema_10

    write_as_schema_10(monkeypatch)

    path = tmp_path / "old.db"
    old = Database(path, migrate=False)
    with old.write() as conn:
        migrations.upgrade(conn, path, target=1)
    store = OrderStore(old, ref=ref, clock=clock)
    o = store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="河边倒建筑垃圾"), "A03")
    store.link(o.order_no, IntakeForm(phone="13911112222", town="HZ", description="还在倒"))
    old.close()
    monkeypatch.undo()
    new = Database(path)
    board = BoardQuery(new, clock=clock)
    assert [r.order_no for r in board.page(BoardFilter(search="建筑垃圾"), limit=5)] == [o.order_no]
    assert [r.order_no for r in board.page(BoardFilter(search="13911112222"), limit=5)] == [o.order_no]
    new.close()


# ---- the first overdue moment ----------------------------------------------------------------------


def _firsts(db: Database) -> tuple[str | None, list[str | None]]:
    with db.read() as conn:
        order = conn.exec_driver_sql("SELECT first_overdue_at FROM orders").scalar()
        asgs = [r[0] for r in conn.exec_driver_sql("SELECT first_overdue_at FROM assignments ORDER BY seq")]
    return order, asgs


def test_mark_overdue_records_the_missed_deadline(store: OrderStore, db: Database, clock: FixedClock) -> None:
    o = store.dispatch(IntakeForm(phone="13857512345", town="SHH", description="物业乱收费"), "B02")  # dual
    sign_due = o.primary.sign_due
    assert mark_overdue(db, clock()) == 0
    clock.set(sign_due - timedelta(seconds=1))
    store.act(o.order_no, Intent(Action.SIGN, assignee="GA"))  # the station signs in time, the department not
    clock.set(sign_due + timedelta(minutes=3))
    assert mark_overdue(db, clock()) == 2  # the order and the department's assignment
    assert _firsts(db) == (to_db(sign_due), [to_db(sign_due), None])
    assert mark_overdue(db, clock()) == 0  # nothing more to do: cheap
    clock.advance(minutes=1)
    state = store.act(o.order_no, Intent(Action.SIGN))  # signing late keeps the same first overdue moment
    assert state.first_overdue_at == sign_due
    assert _firsts(db) == (to_db(sign_due), [to_db(sign_due), None])


def test_a_late_entry_on_time_clears_a_provisional_mark(store: OrderStore, db: Database, clock: FixedClock) -> None:
    o = store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="买到假货"), "B01")
    clock.set(o.primary.sign_due + timedelta(minutes=5))
    mark_overdue(db, clock())
    assert _firsts(db)[0] == to_db(o.primary.sign_due)
    store.act(o.order_no, Intent(Action.SIGN), at=o.primary.sign_due - timedelta(minutes=1))  # signed on paper
    assert _firsts(db) == (None, [None])


def test_cancelling_an_overdue_order_keeps_its_overdue_moment(
    store: OrderStore, db: Database, clock: FixedClock
) -> None:
    o = store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="买到假货"), "B01")
    clock.set(o.primary.sign_due + timedelta(minutes=5))
    state = store.act(o.order_no, Intent(Action.CANCEL, note="报警人已自行解决"))
    assert state.first_overdue_at == o.primary.sign_due
    assert _firsts(db) == (to_db(o.primary.sign_due), [to_db(o.primary.sign_due)])


def test_mark_overdue_on_the_demo_matches_the_board(tmp_path: Path) -> None:
    db = Database(tmp_path / "d.db")
    generate(db, orders=400, days=5, seed=3, clock=FixedClock(T0))
    later = T0 + timedelta(hours=2)
    marked = mark_overdue(db, later)
    assert marked > 0
    with db.read() as conn:
        unmarked = conn.exec_driver_sql(
            "SELECT count(*) FROM orders WHERE next_due < ? AND (first_overdue_at IS NULL OR first_overdue_at > next_due)",
            (to_db(later),),
        ).scalar()
    assert unmarked == 0
    assert mark_overdue(db, later) == 0
    db.close()
