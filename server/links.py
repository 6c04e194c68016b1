"""Signed links from a department's message to one order's page (docs/field.md, "Links").

``<order id>.<unit>.<expiry, unix seconds>.<HMAC-SHA256 over the three, base64url>``: bound to the order and the
unit, valid 72 hours, keyed with a secret kept in the server's database (``srv_meta.link_key``). Nothing about
the caller is in the link. An edited, expired or foreign link is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

LINK_TTL = timedelta(hours=72)


class BadLink(ValueError):
    """``reason``: ``forged`` (edited or not ours), ``expired``, ``unit`` (another unit's)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Link:
    order_id: str
    unit: str
    expires: int


def _mac(key: str, body: str) -> str:
    digest = hmac.new(bytes.fromhex(key), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make(key: str, order_id: str, unit: str, now: datetime, ttl: timedelta = LINK_TTL) -> str:
    body = f"{order_id}.{unit}.{int((now + ttl).timestamp())}"
    return f"{body}.{_mac(key, body)}"


def read(key: str, token: str, now: datetime, unit: str | None = None) -> Link:
    """The link's content, or :class:`BadLink`. With ``unit``, a link for another unit is refused too."""
    parts = token.split(".")
    if len(token) > 300 or len(parts) != 4:
        raise BadLink("forged")
    order_id, link_unit, expires, mac = parts
    if not hmac.compare_digest(mac, _mac(key, f"{order_id}.{link_unit}.{expires}")):
        raise BadLink("forged")
    try:
        until = int(expires)
    except ValueError:
        raise BadLink("forged") from None
    if now.timestamp() > until:
        raise BadLink("expired")
    if unit is not None and unit != link_unit:
        raise BadLink("unit")
    return Link(order_id, link_unit, until)
