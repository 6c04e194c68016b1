"""The field API (issue 14) through the real HTTP app: people, sign-in, orders, actions, photos, links.

The browser tests (tests/browser/) drive the phone page in Chromium; these check the API's rules directly,
so they run everywhere."""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fengqiao.models.clock import FixedClock
from fengqiao.models.errors import ValidationError
from fengqiao.models.machine import Action, Intent
from fengqiao.models.roles import make_desk
from fengqiao.server.app import create_app
from fengqiao.server.field import FieldConfig
from fengqiao.server.people import People
from fengqiao.server.store import ServerStore
from fengqiao.store.audit import verify
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore
from fengqiao.store.sync import HttpTransport, SyncClient

from ..sync.hub import FORM, FORM_HZ
from ..sync.sim import T0


def png(width: int = 2, height: int = 2, exif: bytes | None = None) -> bytes:
    """A real PNG (grey pixels), with an ``eXIf`` chunk when asked."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    parts = [chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))]
    if exif is not None:
        parts.append(chunk(b"eXIf", exif))
    parts += [chunk(b"IDAT", zlib.compress(raw)), chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(parts)


def jpeg_with_gps() -> bytes:
    """A JPEG's structure: SOI, an APP1 Exif segment (where GPS lives), a DQT, SOS and data, EOI."""
    exif = b"Exif\x00\x00" + b"GPS-LAT-29.6-LON-120.8"
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(64))
    sos = b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app1 + dqt + sos + b"\x12\x34\x56" + b"\xff\xd9"


class World:
    def __init__(self, tmp: Path) -> None:
        self.clock = FixedClock(T0)
        self.server = ServerStore(f"sqlite:///{tmp / 'server.db'}", clock=self.clock)
        self.app = create_app(self.server, deliver=False, field=FieldConfig(public_url="https://fq.example"))
        self.http = TestClient(self.app, base_url="https://testserver")
        self.people = People(self.server)
        token = self.server.add_desk("CT1", "call_taker", prefix="SZ")
        self.desk = make_desk(self.server.ref, "CT1", "call_taker", prefix="SZ")
        self.db = Database(tmp / "ct.db")
        self.orders = OrderStore(self.db, ref=self.server.ref, desk=self.desk, clock=self.clock)
        self.client = SyncClient(
            self.db, HttpTransport(None, token, client=self.http), desk=self.desk, clock=self.clock
        )

    def dispatch(self, form: Any = FORM, tag: str = "B01") -> Any:
        o = self.orders.dispatch(form, tag)
        self.client.sync_once()
        return o

    def phone(self, name: str, unit: str, *, lead: bool = False) -> Phone:
        person, code = self.people.add(name, unit, lead=lead)
        p = Phone(TestClient(self.app, base_url="https://testserver"), person.login)
        p.first_signin(code)
        return p

    def close(self) -> None:
        self.db.close()
        self.server.close()


