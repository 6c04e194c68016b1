"""Issue 11 item 4: a township centre receives on pull only its own town's orders, also through a police station
that serves several towns. One case per pair of towns sharing a station, taken from the reference data."""

from __future__ import annotations

from itertools import combinations

import pytest
from sqlalchemy import create_engine, text

from fengqiao.models.intake import IntakeForm
from fengqiao.models.reference import default_reference
from fengqiao.server.scope import backfill_town_scope, town_holder

from .hub import Hub

REF = default_reference()
PAIRS = [(s.code, a, b) for s in REF.stations.values() if len(s.towns) > 1 for a, b in combinations(s.towns, 2)]


def test_the_reference_data_has_the_pairs_the_issue_names() -> None:
    assert ("GA-GLL", "GLL", "GM") in PAIRS  # 谷来镇 and 贵门乡 share 谷来派出所
    assert len(PAIRS) >= 4


@pytest.mark.parametrize(("station", "town_a", "town_b"), PAIRS, ids=[f"{s}:{a}-{b}" for s, a, b in PAIRS])
def test_a_shared_station_does_not_leak_the_other_towns_orders(
    hub: Hub, station: str, town_a: str, town_b: str
) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    desk_a = hub.add(f"T-{town_a}", "township", town=town_a)
    desk_b = hub.add(f"T-{town_b}", "township", town=town_b)
    police = hub.add(f"P-{station}", "department", dept=station)
    mine_a = ct.store.dispatch(IntakeForm(phone="13857512345", town=town_a, description="邻居吵架"), "B04")
    mine_b = ct.store.dispatch(IntakeForm(phone="13857512346", town=town_b, description="有人乱倒建筑垃圾"), "A03")
    assert mine_a.police.assignee == mine_b.police.assignee == station
    hub.sync_all()
    for d, own, other_phone in ((desk_a, mine_a, "13857512346"), (desk_b, mine_b, "13857512345")):
        assert d.rows("SELECT order_no FROM orders") == [(own.order_no,)]
        assert d.rows("SELECT DISTINCT order_id FROM events") == [(own.id,)]  # not even the events
        assert other_phone not in str(d.rows("SELECT payload FROM events"))  # nor the other caller's number
    assert sorted(r[0] for r in police.rows("SELECT order_no FROM orders")) == sorted(
        [mine_a.order_no, mine_b.order_no]
    )


def test_a_server_from_before_town_scope_is_backfilled(tmp_path) -> None:  # noqa: ANN001
    hub = Hub(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)
    try:
        ct = hub.add("CT1", "call_taker", prefix="SZ")
        o = ct.store.dispatch(IntakeForm(phone="13857512345", town="GM", description="邻居吵架"), "B04")
        hub.sync_all(1)
        eng = create_engine(hub.server.url)
        with eng.begin() as conn:  # what an older server wrote: plain holders only
            conn.execute(text("DELETE FROM srv_scope WHERE assignee LIKE '%#%'"))
            conn.execute(text("DELETE FROM srv_meta WHERE key = 'scope_town'"))
        with eng.begin() as conn:
            assert backfill_town_scope(conn) == 2
            held = {r[0] for r in conn.execute(text("SELECT assignee FROM srv_scope WHERE order_id = :o"), {"o": o.id})}
            assert backfill_town_scope(conn) == 0
        eng.dispose()
        assert town_holder("GA-GLL", "GM") in held and town_holder("ZZ-GM", "GM") in held
    finally:
        hub.close()
