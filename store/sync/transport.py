"""JSON over HTTP(S) with the desk's token."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from fengqiao.models.i18n import t

from .errors import SyncAuthError, SyncError, SyncTooLarge, SyncUnavailable

M = TypeVar("M", bound=BaseModel)


class HttpTransport:
    """JSON over HTTP(S) with the desk's token. Every failure becomes a :class:`SyncError` with one line.

    ``PREFETCH``: the client may ask for the next pull page in a thread while it stores this one (one request
    at a time still; httpx's client may be used from another thread)."""

    PREFETCH = True

    def __init__(
        self,
        base_url: str | None,
        token: str,
        *,
        timeout: float = 10.0,
        verify: bool | str = True,
        client: httpx.Client | None = None,
    ) -> None:
        self.token = token
        self.client = client or httpx.Client(
            base_url=base_url or "", verify=verify, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0))
        )
        self.where = str(self.client.base_url) or (base_url or "")

    def close(self) -> None:
        self.client.close()

    def call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        params: dict[str, Any] | None = None,
        body: BaseModel | bytes | None = None,
    ) -> M:
        """``body``: a message, or its JSON already written (a push from the outbox's rows)."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        content = body if isinstance(body, bytes) or body is None else body.model_dump_json().encode()
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            resp = self.client.request(method, path, params=params, content=content, headers=headers)
        except httpx.TimeoutException:
            raise SyncUnavailable(t("sync.timeout", server=self.where)) from None
        except (httpx.TransportError, OSError) as exc:
            raise SyncUnavailable(t("sync.unreachable", server=self.where, error=_short(exc))) from None
        if resp.status_code in (401, 403):
            raise SyncAuthError(t("sync.token_refused", server=self.where))
        if resp.status_code >= 500 or resp.status_code in (404, 408, 429):
            raise SyncUnavailable(t("sync.server_error", server=self.where, code=resp.status_code))
        if resp.status_code == 413:
            raise SyncTooLarge(t("sync.too_large", server=self.where))
        if resp.status_code >= 400:
            raise SyncError(t("sync.protocol_error", server=self.where, code=resp.status_code, detail=resp.text[:200]))
        try:
            return model.model_validate_json(resp.content)
        except (PydanticError, ValueError):
            raise SyncUnavailable(t("sync.garbage", server=self.where)) from None

    def get_bytes(self, path: str) -> bytes:
        """A binary answer (a photo), with the same errors as :meth:`call`."""
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            resp = self.client.request("GET", path, headers=headers)
        except httpx.TimeoutException:
            raise SyncUnavailable(t("sync.timeout", server=self.where)) from None
        except (httpx.TransportError, OSError) as exc:
            raise SyncUnavailable(t("sync.unreachable", server=self.where, error=_short(exc))) from None
        if resp.status_code in (401, 403):
            raise SyncAuthError(t("sync.token_refused", server=self.where))
        if resp.status_code >= 400:
            raise SyncError(t("sync.protocol_error", server=self.where, code=resp.status_code, detail=resp.text[:200]))
        return resp.content


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]
