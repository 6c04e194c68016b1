"""A server that answers garbage, HTML, errors or nothing at all: the desk times out, retries with backoff, and
the console stays usable."""

from __future__ import annotations

import random
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fengqiao.console.app import FengqiaoApp
from fengqiao.console.commands.sync import console_sync
from fengqiao.console.config import load_config
from fengqiao.models.roles import make_desk
from fengqiao.screens.base import DeskBar
from fengqiao.screens.help import HelpScreen
from fengqiao.store.sync import Backoff, HttpTransport, SyncClient, SyncLoop, SyncUnavailable

ANSWERS = {
    "garbage": b"\x00\xff\xfe not http at all\r\n\r\n",
    "html": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 47\r\n\r\n"
    b"<html><body>Portal login required</body></html>",
    "json": b'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"hello":"world"}',
    "500": b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 5\r\n\r\noops!",
    "502": b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 11\r\n\r\n<h1>502</h1>",
    "close": b"",
}


class BadServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        self.stop = threading.Event()
        super().__init__(("127.0.0.1", 0), BadHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class BadHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: BadServer = self.server  # type: ignore[assignment]
        server.requests += 1
        self.request.settimeout(5)
        try:
            self.request.recv(65536)
        except OSError:
            return
        if server.mode == "hang":
            server.stop.wait(30)
            return
        try:
            self.request.sendall(ANSWERS[server.mode])
        except OSError:
            pass


@pytest.fixture
def bad_server(request: pytest.FixtureRequest) -> Iterator[BadServer]:
    server = BadServer(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("bad_server", ["garbage", "html", "json", "500", "502", "close", "hang"], indirect=True)
def test_a_bad_server_is_unavailable_not_a_crash(bad_server: BadServer, db, ref) -> None:
    transport = HttpTransport(bad_server.url, "fq1_x", timeout=0.5)
    client = SyncClient(db, transport, desk=make_desk(ref, "CT1", "call_taker"))
    started = time.monotonic()
    with pytest.raises(SyncUnavailable):
        client.sync_once()
    assert time.monotonic() - started < 4
    transport.close()


def test_nobody_listening_is_unavailable(db, ref) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    transport = HttpTransport(f"http://127.0.0.1:{port}", "fq1_x", timeout=0.5)
    with pytest.raises(SyncUnavailable, match="连不上"):
        SyncClient(db, transport).sync_once()


@pytest.mark.parametrize("bad_server", ["500"], indirect=True)
def test_retries_back_off_exponentially_with_jitter_up_to_a_cap(bad_server: BadServer, db) -> None:
    statuses = []
    loop = SyncLoop(
        lambda: SyncClient(db, HttpTransport(bad_server.url, "fq1_x", timeout=0.5)),
        db,
        "CT1",
        interval=5,
        backoff=Backoff(base=1, cap=16, rng=random.Random(3)),
        on_status=lambda st, _r: statuses.append(st),
    )
    client = loop.make_client()
    delays = [loop.run_once(client) for _ in range(7)]
    assert bad_server.requests == 7  # one attempt per round: the timer retries, not a tight loop
    for n, d in enumerate(delays):
        full = min(16, 2**n)
        assert full / 2 <= d <= full
    assert max(delays[5:]) <= 16 and len(set(delays)) == 7  # capped, jittered
    assert all(st.state == "offline" and "HTTP 500" in (st.error or "") for st in statuses)
    assert statuses[-1].text().startswith("○ 离线")


def test_backoff_resets_after_a_success() -> None:
    b = Backoff(base=1, cap=60, rng=random.Random(1))
    first = [b.next() for _ in range(4)]
    assert first[3] >= 4
    b.reset()
    assert b.next() <= 1


TIMEOUT = 3  # the desk's request timeout in the test below: long beside a key press, short for a test


@pytest.mark.parametrize("bad_server", ["hang"], indirect=True)
async def test_the_console_stays_usable_while_the_server_hangs(
    bad_server: BadServer, db, ref, clock, tmp_path: Path, monkeypatch
) -> None:
    config = tmp_path / "desk.toml"
    config.write_text(
        f'[desk]\nname = "CT1"\n\n[sync]\nserver = "{bad_server.url}"\ntoken = "fq1_x"\ntimeout = {TIMEOUT}\ninterval = 1\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    desk = make_desk(ref, "CT1", "call_taker")
    app = FengqiaoApp(db=db, desk=desk, clock=clock, sync=console_sync(load_config(), db, desk, clock))
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.sync is not None
        bar = app.screen.query_one(DeskBar)
        assert bar.sync_text.startswith("…")  # trying
        await pilot.press("f1")  # keys work while the sync thread waits on the network
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        # Both keys were handled while the first request still hangs (it gives up only after TIMEOUT seconds).
        assert not isinstance(app.screen, HelpScreen)
        assert app.screen.query_one(DeskBar).sync_text.startswith("…")
        for _ in range(TIMEOUT * 20):
            await pilot.pause(0.1)
            if app.screen.query_one(DeskBar).sync_text.startswith("○"):
                break
        assert app.screen.query_one(DeskBar).sync_text.startswith("○ 离线 待传0")
        started = time.monotonic()
        await pilot.press("ctrl+q")
    assert time.monotonic() - started < TIMEOUT  # quitting never waits for the hanging request
