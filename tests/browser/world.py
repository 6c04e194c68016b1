"""A small real world for the phone page: the sync server under uvicorn on a loopback port (a tmp SQLite
database, a clock the test moves), a call-taker desk that dispatches and syncs over real HTTP, people of units,
and headless Chromium (Debian's, driven by Playwright) at a phone's size.

Used by the browser tests (tests/browser/), the screenshots (``python -m tests.browser.screenshots``) and the
benchmark (tests/benchmarks/bench_phone.py).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from fengqiao.models.clock import UTC, FixedClock
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import OrderState
from fengqiao.models.roles import make_desk
from fengqiao.server import links
from fengqiao.server.app import create_app
from fengqiao.server.field import FieldConfig, FieldService
from fengqiao.server.people import People, Person
from fengqiao.server.store import ServerStore
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore
from fengqiao.store.sync import HttpTransport, SyncClient

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path(os.environ.get("FENGQIAO_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 390, "height": 844}
T0 = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
PASSWORD = "secret-pass-1"

FORM = IntakeForm(phone="13857512345", town="SHH", description="店里买到假货，老板不给退", address="人民路1号")
FORM_HZ = IntakeForm(phone="13857500000", town="HZ", description="有人往河边倒建筑垃圾", address="前岩村")
NEAR_RENMIN = {"latitude": 29.5890, "longitude": 120.8215, "accuracy": 12}  # some 100 m from 人民路 in 三界镇


def why_no_browser() -> str | None:
    """None when the browser tests can run, else the reason and how to install what is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: make setup (it is in the dev extra of pyproject.toml)"
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM}: apt-get install chromium fonts-noto-cjk (CI's .ci/run does this)"
    return None


def png(width: int = 8, height: int = 8, shade: int = 0x80) -> bytes:
    """A real PNG of grey pixels (zlib + struct, no imaging library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes([(shade + x * 9 + y * 5) & 0xFF for x in range(width)]) for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def scene_png(width: int = 96, height: int = 72, seed: int = 0) -> bytes:
    """A small RGB PNG that looks like a photo of a street from afar (sky, a building, the ground)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    left, right = 14 + seed * 22, 50 + seed * 22
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            if y > height * 0.7:
                px = (70 + (x * 7 + y * 3) % 20, 120 + seed * 10, 60)
            elif left <= x <= right and y > height * 0.25:
                window = (x - left) % 8 < 4 and (y % 10) < 5
                px = (240, 220, 150) if window else (150 - seed * 20, 140, 135)
            else:
                px = (120 + y, 170 + y // 2, 230)
            row += bytes(min(255, c) for c in px)
        rows.append(bytes(row))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class World:
    """One server on http://127.0.0.1:<port>, one call-taker desk ``CT1`` (prefix SZ) syncing with it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.clock = FixedClock(T0)
        self.server = ServerStore(f"sqlite:///{tmp / 'server.db'}", clock=self.clock)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(self.server, deliver=False, field=FieldConfig(public_url=self.url))
        self.field: FieldService = self.app.state.field
        self.people = People(self.server)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.uvicorn.run, name="phone-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.uvicorn.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        token = self.server.add_desk("CT1", "call_taker", prefix="SZ")
        self.desk = make_desk(self.server.ref, "CT1", "call_taker", prefix="SZ")
        self.db = Database(tmp / "ct1.db")
        self.orders = OrderStore(self.db, ref=self.server.ref, desk=self.desk, clock=self.clock)
        self.transport = HttpTransport(self.url, token)
        self.client = SyncClient(self.db, self.transport, desk=self.desk, clock=self.clock)

    def dispatch(self, form: IntakeForm = FORM, tag: str = "B01") -> OrderState:
        """The call-taker dispatches an order and syncs, so the server (and the phones) have it."""
        o = self.orders.dispatch(form, tag)
        self.sync()
        return o

    def sync(self) -> Any:
        return self.client.sync_once()

    def person(self, name: str, unit: str, *, lead: bool = False, login: str | None = None) -> tuple[Person, str]:
        """A person of a unit and their one-time code (what ``fengqiao server user-add`` prints)."""
        return self.people.add(name, unit, lead=lead, login=login)

    def link(self, order_id: str, unit: str, *, at: datetime | None = None) -> str:
        token = links.make(self.field.link_key(), order_id, unit, at or self.clock())
        return f"{self.url}/m/o/{token}"

    def server_events(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """The server's log (payloads decoded), optionally of one order."""
        out = []
        for e in self.server.events():
            if order_id is None or e["order_id"] == order_id:
                p = e.get("payload")
                out.append({**e, "payload": json.loads(p) if isinstance(p, str) else p})
        return out

    def close(self) -> None:
        self.uvicorn.should_exit = True
        self.thread.join(timeout=10)
        self.transport.close()
        self.db.close()
        self.server.close()


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def phone_context(
    browser: Browser, world: World, *, locale: str = "zh-CN", geo: bool = True, scale: float = 2
) -> BrowserContext:
    """A fresh phone: 390x844, touch, the locale's language, the location near 人民路 (when allowed)."""
    ctx = browser.new_context(
        viewport=VIEWPORT,
        device_scale_factor=scale,
        is_mobile=True,
        has_touch=True,
        locale=locale,
        timezone_id="Asia/Shanghai",
        base_url=world.url,
        geolocation=NEAR_RENMIN,
        permissions=["geolocation"] if geo else [],
    )
    ctx.set_default_timeout(10_000)
    return ctx


def first_signin(page: Page, login: str, code: str, password: str = PASSWORD) -> None:
    """On the sign-in view: the one-time code and a new password, twice."""
    page.click("#signin-toggle")
    page.fill("#login", login)
    page.fill("#code", code)
    page.fill("#new-password", password)
    page.fill("#new-password2", password)
    page.click("#signin-go")


def signin(page: Page, login: str, password: str = PASSWORD) -> None:
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("#signin-go")


def until(check: Any, timeout: float = 10.0, step: float = 0.02) -> Any:
    """Poll ``check()`` until it is truthy (server-side waits; the page's own waits use Playwright's)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(step)


def later(world: World, minutes: int) -> None:
    world.clock.advance(minutes=minutes)


__all__ = [
    "FORM",
    "FORM_HZ",
    "World",
    "chromium",
    "first_signin",
    "later",
    "phone_context",
    "png",
    "scene_png",
    "signin",
    "timedelta",
    "until",
    "why_no_browser",
]
