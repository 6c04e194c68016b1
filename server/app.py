"""The sync server's HTTP API (FastAPI; OpenAPI description at ``/openapi.json``, browsable at ``/docs``).

Every request but ``/v1/health`` carries the desk's token (``Authorization: Bearer fq1_…``). Endpoints are
plain functions run in FastAPI's thread pool; all state is in the database (server/store.py), so several
processes (``--workers``, or several machines) can serve one PostgreSQL database.
"""


import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fengqiao.models.i18n import t
from fengqiao.store.wire import MAX_PULL, PROTOCOL, Hello, PullResponse, PushRequest, PushResponse

from .schema import SrvDesk
from .store import ServerStore, ServerUnavailable
from .webhooks import Deliverer, WebhookConfig

log = logging.getLogger("fengqiao.server")
DESCRIPTION = """\
Central store of the Fengqiao desks' event logs. Desks **push** their own events (idempotent: an event id
already stored is answered with its original sequence number; a desk's events are taken only in its own
order) and **pull** everyone's events they may see by cursor, in the server's gap-free global order.
A business conflict is a 200 with a per-event status. The **epoch** changes when the server is restored
from a backup; a desk that sees a new epoch re-pushes what it authored and pulls from the start.
"""


def create_app(store: ServerStore, *, deliver: bool = True) -> FastAPI:
    """The ASGI app over ``store``; with ``deliver`` and webhooks configured, a delivery thread runs too."""

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

    app = FastAPI(title="fengqiao sync server", version=f"{PROTOCOL}", description=DESCRIPTION,
                  lifespan=lifespan)
    bearer = HTTPBearer(auto_error=False, description="the desk's token from `fengqiao server desk-add`")

    def current_desk(cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> SrvDesk:
        if cred is None or not cred.credentials:
            raise HTTPException(401, t("server.no_token"), headers={"WWW-Authenticate": "Bearer"})
        row = store.authenticate(cred.credentials)
        if row is None:
            raise HTTPException(401, t("server.bad_token"), headers={"WWW-Authenticate": "Bearer"})
        return row

    Desk = Annotated[SrvDesk, Depends(current_desk)]

    @app.exception_handler(ServerUnavailable)
    async def _unavailable(_request: Request, exc: ServerUnavailable) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.get("/v1/health", summary="Liveness and the server epoch (no token needed)")
    def health() -> dict[str, Any]:
        return {"ok": True, "protocol": PROTOCOL, "epoch": store.epoch()}

    @app.get("/v1/hello", response_model=Hello, summary="Who this token is, the epoch, the head, what is expected")
    def hello(desk: Desk) -> Hello:
        return store.hello(desk)

    @app.post("/v1/push", response_model=PushResponse, summary="Push a batch of this desk's events, in its order")
    def push(desk: Desk, body: PushRequest) -> PushResponse:
        return store.push(desk, body)

    @app.get("/v1/pull", response_model=PullResponse, summary="Events after the cursor this desk may see")
    def pull(desk: Desk, cursor: Annotated[int, Query(ge=0)] = 0,
             limit: Annotated[int, Query(ge=1, le=MAX_PULL)] = 1000) -> PullResponse:
        return store.pull(desk, cursor, limit)

    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` with several workers: ``$FENGQIAO_SERVER_DB``, ``$FENGQIAO_SERVER_CONFIG``."""
    url = os.environ.get("FENGQIAO_SERVER_DB")
    if not url:
        raise RuntimeError("FENGQIAO_SERVER_DB is not set")
    config = os.environ.get("FENGQIAO_SERVER_CONFIG")
    hooks = WebhookConfig.load(Path(config)) if config else None
    return create_app(ServerStore(url, hooks=hooks))
