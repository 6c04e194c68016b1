"""Screenshots of every view of the phone page at 390x844, in Chinese and English, into docs/images/phone/.

    .venv/bin/python -m tests.browser.screenshots            # both languages
    .venv/bin/python -m tests.browser.screenshots --lang en  # one

The same world as the browser tests (tests/browser/world.py): a real server on loopback, a call-taker desk
dispatching over HTTP, Debian's Chromium. The server's clock is fixed (28 Nov 2026, 09:30 in Shanghai) and the
page's clock is set to it, so the pictures say the same times on every run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from fengqiao.models.intake import IntakeForm

from .world import FORM, FORM_HZ, World, chromium, first_signin, phone_context, scene_png, why_no_browser

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

OUT = Path(__file__).resolve().parents[2] / "docs" / "images" / "phone"
VIEWS = [
    ("signin", "sign-in"),
    ("first", "first sign-in: the one-time code and a new password"),
    ("list", "my orders, most urgent first"),
    ("order", "one order, not signed yet (the number masked)"),
    ("arrived", "signed and arrived: tap-to-call, the arrival's distance, the timeline"),
    ("arrive-denied", "arriving without location permission"),
    ("feedback", "the feedback sheet: result, quick phrases, two photos"),
    ("done", "fed back: the photos"),
    ("return", "the return sheet"),
    ("extend", "the extension sheet"),
    ("note", "a progress note (过程反馈)"),
    ("hand", "a lead hands an order to a member"),
    ("offline", "offline: the list as last fetched, actions waiting to be sent"),
    ("link-expired", "an expired link"),
]


def _page(ctx: BrowserContext, world: World) -> Page:
    page = ctx.new_page()
    # the page's clock at the server's (fixed) time, ticking from there
    page.clock.install(time=world.clock().timestamp())
    return page


def _shot(page: Page, lang: str, name: str) -> None:
    page.wait_for_timeout(120)  # let fonts and thumbnails settle
    page.evaluate("document.getElementById('toast').hidden = true")
    page.screenshot(path=str(OUT / f"{lang}-{name}.png"), animations="disabled", caret="initial")
    print(f"{lang}-{name}.png", file=sys.stderr)


def shoot(browser: Browser, lang: str) -> None:
    locale = "en-US" if lang == "en" else "zh-CN"
    with tempfile.TemporaryDirectory() as tmp:
        world = World(Path(tmp))
        try:
            _shoot(browser, world, lang, locale)
        finally:
            world.close()


def _shoot(browser: Browser, world: World, lang: str, locale: str) -> None:
    # The orders of the morning: one overdue, one to sign, one to do
    world.clock.advance(minutes=-40)
    late = world.dispatch(
        IntakeForm(phone="13900001111", town="SHH", description="超市卖过期牛奶", address="人民路8号"), "A10"
    )
    world.clock.advance(minutes=32)
    o = world.dispatch(FORM, "B01")
    world.clock.advance(minutes=6)
    world.dispatch(
        IntakeForm(
            phone="13700002222",
            town="SHH",
            description="小区电梯困人，已出来了，要求检修",
            address="剡湖街道花园小区3幢",
        ),
        "C19",
    )
    world.clock.advance(minutes=2)
    person, code = world.person("王五" if lang == "zh" else "Wang Wu", "SCJG", login="wangwu")

    ctx = phone_context(browser, world, locale=locale, scale=1)
    page = _page(ctx, world)
    page.goto("/m/")
    page.locator("#signin-form").wait_for()
    _shot(page, lang, "signin")
    page.click("#signin-toggle")
    page.fill("#login", "wangwu")
    page.fill("#code", code)
    _shot(page, lang, "first")
    page.click("#signin-toggle")
    first_signin(page, person.login, code)
    page.locator(".card").first.wait_for()
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null")
    _shot(page, lang, "list")

    page.locator(f".card[data-no='{o.order_no}']").click()
    page.locator("[data-act=sign]").wait_for()
    _shot(page, lang, "order")
    world.clock.advance(minutes=2)
    page.clock.run_for(120_000)
    page.click("[data-act=sign]")
    page.locator("[data-act=arrive]").wait_for()
    page.click("[data-act=return]")
    page.fill("#sheet-text", "商家在外县，不属于本所辖区" if lang == "zh" else "The shop is outside our county")
    _shot(page, lang, "return")
    page.click("#sheet .btn:not(.primary)")
    world.clock.advance(minutes=18)
    page.clock.run_for(18 * 60_000)
    page.click("[data-act=arrive]")
    page.locator("#d-distance").wait_for()
    page.evaluate("document.getElementById('d-phone').closest('.box').scrollIntoView({block: 'start'})")
    _shot(page, lang, "arrived")

    page.click("[data-act=note]")
    page.fill(
        "#sheet-text", "已电话联系商家，下午到店" if lang == "zh" else "Phoned the shop; going there this afternoon"
    )
    _shot(page, lang, "note")
    page.click("#sheet .btn:not(.primary)")
    page.click("[data-act=extend]")
    page.fill("#ext-reason", "需等商家下周回来协商" if lang == "zh" else "The owner is back next week")
    _shot(page, lang, "extend")
    page.click("#sheet .btn:not(.primary)")

    world.clock.advance(minutes=25)
    page.clock.run_for(25 * 60_000)
    page.click("[data-act=feedback]")
    page.click("[data-result=resolved]")
    page.locator("#fb-phrases .phrase").first.click()
    page.locator("#fb-text").press("End")
    page.locator("#fb-text").type("，顾客满意" if lang == "zh" else ", the customer is satisfied")
    page.set_input_files(
        "#fb-photo",
        [{"name": f"p{i}.png", "mimeType": "image/png", "buffer": scene_png(seed=i)} for i in range(2)],
    )
    page.locator("#fb-thumbs .thumb").nth(1).wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#fb-thumbs .st')].every(e => !/上传中|uploading/.test(e.textContent))"
    )
    page.locator("#fb-photo").evaluate("e => e.closest('.field').scrollIntoView({block: 'end'})")
    _shot(page, lang, "feedback")
    page.click("#fb-send")
    page.locator("#d-photos img").nth(1).wait_for()
    page.wait_for_timeout(400)  # the order is fetched again after the answer
    page.evaluate("document.getElementById('d-photos').scrollIntoView({block: 'center'})")
    _shot(page, lang, "done")

    # offline: back to the list, no signal, sign the overdue one
    page.click("#back")
    page.locator(".card").first.wait_for()
    ctx.set_offline(True)
    page.locator(f".card[data-no='{late.order_no}']").click()
    page.click("[data-act=sign]")
    page.locator("#queue-banner").wait_for()
    page.reload()
    page.locator("#offline-banner").wait_for()
    page.click("#back")
    page.locator(".card").first.wait_for()
    _shot(page, lang, "offline")
    ctx.set_offline(False)
    page.locator("#queue-banner").wait_for(state="detached")

    page.goto(world.link(o.id, "SCJG", at=world.clock() - timedelta(hours=73)))
    page.locator("#link-problem").wait_for()
    _shot(page, lang, "link-expired")
    ctx.close()

    # without location permission, on another order
    other = world.dispatch(
        IntakeForm(phone="13600003333", town="SHH", description="网购退货商家拒收", address="人民路20号"), "B01"
    )
    ctx = phone_context(browser, world, locale=locale, scale=1, geo=False)
    page = _page(ctx, world)
    page.goto("/m/")
    page.fill("#login", person.login)
    page.fill("#password", "secret-pass-1")
    page.click("#signin-go")
    page.locator(f".card[data-no='{other.order_no}']").click()
    page.click("[data-act=sign]")
    page.locator("[data-act=arrive]").wait_for()
    page.click("[data-act=arrive]")
    page.locator("#arrive-without").wait_for()
    _shot(page, lang, "arrive-denied")
    ctx.close()

    # a township team's lead hands an order out
    hz = world.dispatch(FORM_HZ, "B04")
    unit = world.orders.order(hz.order_no).primary.assignee
    lead, lead_code = world.person("李四" if lang == "zh" else "Li Si", unit, lead=True, login="lisi")
    for n in ("甲", "乙", "丙") if lang == "zh" else ("Jia", "Yi", "Bing"):
        world.person(n, unit)
    ctx = phone_context(browser, world, locale=locale, scale=1)
    page = _page(ctx, world)
    page.goto("/m/")
    first_signin(page, lead.login, lead_code)
    page.locator(f".card[data-no='{hz.order_no}']").click()
    page.click("[data-act=hand]")
    page.locator("#hand-members .choice").nth(1).click()
    page.fill("#hand-note", "你去看看，注意安全" if lang == "zh" else "Please go and see; take care")
    _shot(page, lang, "hand")
    ctx.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.screenshots")
    parser.add_argument("--lang", choices=["zh", "en"], action="append")
    args = parser.parse_args(argv)
    reason = why_no_browser()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        for lang in args.lang or ["zh", "en"]:
            shoot(browser, lang)
    return 0


if __name__ == "__main__":
    sys.exit(main())
