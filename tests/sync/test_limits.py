"""Issue 11 item 6: a bounded server. Body limit before the body is read, streaming cap, slow and idle clients,
the connection cap, per-token rate limits, bad text answered 400, and the OpenAPI description of it all.

The network cases run a real uvicorn on 127.0.0.1 (an ephemeral port) in a thread, with short timeouts; each
is bounded to a few seconds."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from fengqiao.models.clock import FixedClock
from fengqiao.server.app import create_app
from fengqiao.server.limits import BoundedBody, Limits, uvicorn_options
from fengqiao.server.store import ServerStore
from fengqiao.server.textcheck import bad_event_text, suspect_text

from .hub import Hub

SMALL = Limits(max_body=1024 * 1024, body_timeout=1.0, header_timeout=0.6, keep_alive=0.5, max_connections=40)


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


class Running:
    def __init__(self, store: ServerStore, limits: Limits) -> None:
        app = create_app(store, deliver=False, limits=limits)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **uvicorn_options(limits))
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return s

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    store = ServerStore(f"sqlite:///{tmp_path / 'server.db'}")
    r = Running(store, SMALL)
    try:
        yield r
    finally:
        r.stop()
        store.close()


def read_all(s: socket.socket, limit: float = 5.0) -> bytes:
    s.settimeout(limit)
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return out


def test_a_100_mb_claim_is_refused_before_it_is_read(running: Running) -> None:
    before = rss()
    s = running.connect()
    s.sendall(
        b"POST /v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n" + b"{" * 1000
    )
    t0 = time.monotonic()
    answer = read_all(s)
    s.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - t0 < 2  # no waiting for the 100 MB, no token asked for first
    assert rss() - before < 20 * 1024 * 1024


def test_a_chunked_body_is_cut_off_at_the_limit(running: Running) -> None:
    before = rss()
    s = running.connect()
    s.sendall(
        b"POST /v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer fq1_x\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"a" * 65536
    sent = 0
    try:
        for _ in range(1600):  # up to 100 MB, if the server let it
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = read_all(s, 3)
    s.close()
    assert b" 413 " in answer[:40] or sent < 100 * 1024 * 1024, answer[:200]
    assert sent < 50 * 1024 * 1024  # the server stopped reading long before
    assert rss() - before < 40 * 1024 * 1024


def test_idle_and_slow_clients_are_closed_and_the_server_keeps_answering(running: Running) -> None:
    idle = [running.connect() for _ in range(60)]  # more than the connection cap, sending nothing
    slow = running.connect()
    t0 = time.monotonic()
    closed_at = None
    for b in b"GET /v1/health HTTP/1.1\r\nHost: x\r\n":  # a request head trickled a byte at a time
        try:
            slow.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.monotonic() - t0
            break
        time.sleep(0.05)
        if time.monotonic() - t0 > 3:
            break
    tail = read_all(slow, 2)
    assert closed_at is not None or tail == b"" or tail.startswith(b"HTTP/1.1 503")
    for s in idle:
        assert read_all(s, 3) in (b"",)  # closed by the server within the head timeout
        s.close()
    assert time.monotonic() - t0 < 8
    s = running.connect()
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_all(s).startswith(b"HTTP/1.1 200")
    s.close()


def test_the_connection_cap_answers_503_at_once(running: Running) -> None:
    held = [running.connect() for _ in range(SMALL.max_connections + 5)]
    try:
        time.sleep(0.1)
        s = held[-1]
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_all(s).startswith(b"HTTP/1.1 503")
    finally:
        for h in held:
            h.close()


def test_rate_limit_per_token_with_retry_after(tmp_path: Path) -> None:
    store = ServerStore(f"sqlite:///{tmp_path / 'server.db'}")
    now = [100.0]
    app = create_app(store, deliver=False)
    limited = BoundedBody(app, Limits(rate=1.0, burst=3), clock=lambda: now[0])
    try:
        with TestClient(limited) as http:
            a, b = {"Authorization": "Bearer fq1_a"}, {"Authorization": "Bearer fq1_b"}
            assert [http.get("/v1/hello", headers=a).status_code for _ in range(3)] == [401] * 3
            over = http.get("/v1/hello", headers=a)
            assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
            assert over.json()["detail"]
            assert http.get("/v1/hello", headers=b).status_code == 401  # another token has its own bucket
            assert http.get("/v1/health").status_code == 200  # liveness is never limited
            now[0] += 1.0
            assert http.get("/v1/hello", headers=a).status_code == 401
    finally:
        store.close()


def test_openapi_describes_the_error_answers(tmp_path: Path) -> None:
    store = ServerStore(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        with TestClient(create_app(store, deliver=False)) as http:
            spec = http.get("/openapi.json").json()
        for path in ("/v1/push", "/v1/pull", "/v1/hello"):
            op = next(iter(spec["paths"][path].values()))
            assert {"400", "401", "413", "429", "503"} <= set(op["responses"]), path
        assert "413" in spec["info"]["description"] and "429" in spec["info"]["description"]
        body = spec["paths"]["/v1/push"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        schemas = spec["components"]["schemas"]
        assert (
            body == {"$ref": "#/components/schemas/PushRequest"} and "protocol" in schemas["PushRequest"]["properties"]
        )
        assert {"WireEvent", "PushResponse", "Run"} <= set(schemas)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("bad", "escaped"), [("\ud800", "\\ud800"), ("a\x00b", "a\\u0000b")], ids=["lone-surrogate", "nul"]
)
def test_bad_text_is_a_400_not_a_500_or_503(hub: Hub, bad: str, escaped: str) -> None:
    from .hub import FORM

    ct = hub.add("CT1", "call_taker", prefix="SZ")
    ct.store.dispatch(FORM, "B01")
    w = ct.wire(1).model_dump()
    for field, value in (("actor", bad), ("desk", bad), ("payload", w["payload"].replace("假货", escaped))):
        body = json.dumps({"epoch": hub.server.epoch(), "events": [{**w, field: value}]})  # ASCII escapes
        resp = hub.http.post(
            "/v1/push",
            content=body,
            headers={"Authorization": f"Bearer {ct.token}", "Content-Type": "application/json"},
        )
        assert resp.status_code == 400, (field, resp.status_code, resp.text)
        assert "events[0]" in resp.json()["detail"]
    assert hub.server.events() == [] and hub.server.refused() == []  # nothing stored
    assert ct.sync().waiting == 0  # the honest event still goes through


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(["a", "短", "한", "😀", "\\", "u", "0", "d", "8", "\x00", "\ud800", "\udfff"])),
    st.booleans(),
    st.booleans(),
)
def test_the_byte_scan_sees_every_text_the_check_refuses(text: str, in_payload: bool, ascii_only: bool) -> None:
    """The push reads a body the long way only when its bytes may hold a NUL or a lone surrogate
    (server/textcheck.py): whatever the text and wherever it is, the scan never misses one the check refuses."""
    event = {"id": "e1", "actor": "x", "payload": "{}"}
    if in_payload:
        event["payload"] = json.dumps({"note": text}, ensure_ascii=ascii_only)
    else:
        event["actor"] = text
    raw = json.dumps({"events": [event]}, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    if bad_event_text(json.loads(raw)["events"][0], "events[0]"):
        assert suspect_text(raw), raw
    if not ascii_only and not any(c in text for c in ("\x00", "\ud800", "\udfff", "\\")):
        assert not suspect_text(raw), raw  # as desks send it (UTF-8): plain text, emoji and Hangul go the short way


def test_a_batch_over_the_body_limit_is_split_not_stuck(tmp_path: Path) -> None:
    """A desk whose batch the server answers with 413 sends it in halves until it fits, and the queue goes on
    (it stopped here before, for good)."""
    from fengqiao.models.roles import make_desk
    from fengqiao.store.db import Database
    from fengqiao.store.orders import OrderStore
    from fengqiao.store.sync import HttpTransport, SyncClient

    from .hub import FORM
    from .sim import T0

    clock = FixedClock(T0)
    store = ServerStore(f"sqlite:///{tmp_path / 'server.db'}", clock=clock)
    token = store.add_desk("CT1", "call_taker", prefix="SZ")
    app = create_app(store, deliver=False, limits=Limits(max_body=64 * 1024))
    desk = make_desk(store.ref, "CT1", "call_taker", prefix="SZ")
    db = Database(tmp_path / "ct.db")
    orders = OrderStore(db, ref=store.ref, desk=desk, clock=clock)
    form = dataclasses.replace(FORM, description="楼上漏水，" * 190)
    for _ in range(60):  # 60 dispatches of ~3 KB: some 200 KB in one batch, three times the limit
        orders.dispatch(form, "B01")
        clock.advance(minutes=1)
    try:
        with TestClient(app) as http:
            client = SyncClient(db, HttpTransport(None, token, client=http), desk=desk, clock=clock)
            report = client.sync_once()
        assert report.pushed == 60 and report.waiting == 0 and report.problems == [], report
        assert len(store.events()) == 60
    finally:
        db.close()
        store.close()
