"""The phone page (issue 14) in headless Chromium on loopback: the first load (bytes on the wire, first
contentful paint, the list of orders on screen) and the time from a tap on 签收 to the event in the server's
log, beside the plain API call doing the same (the floor).

The world is the browser tests' (tests/browser/world.py): the real server under uvicorn on 127.0.0.1, a
call-taker desk dispatching over HTTP, Debian's Chromium through Playwright. Skipped, with the reason, when
Chromium or playwright is missing.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from fengqiao.server.schema import SrvEvent
from tests.browser.world import PASSWORD, World, chromium, phone_context, why_no_browser

from .common import Context, Row

GOAL_BYTES = 100 * 1024
LISTED = 8  # open orders on the person's list at the first load


def _signed(world: World, login: str) -> dict[str, Any]:
    r = httpx.post(f"{world.url}/v1/field/signin", json={"login": login, "password": PASSWORD})
    r.raise_for_status()
    return {"cookie": r.cookies["fq_field"], "csrf": r.json()["csrf"]}


def _in_log(world: World, order_id: str, kind: str) -> bool:
    with world.server.read() as conn:
        q = select(SrvEvent.seq).where(SrvEvent.order_id == order_id, SrvEvent.kind == kind).limit(1)
        return conn.execute(q).first() is not None


def _wait_in_log(world: World, order_id: str, kind: str, started: float, timeout: float = 10.0) -> float:
    while not _in_log(world, order_id, kind):
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{kind} of {order_id} not in the server's log after {timeout} s")
        time.sleep(0.0005)
    return (time.perf_counter() - started) * 1000


def bench(ctx: Context) -> list[Row]:
    reason = why_no_browser()
    if reason:
        return [Row("phone", "skipped", "-", note=reason)]
    loads = 3 if ctx.quick else 7
    taps = 5 if ctx.quick else 15
    work = ctx.scratch("phone")
    work.mkdir(parents=True)
    world = World(work)
    try:
        person, code = world.person("王五", "SCJG", login="wangwu")
        world.people.sign_in(person.login, code=code, new_password=PASSWORD)
        with chromium() as browser:
            for _ in range(LISTED):
                world.dispatch()
            rows = _first_load(browser, world, person.login, loads)
            orders = [world.dispatch() for _ in range(2 * taps)]
            rows += _taps(browser, world, person.login, orders[:taps], orders[taps:])
    finally:
        world.close()
    return rows


def _first_load(browser: Any, world: World, login: str, repeat: int) -> list[Row]:
    sizes: list[int] = []
    shells: list[int] = []
    fcps: list[float] = []
    listed: list[float] = []
    detail = ""
    for i in range(repeat):
        # a phone that has never seen the page (no HTTP cache, no service worker yet), already signed in
        context = phone_context(browser, world)
        session = _signed(world, login)
        context.add_cookies([{"name": "fq_field", "value": session["cookie"], "url": world.url}])
        page = context.new_page()
        seen: list[Any] = []
        page.on("requestfinished", lambda r: seen.append(r))
        page.goto("/m/")
        page.locator(".card").first.wait_for()
        # the page marks the moment it first draws the list of orders
        shown = page.evaluate("() => performance.getEntriesByName('fq:list')[0].startTime")
        fcp = page.evaluate(
            "() => (performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint') || {}).startTime"
        )
        page.wait_for_load_state("networkidle")
        total = shell = 0
        parts = []
        for req in seen:
            s = req.sizes()
            n = s["responseBodySize"] + s["responseHeadersSize"]
            total += n
            shell += n if "/v1/" not in req.url else 0
            parts.append((req.url.removeprefix(world.url), n))
        sizes.append(total)
        shells.append(shell)
        if fcp is not None:
            fcps.append(float(fcp))
        listed.append(float(shown))
        if i == 0:
            detail = ", ".join(f"{u} {n / 1024:.1f}" for u, n in parts)
        context.close()
    size = statistics.median(sizes)
    return [
        Row(
            "phone",
            f"first load of /m/ signed in, {LISTED} orders listed: bytes on the wire",
            size / 1024,
            "KB",
            note=f"goal ≤ {GOAL_BYTES // 1024} KB: {'PASS' if size <= GOAL_BYTES else 'FAIL'}; no compression; {detail} KB",
        ),
        Row("phone", "… of which the page itself (HTML, CSS, JS, icon)", statistics.median(shells) / 1024, "KB"),
        Row("phone", "first contentful paint (headless Chromium, loopback)", statistics.median(fcps), "ms"),
        Row(
            "phone",
            "the list of orders drawn (from navigation start; the page's mark)",
            statistics.median(listed),
            "ms",
        ),
    ]


def _taps(browser: Any, world: World, login: str, by_page: list[Any], by_api: list[Any]) -> list[Row]:
    context = phone_context(browser, world)
    session = _signed(world, login)
    context.add_cookies([{"name": "fq_field", "value": session["cookie"], "url": world.url}])
    page = context.new_page()
    page.goto("/m/")
    page.locator(".card").first.wait_for()
    tap_ms: list[float] = []
    for o in by_page:
        page.goto(f"/m/#/o/{o.id}")
        button = page.locator("[data-act=sign]")
        button.wait_for()
        page.wait_for_timeout(50)
        box = button.bounding_box()
        assert box is not None
        started = time.perf_counter()
        # a touch at the button's place, as a finger does (Locator.tap would first wait for the button to be
        # stable over animation frames, which is Playwright's time, not the page's)
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        tap_ms.append(_wait_in_log(world, o.id, "sign", started))
    context.close()

    api_ms: list[float] = []
    with httpx.Client(base_url=world.url, cookies={"fq_field": session["cookie"]}) as http:
        for o in by_api:
            started = time.perf_counter()
            r = http.post(
                f"/v1/field/orders/{o.id}/actions",
                json={"key": str(uuid.uuid4()), "action": "sign"},
                headers={"X-CSRF-Token": session["csrf"]},
            )
            r.raise_for_status()
            api_ms.append(_wait_in_log(world, o.id, "sign", started))
    return [
        Row(
            "phone",
            "tap on 签收 → the sign event in the server's log",
            statistics.median(tap_ms),
            "ms",
            floor=statistics.median(api_ms),
            note=f"median of {len(tap_ms)}; floor: POST …/actions with httpx → the event in the log",
        )
    ]