class Phone:
    """One phone's browser session: the cookie jar and the CSRF token."""

    def __init__(self, http: TestClient, login: str) -> None:
        self.http, self.login, self.csrf = http, login, ""

    def first_signin(self, code: str, password: str = "secret-pass-1") -> None:
        r = self.http.post("/v1/field/signin", json={"login": self.login, "code": code, "new_password": password})
        assert r.status_code == 200, r.text
        self.csrf = r.json()["csrf"]

    def get(self, path: str) -> Any:
        return self.http.get(f"/v1/field/{path}")

    def act(self, order_id: str, action: str, key: str | None = None, **body: Any) -> Any:
        return self.http.post(
            f"/v1/field/orders/{order_id}/actions",
            json={"key": key or str(uuid.uuid4()), "action": action, **body},
            headers={"X-CSRF-Token": self.csrf},
        )

    def upload(self, data: bytes, mime: str = "image/png") -> Any:
        return self.http.post(
            "/v1/field/photos", content=data, headers={"X-CSRF-Token": self.csrf, "Content-Type": mime}
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


def test_a_member_signs_arrives_and_feeds_back_and_the_desk_sees_it(world: World) -> None:
    o = world.dispatch()
    scjg = world.phone("王五", "SCJG")
    listed = scjg.get("orders").json()["orders"]
    assert [r["order_no"] for r in listed] == [o.order_no] and listed[0]["status"] == "dispatched"
    detail = scjg.get(f"orders/{o.id}").json()
    assert detail["actions"][:1] == ["sign"] and detail["phone"] == "138****2345"  # nobody holds it yet
    signed = scjg.act(o.id, "sign").json()
    assert signed["state"] == "applied" and signed["order"]["phone"] == FORM.phone  # signing takes it on
    world.clock.advance(minutes=20)
    assert scjg.act(o.id, "arrive", lat=29.5890, lon=120.8215, accuracy_m=12).status_code == 200
    shots = [scjg.upload(png(2, 2)).json(), scjg.upload(png(3, 3)).json()]
    world.clock.advance(minutes=30)
    fed = scjg.act(o.id, "feedback", result="resolved", text="商家已退款", photos=[s["sha256"] for s in shots])
    assert fed.status_code == 200, fed.text
    order = fed.json()["order"]
    assert order["status"] == "fed_back" and [p["sha256"] for p in order["photos"]] == [s["sha256"] for s in shots]
    assert order["location"]["place"] == "人民路" and 0 < order["location"]["distance_m"] < 200

    world.client.sync_once()  # the call-taker's desk pulls what the phone did
    state = world.orders.order(o.order_no)
    a = state.primary
    assert a.status == "fed_back" and a.location["lat"] == pytest.approx(29.589)
    assert [p["sha256"] for p in a.photos] == [s["sha256"] for s in shots]
    _state, events = world.orders.order_with_events(o.order_no)
    assert {e.actor for e in events if e.kind in ("sign", "arrive", "feedback")} == {"王五"}
    assert verify(world.db).ok  # the unit's chain is signed like any desk's


def test_the_same_queued_action_sent_twice_is_stored_once(world: World) -> None:
    o = world.dispatch()
    scjg = world.phone("王五", "SCJG")
    key = str(uuid.uuid4())
    first, again = scjg.act(o.id, "sign", key=key), scjg.act(o.id, "sign", key=key)
    assert (first.json()["status"], again.json()["status"]) == ("stored", "duplicate")
    assert [e["kind"] for e in world.server.events()] == ["dispatch", "sign"]


def test_another_units_order_is_nothing_to_a_member(world: World) -> None:
    o = world.dispatch()
    other = world.phone("赵六", "ZJJ")
    assert other.get("orders").json()["orders"] == []
    assert other.get(f"orders/{o.id}").status_code == 404
    assert other.act(o.id, "sign").status_code == 404
    assert [e["kind"] for e in world.server.events()] == ["dispatch"]


def test_a_lead_hands_an_order_and_other_members_stop_seeing_it(world: World) -> None:
    # 邻里纠纷 in 黄泽镇 at an address that names no village: the township centre (in 前岩村 it would be the
    # village's mediation committee: test_a_grassroots_unit_works_from_the_phone)
    o = world.dispatch(replace(FORM_HZ, address="黄泽镇政府对面"), "B04")
    unit = world.orders.order(o.order_no).primary.assignee
    assert unit == "ZZ-HZ"
    lead = world.phone("李四", unit, lead=True)
    a, b = world.phone("甲", unit), world.phone("乙", unit)
    members = lead.get("me").json()["members"]
    target = next(m for m in members if m["name"] == "甲")
    assert lead.act(o.id, "hand", person=target["id"]).status_code == 200
    assert [r["order_no"] for r in a.get("orders").json()["orders"]] == [o.order_no]
    assert b.get("orders").json()["orders"] == [] and b.get(f"orders/{o.id}").status_code == 404
    assert a.get(f"orders/{o.id}").json()["phone_full"] is True
    assert a.act(o.id, "hand", person=target["id"]).status_code == 403  # only the lead hands out


def test_csrf_and_sign_in_rules(world: World) -> None:
    o = world.dispatch()
    scjg = world.phone("王五", "SCJG")
    r = scjg.http.post(f"/v1/field/orders/{o.id}/actions", json={"key": str(uuid.uuid4()), "action": "sign"})
    assert r.status_code == 403 and r.json()["detail"]
    anon = TestClient(world.app, base_url="https://testserver")
    assert anon.get("/v1/field/orders").status_code == 401
    for _ in range(5):
        wrong = anon.post("/v1/field/signin", json={"login": "王五", "password": "nope-nope"})
    assert wrong.status_code == 423 and wrong.json()["until"]
    sixth = anon.post("/v1/field/signin", json={"login": "王五", "password": "secret-pass-1"})
    assert sixth.status_code == 423  # locked even with the right password
    world.clock.advance(minutes=16)
    assert anon.post("/v1/field/signin", json={"login": "王五", "password": "secret-pass-1"}).status_code == 200
    actions = [r["action"] for r in world.people.access_log()]
    assert actions.count("signin_failed") == 5 and "signin_locked" in actions


def test_english_answers(world: World) -> None:
    anon = TestClient(world.app, base_url="https://testserver")
    r = anon.get("/v1/field/orders", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.status_code == 401 and r.json()["detail"] == "Please sign in"


def test_links_are_bound_to_order_unit_and_time(world: World) -> None:
    o = world.dispatch()
    service = world.app.state.field
    link = service.link(o.id, "SCJG")
    assert link.startswith("https://fq.example/m/o/") and FORM.phone not in link
    token = link.rsplit("/", 1)[1]
    scjg, zjj = world.phone("王五", "SCJG"), world.phone("赵六", "ZJJ")
    assert scjg.get(f"link/{token}").json() == {"order_id": o.id}
    assert zjj.get(f"link/{token}").status_code == 403
    edited = token.replace("SCJG", "ZJJ")
    assert zjj.get(f"link/{edited}").status_code == 403
    world.clock.advance(hours=73)
    assert scjg.get(f"link/{token}").status_code == 401  # the 12-hour session is over too
    again = scjg.http.post("/v1/field/signin", json={"login": "王五", "password": "secret-pass-1"})
    assert again.status_code == 200
    assert scjg.get(f"link/{token}").status_code == 410


def test_photos_are_checked_by_content_and_lose_their_location(world: World) -> None:
    scjg = world.phone("王五", "SCJG")
    assert scjg.upload(b"GIF89a not ours", "image/png").status_code == 415
    assert scjg.upload(b"<svg/>", "image/svg+xml").status_code == 415
    tagged = png(exif=b"MM\x00*GPS")
    up = scjg.upload(tagged).json()
    data = scjg.get(f"photos/{up['sha256']}").content
    assert b"eXIf" not in data and up["location_removed"] and data == png()
    jp = scjg.upload(jpeg_with_gps(), "image/jpeg").json()
    stored = scjg.get(f"photos/{jp['sha256']}").content
    assert b"GPS" not in stored and stored.startswith(b"\xff\xd8") and stored.endswith(b"\xff\xd9")
    zjj = world.phone("赵六", "ZJJ")
    assert zjj.get(f"photos/{up['sha256']}").status_code == 404


def test_a_tag_that_needs_a_photo_refuses_feedback_without(world: World) -> None:
    o = world.dispatch(tag="C04")  # 供水管道破裂: photo required
    unit = world.orders.order(o.order_no).primary.assignee
    p = world.phone("钱七", unit)
    assert p.act(o.id, "sign").status_code == 200
    assert p.act(o.id, "arrive", no_location=True).json()["order"]["location"] is None
    r = p.act(o.id, "feedback", result="resolved", text="已修复")
    assert r.status_code == 400 and r.json()["field"] == "photos"


def test_a_conflict_with_the_desk_is_a_409_and_nothing_is_lost(world: World) -> None:
    o = world.dispatch()
    dept = world.server.add_desk("SCJG", "department", dept="SCJG")
    desk = make_desk(world.server.ref, "SCJG", "department", dept="SCJG")
    db = Database(world.db.path.parent / "scjg.db")
    try:
        store = OrderStore(db, ref=world.server.ref, desk=desk, clock=world.clock)
        client = SyncClient(db, HttpTransport(None, dept, client=world.http), desk=desk, clock=world.clock)
        client.sync_once()
        store.act(o.order_no, Intent(Action.SIGN))
        client.sync_once()
    finally:
        db.close()
    scjg = world.phone("王五", "SCJG")
    world.clock.advance(minutes=1)
    r = scjg.act(o.id, "sign")
    assert r.status_code == 409 and r.json()["detail"]
    assert [e["kind"] for e in world.server.events()] == ["dispatch", "sign"]


def test_the_cli_adds_lists_resets_and_revokes_people(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fengqiao.console.cli import app

    runner = CliRunner()
    db = str(tmp_path / "server.db")
    added = runner.invoke(app, ["server", "user-add", "王五", "--unit", "scjg", "--db", db])
    assert added.exit_code == 0 and "SCJG" in added.output and "-" in added.output.splitlines()[-1]
    bad = runner.invoke(app, ["server", "user-add", "某人", "--unit", "NOPE", "--db", db])
    assert bad.exit_code != 0 and "NOPE" in bad.output and "Traceback" not in bad.output
    dup = runner.invoke(app, ["server", "user-add", "王五", "--unit", "SCJG", "--db", db])
    assert dup.exit_code != 0 and "--login" in dup.output
    listed = runner.invoke(app, ["server", "user-list", "--json", "--db", db])
    assert '"王五"' in listed.output and "code" not in listed.output.replace('"unit"', "")
    assert runner.invoke(app, ["server", "user-reset", "王五", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["server", "user-revoke", "王五", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["server", "user-revoke", "nobody", "--db", db]).exit_code != 0


def test_session_ends_at_reset(world: World) -> None:
    scjg = world.phone("王五", "SCJG")
    assert scjg.get("me").status_code == 200
    world.people.reset("王五")
    assert scjg.get("me").status_code == 401


def test_the_departments_message_carries_a_signed_link_and_buttons(tmp_path: Path) -> None:
    """With `[field] public_url`, a dispatch's message to the department links to the order's page; the
    actionCard format has 签收 / 到场 / 反馈 buttons. The link opens the order for that unit only."""
    import json

    from fengqiao.server.webhooks import WebhookConfig, pending

    path = tmp_path / "server.toml"
    path.write_text('[webhooks]\nmsgtype = "actionCard"\nSCJG = "https://robot.example/scjg"\n', encoding="utf-8")
    clock = FixedClock(T0)
    server = ServerStore(f"sqlite:///{tmp_path / 's.db'}", clock=clock, hooks=WebhookConfig.load(path))
    app = create_app(server, deliver=False, field=FieldConfig(public_url="https://fq.example"))
    http = TestClient(app, base_url="https://testserver")
    token = server.add_desk("CT1", "call_taker", prefix="SZ")
    desk = make_desk(server.ref, "CT1", "call_taker", prefix="SZ")
    db = Database(tmp_path / "ct.db")
    try:
        o = OrderStore(db, ref=server.ref, desk=desk, clock=clock).dispatch(FORM, "B01")
        SyncClient(db, HttpTransport(None, token, client=http), desk=desk, clock=clock).sync_once()
        body = json.loads(pending(server)[0]["body"])
        card = body["actionCard"]
        assert [b["title"] for b in card["btns"]] == ["签收", "到场", "反馈"]
        link = card["btns"][0]["actionURL"].split("#")[0]
        assert link.startswith("https://fq.example/m/o/") and FORM.phone not in json.dumps(body)
        person, code = People(server).add("王五", "SCJG")
        phone = Phone(TestClient(app, base_url="https://testserver"), person.login)
        phone.first_signin(code)
        assert phone.get(f"link/{link.rsplit('/', 1)[1]}").json() == {"order_id": o.id}
    finally:
        db.close()
        server.close()


def test_the_desk_lists_and_exports_the_photos(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`order --json` shows the photos, the holder and the arrival's distance; `attach get` writes the photos,
    each checked against its hash; a desk that does not see the order gets none of them."""
    import json

    from typer.testing import CliRunner

    import fengqiao.store.sync as sync_pkg
    from fengqiao.console.cli import app

    o = world.dispatch()
    scjg = world.phone("王五", "SCJG")
    scjg.act(o.id, "sign")
    scjg.act(o.id, "arrive", lat=29.5890, lon=120.8215)
    shot = scjg.upload(png(4, 4)).json()
    scjg.act(o.id, "feedback", result="resolved", text="已处理", photos=[shot["sha256"]])
    world.client.sync_once()
    real = sync_pkg.HttpTransport
    http = world.http

    class Local(real):  # type: ignore[misc,valid-type]
        def __init__(self, _base: str | None, token: str, **_kw: object) -> None:
            super().__init__(None, token, client=http)

        def close(self) -> None:
            pass

    monkeypatch.setattr(sync_pkg, "HttpTransport", Local)
    token = world.client.transport.token
    runner = CliRunner()
    db = str(world.db.path)
    shown = json.loads(runner.invoke(app, ["--db", db, "order", o.order_no, "--json"]).output)
    a = shown["assignments"][0]
    assert a["photos"] == [{"sha256": shot["sha256"], "size": shot["size"], "mime": "image/png"}]
    assert a["holder"]["name"] == "王五" and a["location"]["place"] == "人民路" and a["location"]["distance_m"] < 200
    out = tmp_path / "photos"
    got = runner.invoke(app, ["--db", db, "attach", "get", o.order_no, str(out), "--server", "x", "--token", token])
    assert got.exit_code == 0, got.output
    files = list(out.iterdir())
    assert len(files) == 1 and files[0].read_bytes() == png(4, 4)
    stranger = world.server.add_desk("ZJJ", "department", dept="ZJJ")
    assert http.get(f"/v1/photos/{shot['sha256']}", headers={"Authorization": f"Bearer {stranger}"}).status_code == 404


def test_the_order_view_names_the_person_the_place_and_the_photos(world: World) -> None:
    from typer.testing import CliRunner

    from fengqiao.console.cli import app

    o = world.dispatch()
    scjg = world.phone("王五", "SCJG")
    scjg.act(o.id, "sign")
    scjg.act(o.id, "arrive", lat=29.5890, lon=120.8215)
    shot = scjg.upload(png(4, 4)).json()
    scjg.act(o.id, "feedback", result="resolved", text="已处理", photos=[shot["sha256"]])
    world.client.sync_once()
    out = CliRunner().invoke(app, ["--db", str(world.db.path), "order", o.order_no]).output
    assert "王五" in out and "人民路" in out and shot["sha256"] in out and "attach get" in out


def test_a_progress_note_changes_nothing_and_reaches_the_desk(world: World) -> None:
    o = world.dispatch()
    scjg = world.phone("王五", "SCJG")
    assert "note" in scjg.get(f"orders/{o.id}").json()["actions"]
    assert scjg.act(o.id, "note", text="   ").status_code == 400
    r = scjg.act(o.id, "note", text="已联系商家，约定明早处理")
    assert r.status_code == 200 and r.json()["order"]["status"] == "dispatched"
    assert r.json()["order"]["timeline"][-1]["text"] == "已联系商家，约定明早处理"
    world.client.sync_once()
    _state, events = world.orders.order_with_events(o.order_no)
    assert [e.kind for e in events] == ["dispatch", "note"] and events[-1].actor == "王五"


async def test_the_consoles_detail_lists_the_person_the_place_and_the_photos(world: World) -> None:
    from fengqiao.console.app import FengqiaoApp
    from fengqiao.screens.detail import DetailScreen

    from ..intake_helpers import settle

    o = world.dispatch()
    scjg = world.phone("王五", "SCJG")
    scjg.act(o.id, "sign")
    scjg.act(o.id, "arrive", lat=29.5890, lon=120.8215)
    shot = scjg.upload(png(4, 4)).json()
    scjg.act(o.id, "feedback", result="resolved", text="已处理", photos=[shot["sha256"]])
    world.client.sync_once()
    app = FengqiaoApp(db=world.db, desk=world.desk, clock=world.clock, ref=world.server.ref, watch_store=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(DetailScreen(o.order_no))
        await settle(pilot)
        shown = "\n".join(strip.text for strip in app.screen._compositor.render_strips())  # noqa: SLF001
        assert "王五" in shown and "人民路" in shown and shot["sha256"][:16] in shown and "attach get" in shown


def test_an_action_queued_offline_keeps_the_time_of_the_tap(world: World) -> None:
    from datetime import timedelta

    from fengqiao.models.clock import to_db

    o = world.dispatch()
    scjg = world.phone("王五", "SCJG")
    tapped = world.clock()
    world.clock.advance(minutes=40)  # in a basement: the signal comes back forty minutes later
    assert scjg.act(o.id, "sign", at=to_db(world.clock() + timedelta(hours=1))).status_code == 400  # the future
    assert scjg.act(o.id, "sign", at=to_db(world.clock() - timedelta(hours=80))).status_code == 400  # too old
    r = scjg.act(o.id, "sign", at=to_db(tapped))
    assert r.status_code == 200, r.text
    world.client.sync_once()
    assert world.orders.order(o.order_no).primary.signed_at == tapped  # on time, as it was


def test_the_order_says_its_own_status_and_an_arrival_without_location(world: World) -> None:
    from fengqiao.models.machine import Action, Intent

    o = world.dispatch()
    scjg = world.phone("王五", "SCJG")
    scjg.act(o.id, "sign")
    scjg.act(o.id, "arrive", no_location=True)
    detail = scjg.get(f"orders/{o.id}").json()
    assert detail["arrived_without_location"] is True and detail["location"] is None
    assert detail["order_status"] == "arrived"
    world.client.sync_once()
    world.orders.act(o.order_no, Intent(Action.CANCEL, note="重复来电"))
    world.client.sync_once()
    gone = scjg.get(f"orders/{o.id}")
    assert gone.status_code == 404 or gone.json()["order_status"] == "cancelled"


def test_a_file_that_is_not_an_image_is_refused_in_words(world: World) -> None:
    scjg = world.phone("王五", "SCJG")
    r = scjg.upload(b"%PDF-1.7 not a photo", "image/jpeg")
    assert r.status_code == 415 and "JPEG" in r.json()["detail"] and "mobile." not in r.json()["detail"]


def test_a_grassroots_unit_works_from_the_phone(world: World) -> None:
    """A village's mediation committee (TJ-HZ-QY, issue 16) is a unit like any other: its people see its orders,
    sign, arrive and feed back; another committee sees nothing; the desk pulls what they did."""
    o = world.dispatch(FORM_HZ, "B04")  # 邻里纠纷 in 前岩村: the village's mediation committee and the station
    assert [a.assignee for a in world.orders.order(o.order_no).assignments] == ["TJ-HZ-QY", "GA-HZ"]
    mediator = world.phone("陶美娟", "tj-hz-qy")  # typed in lower case: the unit code is normalised
    other = world.phone("范金花", "TJ-HZ-BNK")
    assert [r["order_no"] for r in mediator.get("orders").json()["orders"]] == [o.order_no]
    assert other.get("orders").json()["orders"] == [] and other.get(f"orders/{o.id}").status_code == 404
    assert mediator.act(o.id, "sign").status_code == 200
    world.clock.advance(minutes=20)
    assert mediator.act(o.id, "arrive", lat=29.5301, lon=121.0352, accuracy_m=10).status_code == 200
    world.clock.advance(minutes=40)
    fed = mediator.act(o.id, "feedback", result="resolved", text="调委会到场调解，双方签了协议")
    assert fed.status_code == 200, fed.text
    assert fed.json()["order"]["location"]["place"] == "前岩村"  # places.csv's 前岩村: the distance is known
    world.client.sync_once()
    state = world.orders.order(o.order_no)
    assert state.primary.assignee == "TJ-HZ-QY" and state.primary.status == "fed_back"
    assert state.police is not None and state.police.status == "dispatched"
    with pytest.raises(ValidationError, match="QQ"):
        world.people.add("某人", "TJ-HZ-QQ")  # an unknown grassroots unit is refused
