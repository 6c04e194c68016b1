"""The console's background sync against a real HTTP server: status in the header, this desk's order pushed
and another desk's order pulled in the background."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from fengqiao.console.app import FengqiaoApp
from fengqiao.console.commands.sync import console_sync
from fengqiao.console.config import load_config
from fengqiao.models.roles import make_desk
from fengqiao.screens.base import DeskBar
from fengqiao.server.app import create_app
from fengqiao.server.store import ServerStore
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore
from fengqiao.store.sync import HttpTransport, SyncClient

from .hub import FORM


@pytest.fixture
def live_server(tmp_path: Path, clock) -> Iterator[tuple[str, ServerStore]]:
    store = ServerStore(f"sqlite:///{tmp_path / 'server.db'}", clock=clock)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(store, deliver=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not server.started and time.monotonic() < end:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


async def test_the_console_syncs_in_the_background(live_server, db, ref, clock, tmp_path: Path, monkeypatch) -> None:
    url, server = live_server
    token = server.add_desk("CT1", "call_taker", prefix="SZ")
    other_token = server.add_desk("CT2", "call_taker", prefix="SZB")
    config = tmp_path / "desk.toml"
    config.write_text(
        f'[desk]\nname = "CT1"\n\n[sync]\nserver = "{url}"\ntoken = "{token}"\ninterval = 1\n', encoding="utf-8"
    )
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    desk = make_desk(ref, "CT1", "call_taker", prefix="SZ")
    # another desk has already sent an order
    other = Database(tmp_path / "other.db")
    theirs = OrderStore(other, ref=ref, desk=make_desk(ref, "CT2", "call_taker", prefix="SZB"), clock=clock)
    their_order = theirs.dispatch(FORM, "C04")
    SyncClient(other, HttpTransport(url, other_token), desk=theirs.desk).sync_once()
    other.close()

    app = FengqiaoApp(db=db, desk=desk, clock=clock, sync=console_sync(load_config(), db, desk, clock))
    async with app.run_test(size=(80, 24)) as pilot:
        mine = app.store.dispatch(FORM, "B01")  # as the intake screen would
        for _ in range(100):
            await pilot.pause(0.1)
            text = app.screen.query_one(DeskBar).sync_text
            if text.startswith("● 在线 待传0") and len(server.events()) == 2:
                break
        assert app.screen.query_one(DeskBar).sync_text == "● 在线 待传0"
        assert {e["desk"] for e in server.events()} == {"CT1", "CT2"}
        assert {r.order_no for r in app.store.list_orders()} == {mine.order_no, their_order.order_no}
        await pilot.press("ctrl+q")
