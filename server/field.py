"""The field side: the phone page's API under ``/v1/field/`` and the page under ``/m/`` (docs/field.md).

Actions from the phone are events like any other. The server writes them itself, in one chain per unit (desk
``field@<unit>``, registered on first use with no token anyone holds), through the same validation, role
rules and state machine as a pushed event (:meth:`ServerStore._push_tx`), in one transaction with the
idempotency record, so the same queued action sent twice stores one event.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import Connection

from fengqiao.models import geo
from fengqiao.models.clock import from_db, to_db
from fengqiao.models.errors import DomainError, FengqiaoError, ValidationError
from fengqiao.models.events import STORED_COLUMNS, new_id, seal
from fengqiao.models.i18n import name, t, using
from fengqiao.models.machine import OPEN_STATUSES, AssignmentState, Event, OrderState, apply
from fengqiao.models.phone import mask_phone
from fengqiao.models.roles import make_desk
from fengqiao.models.validate import CLOCK_SKEW, validate_event
from fengqiao.store.wire import PushRequest, WireEvent

from . import links, photos
from .people import People, Person, Session, SignInError
from .schema import SrvBlob, SrvDesk, SrvDeskHead, SrvFieldAction, SrvMeta, SrvScope

log = logging.getLogger("fengqiao.server.field")

COOKIE = "fq_field"
PHONE_DIR = "phone"  # server/phone/: the page's files, shipped in the package
OFFLINE_LIMIT = timedelta(hours=72)  # an action queued on a phone may carry a tap time this far back
RECENT = 500  # the newest orders of a unit looked at for its lists
CSP = (
    "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; script-src 'self'; style-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PERSON_ACTIONS = ("sign", "arrive", "feedback", "return", "extend", "note", "hand")


class FieldError(HTTPException):
    def __init__(self, status: int, detail: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(status, detail)
        self.field, self.extra = field, extra


class SignIn(BaseModel):
    login: str = Field(max_length=100)
    password: str | None = Field(default=None, max_length=200)
    code: str | None = Field(default=None, max_length=40)
    new_password: str | None = Field(default=None, max_length=200)


class ActionIn(BaseModel):
    key: str = Field(min_length=8, max_length=64, description="a client-made id (UUID): the same key is stored once")
    action: str = Field(max_length=16)
    note: str | None = Field(default=None, max_length=4000)
    result: str | None = Field(default=None, max_length=16)
    text: str | None = Field(default=None, max_length=4000)
    reason: str | None = Field(default=None, max_length=4000)
    hours: int | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    no_location: bool | None = None
    photos: list[str] | None = Field(default=None, max_length=4)
    person: str | None = Field(default=None, max_length=64)
    at: str | None = Field(
        default=None,
        min_length=27,
        max_length=27,
        description="when the person tapped (an action queued offline), UTC as stored; at most 72 h before now",
    )


@dataclass
class FieldConfig:
    public_url: str = ""
    keep_photo_location: tuple[str, ...] = ()
    phrases: dict[str, Any] = field(default_factory=dict)


def load_phrases() -> dict[str, Any]:
    import tomllib

    text = resources.files("fengqiao.fixtures").joinpath("phrases.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


class FieldService:
    """The field API's logic over the server store (no HTTP here beyond raising :class:`FieldError`)."""

    def __init__(self, store: Any, config: FieldConfig | None = None) -> None:
        self.store = store
        self.people = People(store)
        self.config = config or FieldConfig()
        self.phrases = self.config.phrases or load_phrases()
        self._link_key: str | None = None
        self.link_key()  # now, not inside a push's transaction (where a webhook asks for a link)

    # ---- keys and links ------------------------------------------------------------------------------
    def link_key(self) -> str:
        if self._link_key is None:
            with self.store.write() as conn:
                row = conn.execute(select(SrvMeta.value).where(SrvMeta.key == "link_key")).first()
                if row is None:
                    value = secrets.token_hex(32)
                    conn.execute(SrvMeta.__table__.insert().values(key="link_key", value=value))
                else:
                    value = row[0]
            self._link_key = value
        return self._link_key

    def link(self, order_id: str, unit: str) -> str:
        token = links.make(self.link_key(), order_id, unit, self.store.clock())
        return f"{self.config.public_url.rstrip('/')}/m/o/{token}"

    def read_link(self, person: Person, token: str) -> str:
        try:
            found = links.read(self.link_key(), token, self.store.clock(), unit=person.unit)
        except links.BadLink as exc:
            status = 410 if exc.reason == "expired" else 403
            raise FieldError(status, t(f"mobile.link_{exc.reason}")) from None
        self._visible(person, found.order_id)
        return found.order_id

    # ---- orders --------------------------------------------------------------------------------------
    def _unit_assignment(self, person: Person, o: OrderState) -> AssignmentState | None:
        for a in reversed(o.assignments):
            if a.active and a.assignee == person.unit:
                return a
        return None

    def _may_see(self, person: Person, o: OrderState) -> AssignmentState | None:
        a = self._unit_assignment(person, o)
        if a is None:
            return None
        if person.lead or a.holder in (None, person.id):
            return a
        return None

    def _states(self, order_ids: list[str]) -> dict[str, OrderState]:
        with self.store.read() as conn:
            loaded = self.store._load_orders(conn, order_ids)
        return {oid: info.state for oid, info in loaded.items() if info.state is not None}

    def _visible(self, person: Person, order_id: str) -> tuple[OrderState, AssignmentState]:
        if not order_id or len(order_id) > 64:
            raise FieldError(404, t("mobile.no_order"))
        state = self._states([order_id]).get(order_id)
        a = self._may_see(person, state) if state is not None else None
        if state is None or a is None:
            raise FieldError(404, t("mobile.no_order"))  # another unit's order is never confirmed to exist
        return state, a

    def orders(self, person: Person) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    select(SrvScope.order_id)
                    .where(SrvScope.assignee == person.unit)
                    .order_by(SrvScope.granted_seq.desc())
                    .limit(RECENT)
                )
            ]
        now = self.store.clock()
        rows = []
        for o in self._states(ids).values():
            a = self._may_see(person, o)
            if a is None or a.status in ("fed_back", "returned") or o.status not in OPEN_STATUSES:
                continue
            rows.append(self._row(o, a, now))
        rows.sort(key=lambda r: (r["next_due"] or "9999", r["received_at"]))
        return rows

    def _row(self, o: OrderState, a: AssignmentState, now: datetime) -> dict[str, Any]:
        ref = self.store.ref
        tag = ref.tags.get(o.tag)
        town = ref.towns.get(o.town)
        due = a.pending_deadline()
        return {
            "id": o.id,
            "order_no": o.order_no,
            "tag": o.tag,
            "tag_name": name(tag) if tag else o.tag,
            "status": a.status,
            "status_label": t(f"mobile.st_{a.status}"),
            "order_status": str(o.status),  # the order as a whole: cancelled, closed, visited, …
            "order_status_label": t(f"status.{o.status}"),
            "town": o.town,
            "town_name": name(town) if town else o.town,
            "address": o.call.address,
            "summary": o.call.description[:60],
            "received_at": to_db(o.call.received_at),
            "role": a.role,  # primary | police | co: a co-handling unit (协办) reports its part, the lead completes
            "role_label": t("mobile.role_co") if a.role == "co" else "",
            "assignment": {
                "id": a.id,
                "assignee": a.assignee,
                "status": a.status,
                "sign_due": to_db(a.sign_due),
                "arrive_due": to_db(a.arrive_due) if a.arrive_due else None,
                "feedback_due": to_db(a.feedback_due),
                "holder": a.holder,
                "holder_name": a.holder_name,
            },
            "next_due": to_db(due[1]) if due else None,
            "due_label": t(f"mobile.due_{due[0]}") if due else "",
            "overdue": bool(due and due[1] < now),
        }

    def order(self, person: Person, order_id: str, *, client: str = "") -> dict[str, Any]:
        o, a = self._visible(person, order_id)
        now = self.store.clock()
        ref = self.store.ref
        tag = ref.tags.get(o.tag)
        holds = a.holder == person.id or (a.holder is None and person.lead)
        out = self._row(o, a, now)
        phrases = list(self.phrases.get("tag", {}).get(o.tag, [])) + list(
            self.phrases.get("category", {}).get(o.category, [])
        )
        place = geo.find_place(ref.directory, o.town, o.call.address or "")
        location = None
        if a.location:
            location = dict(a.location)
            if place is not None:
                location["distance_m"] = round(
                    geo.distance_m(place.lat, place.lon, a.location["lat"], a.location["lon"])
                )
                location["place"] = place.name
        out.update(
            description=o.call.description,
            phone=o.call.phone if holds else mask_phone(o.call.phone),
            phone_full=holds,
            actions=self._actions(person, o, a, now),
            photo_required=bool(tag and tag.photo),
            phrases=phrases,
            photos=[dict(p, at=to_db(a.fed_back_at) if a.fed_back_at else None) for p in a.photos],
            location=location,
            arrived_without_location=a.arrived_at is not None and not a.location,
            timeline=self._timeline(o.id),
        )
        self.people.log(person.login, "view_order", o.order_no, client)
        return out

    def _actions(self, person: Person, o: OrderState, a: AssignmentState, now: datetime) -> list[str]:
        out = []
        for action in ("sign", "arrive", "feedback", "return", "extend"):
            if self._would_apply(o, a, action, now):
                out.append(action)
        if o.status in OPEN_STATUSES:
            out.append("note")  # a progress note (过程反馈): changes no state
        if person.lead and a.status not in ("fed_back", "returned") and o.status in OPEN_STATUSES:
            out.append("hand")
        return out

    def _would_apply(self, o: OrderState, a: AssignmentState, action: str, now: datetime) -> bool:
        probe = {
            "sign": {},
            "arrive": {},
            "feedback": {"result": "resolved", "text": "x"},
            "return": {"reason": "x"},
            "extend": {"hours": 24, "reason": "x"},
        }[action]
        ev = Event("probe", o.id, action, now, now, "probe", "probe", a.id, probe)
        try:
            apply(o.clone(), ev)
        except (DomainError, KeyError, TypeError, ValueError):
            return False
        return True

    def _timeline(self, order_id: str) -> list[dict[str, Any]]:
        events = [e for e in self.store.events_of(order_id)]
        out = []
        for e in events:
            p = e.payload
            text = p.get("text") or p.get("note") or p.get("reason") or ""
            if e.kind == "hand":
                text = p.get("name", "")
            out.append(
                {
                    "at": to_db(e.event_at),
                    "kind": e.kind,
                    "label": t(f"action.{e.kind}") if e.kind != "dispatch" else t("mobile.dispatched"),
                    "actor": e.actor,
                    "text": text if isinstance(text, str) else "",
                }
            )
        return out

    # ---- actions -------------------------------------------------------------------------------------
    def unit_desk(self, conn: Connection, unit: str) -> SrvDesk:
        name_ = f"field@{unit}"
        row = conn.execute(select(SrvDesk).where(SrvDesk.name == name_)).first()
        if row is not None:
            return SrvDesk(**row._mapping)
        values = {
            "name": name_,
            "role": "department",
            "dept": unit,
            "town": None,
            "prefix": None,
            "token_hash": hashlib.sha256(secrets.token_bytes(32)).hexdigest(),  # nobody holds a token for it
            "created_at": to_db(self.store.clock()),
            "revoked_at": None,
        }
        conn.execute(SrvDesk.__table__.insert().values(**values))
        return SrvDesk(**values)

    def act(self, person: Person, order_id: str, body: ActionIn) -> dict[str, Any]:
        if body.action not in PERSON_ACTIONS:
            raise FieldError(400, t("mobile.bad_action", action=body.action[:16]), "action")
        if body.action == "hand" and not person.lead:
            raise FieldError(403, t("mobile.lead_only"), "action")
        with self.store.write() as conn:
            done = conn.execute(select(SrvFieldAction.event_id).where(SrvFieldAction.key == body.key)).first()
        if done is not None:
            o, _a = self._visible(person, order_id)
            return {"status": "duplicate", "state": None, "order": self.order(person, order_id)}
        o, a = self._visible(person, order_id)
        payload = self._payload(person, o, a, body)
        now = self.store.clock()
        ev = Event(
            id=new_id(),
            order_id=o.id,
            kind=body.action,
            event_at=self._tapped(body.at, now),
            recorded_at=now,
            desk=f"field@{person.unit}",
            actor=person.name,
            assignment_id=None if body.action == "note" else a.id,  # a note is on the order as a whole
            payload=payload,
        )
        try:
            apply(o.clone(), ev)
        except DomainError as exc:
            raise FieldError(409, str(exc)) from None
        problem = validate_event(ev, ref=self.store.ref, now=now, state=o)
        if problem is not None:
            raise FieldError(400, problem.message, problem.field)
        with self.store.write() as conn:
            if conn.execute(select(SrvFieldAction.event_id).where(SrvFieldAction.key == body.key)).first():
                return {"status": "duplicate", "state": None, "order": self.order(person, order_id)}
            self.store._lock_counter(conn)  # the unit's chain is extended under the push lock
            desk_row = self.unit_desk(conn, person.unit)
            dh = conn.execute(
                select(SrvDeskHead.seq, SrvDeskHead.hash).where(SrvDeskHead.desk == desk_row.name)
            ).first()
            seq, prev = (int(dh[0]), dh[1]) if dh else (0, "0" * 64)
            wire = WireEvent(**dict(zip(STORED_COLUMNS, seal(ev, seq + 1, prev), strict=True)))
            desk = make_desk(self.store.ref, desk_row.name, "department", dept=person.unit)
            resp = self.store._push_tx(conn, desk, PushRequest(events=[wire]))
            result = resp.results[0]
            if result.status != "stored":
                raise _Rollback(result.message or result.reason or result.status)
            conn.execute(
                SrvFieldAction.__table__.insert().values(
                    key=body.key, user_id=person.id, event_id=ev.id, created_at=to_db(now)
                )
            )
        return {"status": "stored", "state": result.state, "order": self.order(person, order_id)}

    @staticmethod
    def _tapped(at: str | None, now: datetime) -> datetime:
        """When the action happened: the phone's tap time for an action queued offline (a sign-off made in a
        basement counts from the tap, not from when the signal came back), bounded to the last 72 hours and the
        allowed clock skew; the event's own validation then keeps it after the assignment's dispatch."""
        if at is None:
            return now
        try:
            when = from_db(at)
        except ValueError:
            raise FieldError(400, t("mobile.bad_at"), "at") from None
        if when > now + CLOCK_SKEW or when < now - OFFLINE_LIMIT:
            raise FieldError(400, t("mobile.bad_at"), "at")
        return when

    def _payload(self, person: Person, o: OrderState, a: AssignmentState, body: ActionIn) -> dict[str, Any]:
        note = (body.note or "").strip()
        p: dict[str, Any] = {"person": person.id}
        if body.action == "sign":
            if note:
                p["note"] = note
        elif body.action == "arrive":
            if note:
                p["note"] = note
            if body.lat is not None and body.lon is not None:
                p["location"] = {"lat": body.lat, "lon": body.lon, "accuracy_m": body.accuracy_m}
            else:
                p["no_location"] = True
        elif body.action == "feedback":
            if body.result not in ("resolved", "unresolved"):
                raise FieldError(400, t("error.need_result"), "result")
            text = (body.text or note).strip()
            if not text:
                raise FieldError(400, t("error.need_feedback_text"), "text")
            shas = list(dict.fromkeys(body.photos or []))
            tag = self.store.ref.tags.get(o.tag)
            if tag is not None and tag.photo and not shas:
                raise FieldError(400, t("mobile.photo_required"), "photos")
            p.update(result=body.result, text=text, photos=self._photo_refs(person, shas))
        elif body.action == "return":
            reason = (body.reason or note).strip()
            if not reason:
                raise FieldError(400, t("error.need_reason", action=t("action.return")), "reason")
            p["reason"] = reason
        elif body.action == "extend":
            reason = (body.reason or note).strip()
            if not reason:
                raise FieldError(400, t("error.need_reason", action=t("action.extend")), "reason")
            if body.hours is None or not 1 <= body.hours <= 24 * 14:
                raise FieldError(400, t("mobile.bad_hours"), "hours")
            p.update(hours=body.hours, reason=reason)
        elif body.action == "note":
            text = (body.text or note).strip()
            if not text:
                raise FieldError(400, t("mobile.need_note"), "text")
            p.update(text=text, visibility="internal")
        elif body.action == "hand":
            member = self.people.get(body.person or "")
            if member is None or member.unit != person.unit:
                raise FieldError(400, t("mobile.no_member"), "person")
            p = {"person": member.id, "name": member.name, "note": note}
        return p

    def _photo_refs(self, person: Person, shas: list[str]) -> list[dict[str, Any]]:
        if not shas:
            return []
        with self.store.read() as conn:
            rows = {
                r.sha256: r
                for r in conn.execute(
                    select(SrvBlob.sha256, SrvBlob.size, SrvBlob.mime, SrvBlob.unit).where(SrvBlob.sha256.in_(shas))
                )
            }
        out = []
        for sha in shas:
            r = rows.get(sha)
            if r is None or r.unit != person.unit:
                raise FieldError(400, t("mobile.no_photo", sha=sha[:12]), "photos")
            out.append({"sha256": sha, "size": int(r.size), "mime": r.mime})
        return out

    # ---- photos --------------------------------------------------------------------------------------
    def upload(self, person: Person, data: bytes) -> dict[str, Any]:
        keep = person.unit in self.config.keep_photo_location
        try:
            photo = photos.prepare(data, keep_location=keep)
        except photos.NotAnImage as exc:
            status = 413 if str(exc) == "too large" else 415
            raise FieldError(status, t("mobile.too_big" if status == 413 else "mobile.not_image")) from None
        with self.store.write() as conn:
            if conn.execute(select(SrvBlob.sha256).where(SrvBlob.sha256 == photo.sha256)).first() is None:
                conn.execute(
                    SrvBlob.__table__.insert().values(
                        sha256=photo.sha256,
                        mime=photo.mime,
                        size=photo.size,
                        data=photo.data,
                        unit=person.unit,
                        created_at=to_db(self.store.clock()),
                    )
                )
        return {"sha256": photo.sha256, "size": photo.size, "mime": photo.mime, "location_removed": photo.stripped}

    def photo(self, sha: str, *, person: Person | None = None) -> tuple[bytes, str]:
        with self.store.read() as conn:
            row = conn.execute(select(SrvBlob.data, SrvBlob.mime, SrvBlob.unit).where(SrvBlob.sha256 == sha)).first()
        if row is None or (person is not None and row.unit != person.unit):
            raise FieldError(404, t("mobile.no_photo", sha=sha[:12]))
        return bytes(row.data), row.mime


