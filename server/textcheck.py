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


_SURROGATE_LEADS = (b"\\ud", b"\\uD", b"\xed")  # an escape \uD800-\uDFFF; UTF-8-like bytes ED A0-ED BF


def suspect_text(raw: bytes) -> bool:
    """Whether a JSON body may hold text :func:`bad_event_text` refuses, from its bytes alone: a NUL is only ever
    the escape ``\\u0000`` (in a payload, ``\\\\u0000``: it contains the same bytes), a lone surrogate an escape
    ``\\uD800``-``\\uDFFF`` or its surrogate-escaped UTF-8 bytes (``ED A0``-``ED BF``). False means none can be
    there; True, that the text must be looked at (a pair of surrogates, a Hangul syllable, are fine)."""
    if b"\\u0000" in raw:
        return True
    for lead in _SURROGATE_LEADS:
        at = raw.find(lead)
        while at >= 0:
            nxt = raw[at + len(lead) : at + len(lead) + 1]
            if nxt and (nxt in b"89abcdefABCDEF" if lead[0] == 0x5C else 0xA0 <= nxt[0] <= 0xBF):
                return True
            at = raw.find(lead, at + 1)
    return False
