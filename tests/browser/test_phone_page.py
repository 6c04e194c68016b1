"""The phone page (server/phone/) in a real headless Chromium at 390x844, against the real server over HTTP.

What issue 14 asks to see: a member signs in with the one-time code, signs an order a call-taker desk
dispatched, arrives with an emulated location, feeds back with two photos, and after a sync the call-taker's
desk has the order fed back, the distance and the photos' hashes; offline, arrival and feedback wait on the
phone and land exactly once when the signal returns; a member of another unit gets nothing; an expired or
edited link is refused; the sixth wrong password is refused even when right (the account is locked).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from fengqiao.console.serialize import order_json

from .world import FORM_HZ, NEAR_RENMIN, PASSWORD, World, first_signin, later, phone_context, png, signin, until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytest.importorskip("playwright", reason="playwright is not installed: make setup (it is in the dev extra)")
from playwright.sync_api import expect  # noqa: E402

SHOTS = [png(8, 8, 0x30), png(12, 9, 0xA0)]


def photo_files() -> list[dict[str, Any]]:
    return [{"name": f"p{i}.png", "mimeType": "image/png", "buffer": b} for i, b in enumerate(SHOTS)]


def kinds(world: World, order_id: str) -> list[str]:
    return [e["kind"] for e in world.server_events(order_id)]


def open_first_order(page: Page, order_no: str) -> None:
    page.locator(f".card[data-no='{order_no}']").click()
    expect(page.locator("#d-tag")).to_be_visible()


def test_a_member_signs_arrives_and_feeds_back_with_two_photos_and_the_desk_sees_it(world: World, page: Page) -> None:
    o = world.dispatch()
    person, code = world.person("王五", "SCJG")
    page.goto("/m/")
    first_signin(page, person.login, code)
    card = page.locator(f".card[data-no='{o.order_no}']")
    expect(card).to_contain_text("待签收")
    expect(card).to_contain_text("签收剩 10 分")  # the tag's 10 minutes, counted from the server's clock
    card.click()
    expect(page.locator("#d-said")).to_have_text("店里买到假货，老板不给退")
    expect(page.locator("#d-phone")).to_have_text("138****2345")  # nobody holds it yet: masked

    later(world, 3)
    page.locator("[data-act=sign]").click()  # one tap
    expect(page.locator("#d-status")).to_have_text("已签收")
    expect(page.locator("a#d-phone")).to_have_attribute("href", "tel:13857512345")  # signing took it on

    later(world, 20)
    page.locator("[data-act=arrive]").click()
    expect(page.locator("#d-status")).to_have_text("已到场")
    expect(page.locator("#d-distance")).to_contain_text("距报警地址约")

    later(world, 30)
    page.locator("[data-act=feedback]").click()
    page.locator("[data-result=resolved]").click()
    page.locator("#fb-phrases .phrase").first.click()
    phrase = page.locator("#fb-phrases .phrase").first.inner_text()
    page.locator("#fb-text").press("End")
    page.locator("#fb-text").type("，顾客满意")
    page.set_input_files("#fb-photo", photo_files())
    expect(page.locator("#fb-thumbs .st")).to_have_text(["已上传", "已上传"])
    page.locator("#fb-send").click()
    expect(page.locator("#sheet-wrap")).to_be_hidden()
    expect(page.locator("#d-photos img")).to_have_count(2)
    expect(page.locator("#actions [data-act]")).to_have_count(1)  # only a progress note is left
    expect(page.locator("#actions [data-act=note]")).to_be_visible()

    assert kinds(world, o.id) == ["dispatch", "sign", "arrive", "feedback"]
    world.sync()  # the call-taker's desk pulls what the phone did
    state, events = world.orders.order_with_events(o.order_no)
    a = state.primary
    assert a.status == "fed_back" and a.result == "resolved" and a.feedback_text == f"{phrase}，顾客满意"
    assert a.location is not None and a.location["lat"] == pytest.approx(NEAR_RENMIN["latitude"])
    assert [p["sha256"] for p in a.photos] == [hashlib.sha256(b).hexdigest() for b in SHOTS]
    shown = order_json(world.server.ref, state)["assignments"][0]
    assert 0 < shown["location"]["distance_m"] < 300 and shown["location"]["place"] == "人民路"
    by_phone = [e for e in events if e.kind in ("sign", "arrive", "feedback")]
    assert {e.actor for e in by_phone} == {"王五"} and {e.payload["person"] for e in by_phone} == {person.id}


def test_offline_the_arrival_and_feedback_wait_on_the_phone_and_land_exactly_once(
    world: World, context: BrowserContext, page: Page
) -> None:
    o = world.dispatch()
    person, code = world.person("王五", "SCJG")
    page.goto("/m/")
    first_signin(page, person.login, code)
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null")
    # the worker now keeps who is signed in (asked again when it took control) ...
    page.wait_for_function(
        "() => caches.open('fq-api').then(c => c.match(location.origin + '/v1/field/me')).then(Boolean)"
    )
    open_first_order(page, o.order_no)  # ... and this order, fetched through it
    page.locator("[data-act=sign]").click()
    expect(page.locator("#d-status")).to_have_text("已签收")

    context.set_offline(True)
    page.locator("[data-act=arrive]").click()
    expect(page.locator("#toast")).to_contain_text("没有网络")
    expect(page.locator("#d-status")).to_have_text("已到场")  # what it will be once sent
    expect(page.locator("#queue-banner")).to_contain_text("1 项操作待发送")
    page.locator("[data-act=feedback]").click()
    page.locator("[data-result=unresolved]").click()
    page.locator("#fb-text").fill("商家不在，明天再去")
    page.set_input_files("#fb-photo", photo_files())
    expect(page.locator("#fb-thumbs .st")).to_have_text(["存在手机上", "存在手机上"])
    page.locator("#fb-send").click()
    expect(page.locator("#queue-banner")).to_contain_text("2 项操作待发送")
    expect(page.locator("#d-pending li[data-state=waiting]")).to_have_count(2)
    assert kinds(world, o.id) == ["dispatch", "sign"]  # nothing reached the server

    page.reload()  # still offline: the shell, the order and the queue come from the phone
    expect(page.locator("#offline-banner")).to_contain_text("离线：显示的是")
    expect(page.locator("#d-tag")).to_have_text("消费纠纷")
    expect(page.locator("#queue-banner")).to_contain_text("2 项操作待发送")

    context.set_offline(False)  # the page sends the queue when `online` fires
    until(lambda: kinds(world, o.id) == ["dispatch", "sign", "arrive", "feedback"])
    expect(page.locator("#queue-banner")).to_have_count(0)
    expect(page.locator("#offline-banner")).to_have_count(0)
    expect(page.locator("#d-photos img")).to_have_count(2)
    page.reload()
    expect(page.locator("#d-tag")).to_be_visible()
    assert kinds(world, o.id) == ["dispatch", "sign", "arrive", "feedback"]  # exactly once
    fb = world.server_events(o.id)[-1]["payload"]
    assert [p["sha256"] for p in fb["photos"]] == [hashlib.sha256(b).hexdigest() for b in SHOTS]


def test_an_answer_lost_on_the_way_back_is_resent_with_the_same_key_and_stored_once(world: World, page: Page) -> None:
    o = world.dispatch()
    person, code = world.person("王五", "SCJG")
    page.goto("/m/")
    first_signin(page, person.login, code)
    open_first_order(page, o.order_no)
    keys: list[str] = []

    def lose_first_answer(route: Any) -> None:
        keys.append(route.request.post_data_json["key"])
        if len(keys) == 1:
            route.fetch()  # the server stores it ...
            route.abort("connectionreset")  # ... and the answer never reaches the phone
        else:
            route.continue_()

    page.route("**/v1/field/orders/*/actions", lose_first_answer)
    with page.expect_response("**/actions") as answer:
        page.locator("[data-act=sign]").click()  # no answer: the page sends it again, same key
    assert answer.value.json()["status"] == "duplicate" and keys == [keys[0], keys[0]]
    expect(page.locator("#d-status")).to_have_text("已签收")
    expect(page.locator("#queue-banner")).to_have_count(0)
    assert kinds(world, o.id) == ["dispatch", "sign"]


def test_a_member_of_another_unit_gets_nothing(world: World, page: Page) -> None:
    o = world.dispatch()
    person, code = world.person("赵六", "ZJJ")
    page.goto("/m/")
    first_signin(page, person.login, code)
    expect(page.locator("#empty")).to_have_text("现在没有要处理的工单")
    page.goto(f"/m/#/o/{o.id}")
    expect(page.locator("#order-error")).to_have_text("没有这张工单，或它不归你办理")
    page.goto(world.link(o.id, "SCJG"))  # the department's link, opened by someone else
    expect(page.locator("#link-problem")).to_contain_text("链接不能用")
    expect(page.locator("#link-problem")).to_contain_text("其他单位")
    assert kinds(world, o.id) == ["dispatch"]


def test_a_link_opens_its_order_after_sign_in_and_an_expired_or_edited_one_is_refused(world: World, page: Page) -> None:
    o = world.dispatch()
    person, code = world.person("王五", "SCJG")
    page.goto(world.link(o.id, "SCJG"))
    expect(page.locator("#signin-form")).to_be_visible()  # no session: sign in first ...
    first_signin(page, person.login, code)
    expect(page.locator("#d-tag")).to_have_text("消费纠纷")  # ... then the order
    assert page.url.endswith(f"/m/#/o/{o.id}")

    page.goto(world.link(o.id, "SCJG", at=world.clock() - timedelta(hours=73)))
    expect(page.locator("#link-problem")).to_contain_text("链接已过期")
    good = world.link(o.id, "SCJG")
    edited = good[:-1] + ("A" if good[-1] != "A" else "B")
    page.goto(edited)
    expect(page.locator("#link-problem")).to_contain_text("链接不能用")
    expect(page.locator("#link-problem")).to_contain_text("被改动过")
    forged_unit = good.replace(".SCJG.", ".ZJJ.")
    page.goto(forged_unit)
    expect(page.locator("#link-problem")).to_contain_text("链接不能用")


def test_the_sixth_wrong_password_is_refused_even_when_right(world: World, page: Page) -> None:
    person, code = world.person("王五", "SCJG")
    world.people.sign_in(person.login, code=code, new_password=PASSWORD)
    page.goto("/m/")
    err = page.locator("#signin-error")
    for _ in range(4):
        signin(page, person.login, "wrong-password")
        expect(err).to_have_text("登录名或密码不对")
        page.locator("#signin-go").wait_for(state="attached")
    signin(page, person.login, "wrong-password")  # the fifth: locked
    expect(err).to_contain_text("已锁定")
    signin(page, person.login, PASSWORD)  # the sixth, right, and still refused
    expect(err).to_contain_text("已锁定")
    expect(page.locator("#orders")).to_have_count(0)
    later(world, 16)
    signin(page, person.login, PASSWORD)
    expect(page.locator("#orders")).to_be_visible()


def test_arriving_without_location_says_so_and_a_photo_required_order_asks_for_one(
    browser: Browser, world: World
) -> None:
    o = world.dispatch(tag="A01")  # 违章搭建: a site visit, and the feedback needs a photo
    unit = world.orders.order(o.order_no).primary.assignee
    person, code = world.person("钱七", unit)
    ctx = phone_context(browser, world, geo=False)  # location permission not granted
    try:
        page = ctx.new_page()
        page.goto("/m/")
        first_signin(page, person.login, code)
        open_first_order(page, o.order_no)
        page.locator("[data-act=sign]").click()
        expect(page.locator("#d-status")).to_have_text("已签收")
        page.locator("[data-act=arrive]").click()
        expect(page.locator("#arrive-status")).to_have_text("没有位置权限：你拒绝了定位")
        page.locator("#arrive-without").click()
        expect(page.locator("#d-status")).to_have_text("已到场")
        assert world.server_events(o.id)[-1]["payload"].get("no_location") is True

        page.locator("[data-act=feedback]").click()
        page.locator("[data-result=resolved]").click()
        page.locator("#fb-text").fill("已拆除")
        page.locator("#fb-send").click()
        expect(page.locator("#sheet [data-error=sheet]")).to_have_text("这类工单须附至少一张照片")
        page.set_input_files("#fb-photo", photo_files()[:1])
        expect(page.locator("#fb-thumbs .st")).to_have_text(["已上传"])
        page.locator("#fb-send").click()
        expect(page.locator("#d-photos img")).to_have_count(1)
        assert kinds(world, o.id)[-1] == "feedback"
    finally:
        ctx.close()


def test_a_lead_hands_an_order_to_a_member(browser: Browser, world: World) -> None:
    o = world.dispatch(FORM_HZ, "B04")  # 邻里纠纷 in 黄泽镇: the township team and the police station
    unit = world.orders.order(o.order_no).primary.assignee
    lead, lead_code = world.person("李四", unit, lead=True)
    member, member_code = world.person("甲", unit)
    ctx = phone_context(browser, world)
    try:
        page = ctx.new_page()
        page.goto("/m/")
        first_signin(page, lead.login, lead_code)
        expect(page.locator(".who")).to_contain_text("（负责人）")
        open_first_order(page, o.order_no)
        page.locator("[data-act=hand]").click()
        page.locator(f"#hand-members [data-person='{member.id}']").click()
        page.locator("#hand-note").fill("你去看看")
        page.locator("#hand-send").click()
        expect(page.locator("#d-holder")).to_have_text("甲")
        hand = world.server_events(o.id)[-1]
        assert hand["kind"] == "hand" and hand["payload"]["person"] == member.id
    finally:
        ctx.close()


def test_english_by_the_browsers_language_and_by_the_switch(browser: Browser, world: World) -> None:
    o = world.dispatch()
    person, code = world.person("Wang", "SCJG")
    ctx = phone_context(browser, world, locale="en-US")
    try:
        page = ctx.new_page()
        page.goto("/m/")
        expect(page.locator("#signin-go")).to_have_text("Sign in")
        first_signin(page, person.login, code)
        card = page.locator(f".card[data-no='{o.order_no}']")
        expect(card).to_contain_text("To sign")
        expect(card).to_contain_text("Consumer disputes")  # the server answers in English too
        page.locator("#lang").click()
        expect(card).to_contain_text("待签收")
        expect(card).to_contain_text("消费纠纷")
    finally:
        ctx.close()


def test_caller_text_is_shown_literally(world: World, page: Page) -> None:
    from fengqiao.models.intake import IntakeForm

    o = world.dispatch(
        IntakeForm(
            phone="13857512345", town="SHH", description='<img src=x onerror="alert(1)"> 假货', address="人民路1号"
        )
    )
    person, code = world.person("王五", "SCJG")
    page.goto("/m/")
    first_signin(page, person.login, code)
    open_first_order(page, o.order_no)
    expect(page.locator("#d-said")).to_have_text('<img src=x onerror="alert(1)"> 假货')
    assert page.locator("#d-said img").count() == 0


def test_a_progress_note_changes_nothing_but_is_on_the_timeline(world: World, page: Page) -> None:
    o = world.dispatch()
    person, code = world.person("王五", "SCJG")
    page.goto("/m/")
    first_signin(page, person.login, code)
    open_first_order(page, o.order_no)
    page.locator("[data-act=note]").click()
    page.locator("#sheet-send").click()
    expect(page.locator("#sheet [data-error=sheet]")).to_have_text("请写进展情况")  # nothing sent empty
    page.locator("#sheet-text").fill("已电话联系商家，下午到店")
    page.locator("#sheet-send").click()
    expect(page.locator("#d-timeline")).to_contain_text("已电话联系商家，下午到店")
    expect(page.locator("#d-status")).to_have_text("待签收")
    note = world.server_events(o.id)[-1]
    assert note["kind"] == "note" and note["payload"]["text"] == "已电话联系商家，下午到店"


def test_an_action_the_server_refuses_after_the_signal_returns_stays_on_the_order_with_the_reason(
    world: World, context: BrowserContext, page: Page
) -> None:
    from fengqiao.models.machine import Action, Intent

    o = world.dispatch()
    person, code = world.person("王五", "SCJG")
    page.goto("/m/")
    first_signin(page, person.login, code)
    open_first_order(page, o.order_no)
    context.set_offline(True)
    page.locator("[data-act=sign]").click()
    expect(page.locator("#queue-banner")).to_contain_text("1 项操作待发送")
    # meanwhile the call-taker cancels the order (the caller rang back: sorted out)
    world.orders.act(o.order_no, Intent(Action.CANCEL, note="报警人来电说已解决"))
    world.sync()
    context.set_offline(False)
    expect(page.locator("#failed-banner")).to_contain_text("1 项操作被服务器拒收")
    refused = page.locator("#d-pending li[data-state=failed]")
    expect(refused).to_contain_text("签收")
    expect(refused.locator(".err")).not_to_be_empty()  # the server's reason, as it said it
    assert kinds(world, o.id) == ["dispatch", "cancel"]
    expect(page.locator("#d-status")).to_have_text("已撤单")  # what the server says now
    expect(page.locator("#d-due")).to_have_count(0)
    refused.locator("button").click()  # 删除: the person has read it
    expect(page.locator("#failed-banner")).to_have_count(0)


def test_a_tap_after_the_session_ended_is_kept_and_sent_once_signed_in_again(world: World, page: Page) -> None:
    o = world.dispatch()
    person, code = world.person("王五", "SCJG")
    page.goto("/m/")
    first_signin(page, person.login, code)
    open_first_order(page, o.order_no)
    fresh = world.people.reset(person.login)  # `fengqiao server user-reset 王五`: the sessions end
    page.locator("[data-act=sign]").click()
    expect(page.locator("#signin-error")).to_have_text("登录已过期，请重新登录")
    expect(page.locator("#queue-banner")).to_contain_text("1 项操作待发送")
    assert kinds(world, o.id) == ["dispatch"]
    first_signin(page, person.login, fresh, password="another-pass-2")
    until(lambda: kinds(world, o.id) == ["dispatch", "sign"])
    expect(page.locator("#queue-banner")).to_have_count(0)


def test_a_co_unit_sees_its_part_marked_and_reports_it_while_the_order_waits_for_the_lead(
    world: World, page: Page
) -> None:
    from dataclasses import replace

    wages = replace(FORM_HZ, phone="13857500009", description="工地老板拖欠三个月工资", address="黄泽镇工业园")
    o = world.orders.dispatch(wages, "B03", mode="single", co=("SFJ",))
    world.sync()
    person, code = world.person("赵六", "SFJ")
    page.goto("/m/")
    first_signin(page, person.login, code)
    card = page.locator(f".card[data-no='{o.order_no}']")
    expect(card.locator("[data-role=co]")).to_have_text("协办")
    card.click()
    expect(page.locator("#d-role")).to_have_text("协办")
    later(world, 3)
    page.locator("[data-act=sign]").click()
    expect(page.locator("#d-status")).to_have_text("已签收")
    until(lambda: "sign" in kinds(world, o.id))
    world.sync()
    state = world.orders.order(o.order_no)
    co = next(a for a in state.assignments if a.role == "co")
    assert co.status == "signed" and state.status == "dispatched"  # the lead has not signed: the order waits
