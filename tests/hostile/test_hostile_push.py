"""A hostile desk pushes, through the sync server's HTTP app, an event of every kind with each field wrong in
each way (generated from models/validate.SCHEMAS). The server refuses each with a reason naming the field;
the honest desks keep syncing; `orders`, `order` and `kpi` stay up and the KPIs do not move."""

from __future__ import annotations

import pytest

from fengqiao.models.validate import validate

from ..sync.hub import FORM, Hub
from .cases import Case, base_payload, broken, cases
from .world import World, cli, kpi

CASES = cases()


def test_the_cases_cover_every_kind_and_each_way_a_field_can_be_wrong() -> None:
    from fengqiao.models.validate import SCHEMAS

    assert {c.kind for c in CASES} == set(SCHEMAS)
    assert {"type", "size", "range", "code", "choice", "time", "missing", "order", "future", "deadline"} <= {
        c.how for c in CASES
    }
    assert len(CASES) > 150


@pytest.fixture(scope="module")
def pure_world(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    hub = Hub(f"sqlite:///{tmp_path_factory.mktemp('pure') / 'server.db'}", tmp_path_factory.mktemp("pure-desks"))
    yield World.make(hub)
    hub.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_validation_refuses_each_case_and_passes_its_base(pure_world: World, case: Case) -> None:
    """Pure (no server): the unbroken base payload is valid, the broken one is refused naming the field."""
    w, ref, at = pure_world, pure_world.hub.ref, pure_world.hub.clock()
    base = base_payload(case.kind, ref, w.order, at, "EV")
    state = None if case.kind == "dispatch" else w.order
    kw = dict(ref=ref, recorded_at=at, now=at, state=state, assignment_id=w.order.primary.id)
    assert validate(case.kind, base, event_at=at, **kw) is None
    payload, event_at = broken(case, base, at, w.order.created_at)
    problem = validate(case.kind, payload, event_at=event_at, **kw)
    assert problem is not None, case
    assert case.field.rsplit(".", 1)[-1].replace("[0]", "") in problem.field, (case, problem)
    assert problem.message and "{" not in problem.message


def test_every_hostile_event_is_refused_over_http_and_nothing_else_moves(hub: Hub) -> None:
    w = World.make(hub)
    before = {d.name: kpi(d) for d in w.honest}
    sent = {w.forge(c).id: c for c in CASES}
    for d in w.hostile:
        report = d.sync()
        assert report.pushed == 0, "an invalid event was stored"
    refused = {r["id"]: r for r in hub.server.refused()}
    assert set(sent) <= set(refused)
    for event_id, case in sent.items():
        r = refused[event_id]
        assert r["message"], (case, r)
        if case.kind == "dispatch" and case.field in ("town", "order_no"):
            assert r["reason"] in ("invalid", "role", "prefix", "malformed"), (case, r)  # the role check sees it first
            continue
        assert r["reason"] == "invalid", (case, r)
        assert case.field.rsplit(".", 1)[-1].replace("[0]", "") in r["message"], (case, r["message"])
    # the senders are told which event and why
    for d in w.hostile:
        marks = d.rows(
            "SELECT s.status, s.reason FROM event_state s JOIN events e ON e.id = s.event_id WHERE e.desk = ?", d.name
        )
        assert marks and all(m[0] == "refused" and m[1] for m in marks)
    # honest desks: nothing new, KPIs unchanged, views up
    hub.sync_all()
    for d in w.honest:
        assert kpi(d) == before[d.name]
        assert w.order.order_no in cli(d, "orders")
        cli(d, "order", w.order.order_no)
    # ... and they still sync: a later honest order reaches every one of them
    later = w.ct.store.dispatch(FORM, "B01")
    hub.sync_all()
    for d in w.honest:
        assert later.order_no in cli(d, "orders")
        assert d.rows("SELECT count(*) FROM event_state WHERE status = 'quarantined'") == [(0,)]
