"""Property: any sequence of events, valid or not, pushed by any desk (honest or hostile) leaves every honest
desk converged with the server's log and its `check` clean."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengqiao.models.machine import Action
from fengqiao.store.audit import verify

from ..sync.hub import FORM, Hub
from .cases import base_payload, cases
from .world import World

KINDS = [k for k in Action if k != Action.DISPATCH]
step = st.one_of(
    st.tuples(st.just("case"), st.sampled_from(cases())),  # a hostile event
    st.tuples(st.just("valid"), st.sampled_from(KINDS)),  # a hostile desk's well-formed event (may conflict)
    st.tuples(st.just("honest"), st.sampled_from(["dispatch", "sync"])),
)


def _orders(d) -> list[tuple]:  # noqa: ANN001
    return d.rows("SELECT id, order_no, status, updated_at FROM orders ORDER BY id")


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(step, min_size=1, max_size=6))
def test_any_sequence_leaves_honest_desks_converged_and_clean(steps: list) -> None:  # noqa: ANN001
    with tempfile.TemporaryDirectory() as tmp:
        hub = Hub(f"sqlite:///{Path(tmp) / 'server.db'}", Path(tmp))
        try:
            w = World.make(hub)
            at = hub.clock()
            for what, item in steps:
                if what == "case":
                    w.forge(item)
                elif what == "valid":
                    d = w.sender(item)
                    w.append(d, item, base_payload(item, hub.ref, w.order, at, d.desk.prefix or "EV"), at)
                elif item == "dispatch":
                    w.ct.store.dispatch(FORM, "B01")
                for d in w.hostile:
                    try:
                        d.sync()
                    except Exception:  # noqa: BLE001 - a hostile desk may choke on its own garbage
                        pass
            hub.sync_all(rounds=2)
            full = [w.ct, w.sup]  # the desks that see every order hold the same projection
            assert _orders(full[0]) == _orders(full[1])
            for d in w.honest:
                assert d.sync().pulled == 0  # converged: nothing left to pull
                report = verify(d.db, clock=hub.clock)
                assert not report.faults, [f.message for f in report.faults]
        finally:
            hub.close()
