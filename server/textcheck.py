"""Text the server will not store: lone surrogates (not encodable as UTF-8: SQLite and PostgreSQL fail, a 500)
and NUL characters (PostgreSQL refuses them in ``text``: a 503, and the desk would retry for ever). Such a
request is answered 400 naming where the bad text is, before anything is stored."""

from __future__ import annotations

import json
from typing import Any

from fengqiao.models.i18n import t


def bad_text(value: Any, where: str) -> str | None:
    """Why ``value`` (anything JSON can hold) cannot be stored, or None; ``where`` names it in the message."""
    if isinstance(value, str):
        if "\x00" in value:
            return t("server.nul_in_text", where=where)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return t("server.bad_unicode", where=where)
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            why = bad_text(k, where) or bad_text(v, f"{where}.{k}" if isinstance(k, str) else where)
            if why:
                return why
    elif isinstance(value, list):
        for i, v in enumerate(value):
            why = bad_text(v, f"{where}[{i}]")
            if why:
                return why
    return None


def bad_event_text(event: dict[str, Any], where: str) -> str | None:
    """:func:`bad_text` for one wire event, its payload text also decoded (``\\u0000`` inside it counts)."""
    why = bad_text(event, where)
    if why:
        return why
    payload = event.get("payload")
    if isinstance(payload, str):
        try:
            decoded = json.loads(payload)
        except ValueError:
            return None  # not JSON: the store's own checks refuse it as malformed
        return bad_text(decoded, f"{where}.payload")
    return None
