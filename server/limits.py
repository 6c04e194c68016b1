"""Bounds on what one client can make the sync server hold: body size, time, connections and request rate.

* **Body limit** (:class:`BoundedBody`, ASGI middleware): a ``Content-Length`` over the limit is answered 413
  before a byte of the body is read; a chunked body is counted as it streams and cut off with 413 at the
  limit, so a 100 MB claim costs the server nothing. Reading the body also has a time bound (``body_timeout``
  between chunks, 408), so a client trickling a body cannot hold a request open.
* **Rate limit** (same middleware): a token bucket per bearer token (per client address for requests without
  one): ``rate`` requests a second on average, ``burst`` at once; over it, 429 with ``Retry-After``. In
  memory, per server process.
* **Connections** (:class:`BoundedH11Protocol` and :func:`uvicorn_options`, for ``fengqiao server run``): a
  connection that has not sent a complete request head within ``header_timeout`` seconds of opening (or of its
  previous response) is closed, whatever it trickles; idle keep-alive connections close after
  ``keep_alive``; the request head is at most ``max_header`` bytes; over ``max_connections`` open
  connections the server answers 503 at once instead of queueing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from fengqiao.models.i18n import t

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    max_body: int = 8 * 1024 * 1024  # bytes; a full push batch (500 events) is far below
    body_timeout: float = 30.0  # seconds between two chunks of a request body
    rate: float | None = None  # requests per second per token (None: no rate limit)
    burst: int = 120
    header_timeout: float = 10.0
    keep_alive: float = 5.0
    max_header: int = 16 * 1024
    max_connections: int = 256

    @classmethod
    def production(cls) -> Limits:
        """What ``fengqiao server run`` uses. A desk syncs every few seconds, but one catching up after days
        offline pushes and pulls back to back (the bench's 1,000-event pushes ran at ~25 requests a second and
        were throttled at 10): 100 a second on average with bursts of 1,000 leaves it room and a runaway desk a
        bound."""
        return cls(rate=100.0, burst=1000)


class TokenBuckets:
    """Token buckets by key; ``clock`` is injectable (monotonic seconds)."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when a request under ``key`` may go now, else the seconds until it may."""
        now = self.clock()
        with self._lock:
            level, at = self._buckets.get(key, (float(self.burst), now))
            level = min(float(self.burst), level + (now - at) * self.rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                if len(self._buckets) > 100_000:  # forget full buckets rather than grow without end
                    self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst - 1}
                return 0.0
            self._buckets[key] = (level, now)
            return (1.0 - level) / self.rate


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", [])}


async def _answer(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BoundedBody:
    """ASGI middleware: the body limit, the body timeout and the per-token rate limit (see the module text)."""

    def __init__(self, app: ASGIApp, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.limits = limits
        self.buckets = TokenBuckets(limits.rate, limits.burst, clock) if limits.rate else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if self.buckets is not None and scope.get("path") != "/v1/health":
            auth = headers.get(b"authorization", b"")
            client = scope.get("client") or ("-", 0)
            key = hashlib.sha256(auth).hexdigest() if auth else f"ip:{client[0]}"
            wait = self.buckets.take(key)
            if wait > 0:
                await _answer(send, 429, t("server.rate_limited"), [(b"retry-after", str(math.ceil(wait)).encode())])
                return
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _answer(send, 400, t("server.bad_length"))
                return
            if declared > self.limits.max_body:
                await _answer(send, 413, t("server.too_large", limit=self.limits.max_body))
                return
        limit, timeout = self.limits.max_body, self.limits.body_timeout
        seen = 0
        started = answered = False

        async def refuse(status: int, detail: str) -> Message:
            nonlocal answered
            if not started and not answered:
                answered = True
                await _answer(send, status, detail)  # "connection: close": the server stops reading
            return {"type": "http.disconnect"}  # and the app stops waiting for the rest

        async def bounded_receive() -> Message:
            nonlocal seen
            if answered:
                return {"type": "http.disconnect"}
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                return await refuse(408, t("server.too_slow"))
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    return await refuse(413, t("server.too_large", limit=limit))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the app's own answer after ours is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, bounded_receive, tracking_send)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head timeout: a connection must send a complete request head
    within ``header_timeout`` seconds of opening and of each response, or it is closed (a slow client trickling
    bytes does not reset it, unlike uvicorn's keep-alive timer)."""

    header_timeout: float = Limits.header_timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_expired)

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being served: its body has its own timeout (BoundedBody)
        if not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before and self.cycle is not None and self._head_timer is not None:
            self._head_timer.cancel()  # a complete request head arrived
            self._head_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)


def protocol_for(limits: Limits) -> type[BoundedH11Protocol]:
    """The protocol class for ``limits`` (the module's own for the default: picklable for ``--workers``)."""
    if limits.header_timeout == BoundedH11Protocol.header_timeout:
        return BoundedH11Protocol
    return type("FengqiaoH11Protocol", (BoundedH11Protocol,), {"header_timeout": limits.header_timeout})


def uvicorn_options(limits: Limits) -> dict[str, Any]:
    """The keyword arguments ``fengqiao server run`` gives ``uvicorn.run`` for ``limits``."""
    return {
        "http": protocol_for(limits),
        "timeout_keep_alive": limits.keep_alive,
        "limit_concurrency": limits.max_connections,
        "h11_max_incomplete_event_size": limits.max_header,
        "backlog": 2 * limits.max_connections,
        "timeout_graceful_shutdown": 10,
    }
