"""The sync server's HTTP API (FastAPI; OpenAPI description at ``/openapi.json``, browsable at ``/docs``).

Every request but ``/v1/health`` carries the desk's token (``Authorization: Bearer fq1_…``). Endpoints are
plain functions run in FastAPI's thread pool; all state is in the database (server/store.py), so several
processes (``--workers``, or several machines) can serve one PostgreSQL database.
"""

import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError as PydanticError

from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import t
from fengqiao.store.wire import MAX_PULL, PROTOCOL, AnswersFile, Hello, PullResponse, PushRequest, PushResponse

from .field import FieldConfig, FieldService, mount
from .limits import BoundedBody, Limits
from .schema import SrvDesk
from .store import ServerStore, ServerUnavailable
from .textcheck import bad_event_text, bad_text, suspect_text
from .webhooks import Deliverer, WebhookConfig

log = logging.getLogger("fengqiao.server")
DESCRIPTION = """\
Central store of the Fengqiao desks' event logs. Desks **push** their own events (idempotent: an event id
already stored is answered with its original sequence number; a desk's events are taken only in its own
order) and **pull** everyone's events they may see by cursor, in the server's gap-free global order.
A business conflict is a 200 with a per-event status. The **epoch** changes when the server is restored
from a backup; a desk that sees a new epoch re-pushes what it authored and pulls from the start.

**Limits.** A request body over the limit is refused with 413 before it is read (by its Content-Length, or
as it streams); a body that trickles is cut off (408). Each token may make a bounded number of requests a
second on average (429 with `Retry-After` over it). A connection must send its request head within a few
seconds; idle connections are closed; above the connection cap the server answers 503 at once. Text with
a NUL character or a lone surrogate is refused with 400. 503 also means the database is unavailable
(`Retry-After`).
"""

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request: not JSON, bad Content-Length, NUL or lone surrogate in a text"},
    401: {"description": "Missing, unknown or revoked token"},
    408: {"description": "The request body arrived too slowly"},
    413: {"description": "Request body over the server's limit (refused before it is read)"},
    429: {"description": "Too many requests from this token; see the Retry-After header"},
    503: {"description": "Database unavailable or connection cap reached; retry after Retry-After"},
}


def create_app(
    store: ServerStore, *, deliver: bool = True, limits: Limits | None = None, field: FieldConfig | None = None
) -> FastAPI:
    """The ASGI app over ``store``; with ``deliver`` and webhooks configured, a delivery thread runs too.

    ``limits`` (server/limits.py): the body limit always applies; the rate limit only when ``limits.rate`` is
    set (``fengqiao server run`` uses :meth:`Limits.production`)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        deliverer = Deliverer(store) if deliver and store.hooks and store.hooks.urls else None
        if deliverer:
            deliverer.start()
        try:
            yield
        finally:
            if deliverer:
                deliverer.stop()

    app = FastAPI(
        title="fengqiao sync server",
        version=f"{PROTOCOL}",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.add_middleware(BoundedBody, limits=limits or Limits())
    bearer = HTTPBearer(auto_error=False, description="the desk's token from `fengqiao server desk-add`")

    def current_desk(cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> SrvDesk:
        if cred is None or not cred.credentials:
            raise HTTPException(401, t("server.no_token"), headers={"WWW-Authenticate": "Bearer"})
        row = store.authenticate(cred.credentials)
        if row is None:
            raise HTTPException(401, t("server.bad_token"), headers={"WWW-Authenticate": "Bearer"})
        return row

    Desk = Annotated[SrvDesk, Depends(current_desk)]

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 as FastAPI gives it, but text the answer cannot carry (a lone surrogate echoed back, which made
        a 500) is a 400 naming where it is."""
        errors = exc.errors()
        for e in errors:
            why = bad_text(e.get("input"), _where(e.get("loc", ())))
            if why:
                return JSONResponse({"detail": why}, status_code=400)
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    @app.exception_handler(ServerUnavailable)
    async def _unavailable(_request: Request, exc: ServerUnavailable) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.get("/v1/health", summary="Liveness and the server epoch (no token needed)")
    def health() -> dict[str, Any]:
        return {"ok": True, "protocol": PROTOCOL, "epoch": store.epoch(), "server_key": store.public_key()}

    @app.get("/v1/hello", response_model=Hello, summary="Who this token is, the epoch, the head, what is expected")
    def hello(desk: Desk) -> Hello:
        return store.hello(desk)

    @app.get("/v1/answers", response_model=AnswersFile, summary="The county's knowledge base (answers.toml)")
    def answers(desk: Desk) -> AnswersFile:
        try:
            got = store.answers_file()
        except FengqiaoError as exc:  # the county's file has a fault: the desks keep the copy they have
            raise HTTPException(503, str(exc)) from None
        if got is None:
            raise HTTPException(404, t("kb.none_served"))
        return AnswersFile(toml=got[0], sha256=got[1])

    @app.post(
        "/v1/push",
        response_model=PushResponse,
        summary="Push a batch of this desk's events, in its order",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": PUSH_SCHEMA}}}},
    )
    def push(body: Annotated[PushRequest, Depends(push_body)], desk: Desk) -> Response:  # the body read first
        answer = store.push(desk, body)
        return Response(answer.model_dump_json(), media_type="application/json")  # already a PushResponse

    @app.get("/v1/pull", response_model=PullResponse, summary="Events after the cursor this desk may see")
    def pull(
        desk: Desk, cursor: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=MAX_PULL)] = 1000
    ) -> Response:
        return Response(store.pull_json(desk, cursor, limit), media_type="application/json")

    @app.get(
        "/v1/photos/{sha256}",
        summary="A photo an order this desk may see names (fengqiao attach get)",
        response_class=Response,
    )
    def desk_photo(desk: Desk, sha256: str) -> Response:
        if not store.may_see_photo(desk, sha256):
            raise HTTPException(404, t("mobile.no_photo", sha=sha256[:12]))
        data, mime = service.photo(sha256)
        return Response(data, media_type=mime)

    service = FieldService(store, field)
    if store.hooks is not None and service.config.public_url:
        store.hooks.link = service.link  # departments' messages carry the signed link to the order's page
    mount(app, service)
    app.state.field = service
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