class _Rollback(FengqiaoError):
    """The push refused the server's own event (a race with another change): nothing is stored."""


def _lang(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.headers.get("accept-language", "")
    return "en" if wanted.lower().startswith("en") else "zh"


def _session(request: Request, fq_field: Annotated[str | None, Cookie()] = None) -> Session:
    service: FieldService = request.app.state.field
    with using(_lang(request)):
        found = service.people.session(fq_field)
        if found is None:
            raise FieldError(401, t("mobile.signin_needed"))
    return found


def _changing(
    request: Request,
    s: Annotated[Session, Depends(_session)],
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Session:
    """A request that changes something: the CSRF token from sign-in must come back in a header."""
    if not x_csrf_token or not secrets.compare_digest(x_csrf_token, s.csrf):
        with using(_lang(request)):
            raise FieldError(403, t("mobile.csrf"))
    return s


Signed = Annotated[Session, Depends(_session)]
Changing = Annotated[Session, Depends(_changing)]


def mount(app: FastAPI, service: FieldService) -> None:
    """Add ``/v1/field/…`` and ``/m/…`` to ``app``."""
    router = APIRouter(prefix="/v1/field", tags=["field"])
    app.state.field = service

    @app.exception_handler(FieldError)
    async def _field_error(request: Request, exc: FieldError) -> JSONResponse:
        body = {"detail": exc.detail, "field": exc.field, **exc.extra}
        return JSONResponse(body, status_code=exc.status_code, headers={"Cache-Control": "no-store"})

    def client_of(request: Request) -> str:
        return request.client.host if request.client else ""

    @router.post("/signin", summary="Sign in with the one-time code (and a new password) or the password")
    def signin(request: Request, response: Response, body: SignIn) -> dict[str, Any]:
        with using(_lang(request)):
            try:
                token, s = service.people.sign_in(
                    body.login,
                    password=body.password,
                    code=body.code,
                    new_password=body.new_password,
                    client=client_of(request),
                )
            except SignInError as exc:
                raise FieldError(exc.status, str(exc), exc.field, until=exc.until) from None
            response.set_cookie(
                COOKIE,
                token,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
                max_age=12 * 3600,
            )
            response.headers["Cache-Control"] = "no-store"
            return {"user": s.person.public(service.store.ref), "csrf": s.csrf}

    @router.post("/signout", summary="End this session")
    def signout(
        request: Request, response: Response, s: Changing, fq_field: Annotated[str | None, Cookie()] = None
    ) -> dict[str, Any]:
        if fq_field:
            service.people.sign_out(fq_field)
        response.delete_cookie(COOKIE, path="/")
        return {"ok": True}

    @router.get("/me", summary="Who is signed in, the CSRF token, the unit's members (for a lead)")
    def me(request: Request, s: Signed) -> dict[str, Any]:
        with using(_lang(request)):
            members = (
                [{"id": m.id, "name": m.name} for m in service.people.members(s.person.unit)] if s.person.lead else []
            )
            return {"user": s.person.public(service.store.ref), "csrf": s.csrf, "members": members}

    @router.get("/orders", summary="This person's open orders, most urgent first")
    def orders(request: Request, s: Signed) -> dict[str, Any]:
        with using(_lang(request)):
            return {"orders": service.orders(s.person), "now": to_db(service.store.clock())}

    @router.get("/orders/{order_id}", summary="One order, with what this person may do now")
    def order(request: Request, order_id: str, s: Signed) -> dict[str, Any]:
        with using(_lang(request)):
            return service.order(s.person, order_id, client=client_of(request))

    @router.post("/orders/{order_id}/actions", summary="Sign, arrive, feed back, return, extend, hand (idempotent)")
    def act(request: Request, order_id: str, body: ActionIn, s: Changing) -> dict[str, Any]:
        with using(_lang(request)):
            try:
                return service.act(s.person, order_id, body)
            except ValidationError as exc:
                raise FieldError(400, str(exc), getattr(exc, "field", None)) from None
            except _Rollback as exc:
                raise FieldError(409, str(exc)) from None

    @router.post("/photos", summary="Upload one photo (JPEG, PNG or WebP, at most 8 MB); answers its SHA-256")
    async def upload(request: Request, s: Changing) -> dict[str, Any]:
        data = await request.body()
        with using(_lang(request)):
            return service.upload(s.person, data)

    @router.get("/photos/{sha256}", summary="A photo of this person's unit")
    def photo(request: Request, sha256: str, s: Signed) -> Response:
        with using(_lang(request)):
            data, mime = service.photo(sha256, person=s.person)
        return Response(data, media_type=mime, headers={"Cache-Control": "private, max-age=31536000, immutable"})

    @router.get("/link/{token}", summary="The order a message's link points to, if it is valid for this person")
    def link(request: Request, token: str, s: Signed) -> dict[str, Any]:
        with using(_lang(request)):
            return {"order_id": service.read_link(s.person, token)}

    app.include_router(router)

    # ---- the page ---------------------------------------------------------------------------------------
    root = resources.files("fengqiao.server").joinpath(PHONE_DIR)
    types = {
        ".html": "text/html; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".webmanifest": "application/manifest+json",
        ".svg": "image/svg+xml",
        ".png": "image/png",
        ".json": "application/json",
    }

    def page_file(name_: str) -> Response:
        if "/" in name_ or name_.startswith(".") or not name_:
            raise HTTPException(404)
        f = root.joinpath(name_)
        if not f.is_file():
            raise HTTPException(404)
        headers = {
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        }
        if name_ == "sw.js":
            headers["Service-Worker-Allowed"] = "/m/"
        suffix = Path(name_).suffix
        return Response(f.read_bytes(), media_type=types.get(suffix, "application/octet-stream"), headers=headers)

    @app.get("/m/", include_in_schema=False)
    def page() -> Response:
        return page_file("index.html")

    @app.get("/m/o/{token}", include_in_schema=False)
    def page_link(token: str) -> Response:
        return page_file("index.html")

    @app.get("/m/{name_}", include_in_schema=False)
    def page_asset(name_: str) -> Response:
        return page_file(name_)


def read_field_config(section: dict[str, Any]) -> FieldConfig:
    keep = section.get("keep_photo_location", [])
    if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
        raise ValidationError(t("mobile.bad_config", key="keep_photo_location"), field="keep_photo_location")
    url = section.get("public_url", "")
    if not isinstance(url, str):
        raise ValidationError(t("mobile.bad_config", key="public_url"), field="public_url")
    return FieldConfig(public_url=url, keep_photo_location=tuple(k.upper() for k in keep))
