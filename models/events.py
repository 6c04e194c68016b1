"""Event identity and the per-desk hash chain.

Each event a desk writes gets a UUIDv7 id (time-ordered, never regenerated), the next number in that desk's
gap-free sequence, and a SHA-256 hash over its stored fields and the previous event's hash. Editing,
deleting or truncating a desk's events breaks the chain, which ``fengqiao check`` reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import uuid_utils

from .clock import to_db
from .machine import Event

GENESIS = "0" * 64


def new_id() -> str:
    """A fresh UUIDv7 as text."""
    return str(uuid_utils.uuid7())


_PAYLOAD_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def payload_text(payload: dict[str, Any]) -> str:
    """The stored form of a payload: compact, sorted keys, UTF-8 kept as is."""
    return _PAYLOAD_JSON.encode(payload) if payload else "{}"


def hash_fields(
    *,
    id: str,
    order_id: str,
    assignment_id: str | None,
    kind: str,
    actor: str,
    desk: str,
    desk_seq: int,
    event_at: str,
    recorded_at: str,
    payload: str,
    prev_hash: str,
) -> str:
    """The hash of one event from its stored column values (text exactly as stored).

    Each field is length-prefixed (``<length>:<text>;``) so no two different events share a body.
    """
    return link_hash(
        (id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, payload, prev_hash)
    )


def link_hash(values: tuple[Any, ...]) -> str:
    """:func:`hash_fields` of the stored values in column order (``STORED_COLUMNS`` but the hash): the body of
    :func:`chain_digest`, spelled out for speed (the demo seals millions; tests/test_audit.py compares)."""
    id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, payload, prev_hash = values
    aid = assignment_id or ""
    seq = str(desk_seq)
    body = (
        f"{len(id)}:{id};{len(order_id)}:{order_id};{len(aid)}:{aid};{len(kind)}:{kind};{len(actor)}:{actor};"
        f"{len(desk)}:{desk};{len(seq)}:{seq};{len(event_at)}:{event_at};{len(recorded_at)}:{recorded_at};"
        f"{len(payload)}:{payload};{len(prev_hash)}:{prev_hash};"
    )
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def chain_digest(fields: Iterable[str]) -> str:
    """SHA-256 over length-prefixed text fields (``<length>:<text>;`` each): the hash of one chain link."""
    body = "".join(f"{len(f)}:{f};" for f in fields)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def seal(ev: Event, desk_seq: int, prev_hash: str) -> tuple[Any, ...]:
    """Give ``ev`` its place in the desk's chain; return its stored column values (``STORED_COLUMNS``)."""
    text = payload_text(ev.payload)
    event_at = to_db(ev.event_at)
    recorded_at = event_at if ev.recorded_at is ev.event_at else to_db(ev.recorded_at)
    ev.desk_seq = desk_seq
    ev.prev_hash = prev_hash
    ev.hash = hash_fields(
        id=ev.id,
        order_id=ev.order_id,
        assignment_id=ev.assignment_id,
        kind=ev.kind,
        actor=ev.actor,
        desk=ev.desk,
        desk_seq=desk_seq,
        event_at=event_at,
        recorded_at=recorded_at,
        payload=text,
        prev_hash=prev_hash,
    )
    return (
        ev.id,
        ev.order_id,
        ev.assignment_id,
        ev.kind,
        ev.actor,
        ev.desk,
        desk_seq,
        event_at,
        recorded_at,
        text,
        prev_hash,
        ev.hash,
    )


STORED_COLUMNS = (
    "id",
    "order_id",
    "assignment_id",
    "kind",
    "actor",
    "desk",
    "desk_seq",
    "event_at",
    "recorded_at",
    "payload",
    "prev_hash",
    "hash",
)