PUSH_SCHEMA = {"$ref": "#/components/schemas/PushRequest"}


async def push_body(request: Request) -> PushRequest:
    """The push's body, parsed once from its bytes by pydantic. Text that cannot be stored (a NUL, a lone
    surrogate) leaves a trace in the bytes; only then, and for a body pydantic refuses, the body is read the
    long way, so the answers are FastAPI's (422) and the text check's (400, naming where)."""
    raw = await request.body()
    if not suspect_text(raw):
        try:
            return PushRequest.model_validate_json(raw)
        except PydanticError:
            pass
    try:
        data = json.loads(raw)
    except ValueError as exc:
        pos = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        err = {"type": "json_invalid", "loc": ("body", pos), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([err]) from None
    try:
        body = PushRequest.model_validate(data)
    except PydanticError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    for i, w in enumerate(body.events):
        why = bad_event_text(w.model_dump(), f"events[{i}]")
        if why:
            raise HTTPException(400, why)
    return body


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The app's OpenAPI description with the push body's schema (read by :func:`push_body`, not by FastAPI)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = plain()
            schema = PushRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            found = spec.setdefault("components", {}).setdefault("schemas", {})
            found.update(schema.pop("$defs", {}))
            found["PushRequest"] = schema
            app.openapi_schema = spec
        return app.openapi_schema

    return openapi


def _where(loc: Any) -> str:
    """A validation error's location as the push check names it: ``events[0].actor``."""
    out = ""
    for part in [p for p in loc if p != "body"]:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` with several workers: ``$FENGQIAO_SERVER_DB``, ``$FENGQIAO_SERVER_CONFIG``."""
    url = os.environ.get("FENGQIAO_SERVER_DB")
    if not url:
        raise RuntimeError("FENGQIAO_SERVER_DB is not set")
    config = os.environ.get("FENGQIAO_SERVER_CONFIG")
    hooks = WebhookConfig.load(Path(config)) if config else None
    field = load_field_config(Path(config)) if config else None
    return create_app(ServerStore(url, hooks=hooks), limits=Limits.production(), field=field)


def load_field_config(path: Path) -> FieldConfig:
    """The ``[field]`` section of the server config (public_url, keep_photo_location)."""
    from fengqiao.models.tomlfile import read_toml

    from .field import read_field_config

    data = read_toml(path)
    section = data.get("field", {}) if isinstance(data, dict) else {}
    if not isinstance(section, dict):
        section = {}
    return read_field_config(section)
