"""The pull asks for the next page while it stores this one (HttpTransport.PREFETCH): the same pages, checks
and result as asking for each page after the last was stored."""

from __future__ import annotations

import threading
from typing import Any

from fengqiao.store.sync import HttpTransport, SyncClient

from .hub import FORM, FORM_HZ, Hub, HubDesk


class Recording(HttpTransport):
    """Notes each pull request's cursor and whether it was made from the desk's own thread."""

    def __init__(self, *args: Any, prefetch: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.PREFETCH = prefetch  # type: ignore[misc]
        self.pulls: list[tuple[int, bool]] = []

    def call(self, method: str, path: str, model: Any, **kw: Any) -> Any:
        if path == "/v1/pull":
            self.pulls.append((kw["params"]["cursor"], threading.current_thread() is threading.main_thread()))
        return super().call(method, path, model, **kw)


def _pull(hub: Hub, desk: HubDesk, *, prefetch: bool) -> Recording:
    transport = Recording(None, desk.token, client=hub.http, prefetch=prefetch)
    SyncClient(desk.db, transport, desk=desk.desk, clock=hub.clock, pull_limit=3).sync_once()
    return transport


def test_the_prefetching_pull_stores_what_the_plain_one_does(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    for form in (FORM_HZ, FORM, FORM_HZ, FORM, FORM, FORM_HZ, FORM):
        ct.store.dispatch(form, "B01")
        hub.clock.advance(minutes=1)
    ct.sync()
    ahead, plain = hub.add("SUP1", "supervisor"), hub.add("SUP2", "supervisor")
    fast = _pull(hub, ahead, prefetch=True)
    slow = _pull(hub, plain, prefetch=False)
    # the same cursors asked for, one page after another, and no page beyond the last
    assert [c for c, _ in fast.pulls] == [c for c, _ in slow.pulls] and len(fast.pulls) >= 3
    assert all(main for _, main in slow.pulls)
    assert not all(main for _, main in fast.pulls)  # the later pages were asked for from the prefetch thread
    for sql in (
        "SELECT id, order_id, kind, desk, desk_seq, hash FROM events ORDER BY id",
        "SELECT order_no, status, next_due FROM orders ORDER BY order_no",
        "SELECT event_id, status, server_seq FROM event_state ORDER BY event_id",
        "SELECT key, value FROM meta WHERE key LIKE 'sync.%' AND key <> 'sync.desk' ORDER BY key",
    ):
        assert ahead.rows(sql) == plain.rows(sql), sql
    assert len(ahead.rows("SELECT id FROM orders")) == 7
