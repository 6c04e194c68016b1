"""The sync protocol's messages, shared by the desk's client (store/sync/) and the server (server/).

An event travels exactly as it is stored: the same text for times and payload, so the receiver can check the
SHA-256 of the desk's hash chain byte for byte. Nothing here touches a database or the network.

Push answers (protocol 2): the events taken where nothing went wrong come back as **runs**, each a range of
consecutive ``desk_seq`` given consecutive server numbers (``stored``: new; ``duplicate``: held already, with
its original numbers); the batch's last run carries the server's signature over its last event (the newest
event of the desk's chain the server took: store/signing.py). Everything else is one result per event. A
request without ``protocol`` (a desk of protocol 1) gets every event as a result, as before; a server of
protocol 1 ignores the field and answers per event, which this client reads the same way.

Statuses:

* ``stored``    — new on the server, at ``seq`` in its global order; ``state`` is its outcome in the replay
  of the order in server order (applied | redundant | conflict | unknown). A business conflict is a
  ``stored`` event with ``state = conflict``: the push still succeeds.
* ``duplicate`` — the server already had this event id; ``seq`` and ``state`` are the original ones.
* ``refused``   — the server will not share it (the desk's role may not do that, an order number already
  taken, …): recorded on the server with ``reason``, counted in the desk's sequence, never sent to others.
* ``rejected``  — not accepted and not counted: the desk's queue stops here until someone looks (a broken
  hash chain, an event whose content differs from the one stored under the same id, a forged desk id).
* ``gap``       — not looked at: an earlier event of the desk is missing; ``expected`` says which one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field

from fengqiao.models.events import link_hash

PROTOCOL = 2  # 2: push answers in runs (PushResponse.runs), signatures only where a run ends
MAX_PUSH = 2000
MAX_PULL = 5000

PushStatus = Literal["stored", "duplicate", "refused", "rejected", "gap"]
REFUSAL_REASONS = ("role", "unknown_order", "order_refused", "prefix", "order_no_taken", "malformed")
REJECTION_REASONS = ("forged_desk", "bad_hash", "broken_chain", "altered", "diverged")


class WireEvent(BaseModel):
    """One event as stored (``events`` columns, text exactly as written)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    order_id: str = Field(min_length=1, max_length=64)
    assignment_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(min_length=1, max_length=64)
    actor: str = Field(max_length=200)
    desk: str = Field(min_length=1, max_length=200)
    desk_seq: int = Field(ge=1)
    event_at: str = Field(min_length=27, max_length=27)
    recorded_at: str = Field(min_length=27, max_length=27)
    payload: str = Field(max_length=200_000)
    prev_hash: str = Field(min_length=64, max_length=64)
    hash: str = Field(min_length=64, max_length=64)

    def computed_hash(self) -> str:
        """``models.events.hash_fields`` of this event's fields (its tuple form: no keywords per event): every
        stored column but the hash itself."""
        return link_hash(self.row()[:-1])

    def row(self) -> tuple[Any, ...]:
        """The values in ``models.events.STORED_COLUMNS`` order."""
        return (
            self.id,
            self.order_id,
            self.assignment_id,
            self.kind,
            self.actor,
            self.desk,
            self.desk_seq,
            self.event_at,
            self.recorded_at,
            self.payload,
            self.prev_hash,
            self.hash,
        )


class OutEvent(NamedTuple):
    """One of the desk's own events as its outbox reads it: the stored text, column for column (``WireEvent``'s
    fields), sent as it is (no model per event; the server validates what arrives)."""

    id: str
    order_id: str
    assignment_id: str | None
    kind: str
    actor: str
    desk: str
    desk_seq: int
    event_at: str
    recorded_at: str
    payload: str
    prev_hash: str
    hash: str


def push_json(protocol: int, epoch: str | None, events: Sequence[OutEvent]) -> bytes:
    """A :class:`PushRequest`'s JSON (the same keys, in its field order) written from the outbox's rows."""
    names = OutEvent._fields
    return pydantic_core.to_json(
        {"protocol": protocol, "epoch": epoch, "events": [dict(zip(names, e, strict=True)) for e in events]}
    )


class ServerEvent(WireEvent):
    """An event as the server hands it out: with its place in the global order."""

    seq: int = Field(ge=1)
    sig: str | None = Field(default=None, max_length=128)  # the server's signature (store/signing.py)


class Hello(BaseModel):
    protocol: int = PROTOCOL
    epoch: str
    head: int
    desk: str
    role: str
    dept: str | None = None
    town: str | None = None
    prefix: str | None = None
    expected: int  # the desk_seq the server expects next from this desk
    server_time: str
    server_key: str | None = None  # the public key the server signs events with (store/signing.py)
    answers: str | None = None  # SHA-256 of the county's knowledge base (GET /v1/answers); None: none served


class AnswersFile(BaseModel):
    """The county's knowledge base (``answers.toml``) as the server serves it."""

    sha256: str
    toml: str


class PushRequest(BaseModel):
    protocol: int = 1  # the desk's protocol; absent: a desk of protocol 1, answered one result per event
    epoch: str | None = None
    events: list[WireEvent] = Field(max_length=MAX_PUSH)


class EventResult(BaseModel):
    id: str
    status: PushStatus
    seq: int | None = None
    state: str | None = None
    reason: str | None = None
    message: str | None = None
    sig: str | None = None  # stored or duplicate: the server's signature over the event


class Outcome(NamedTuple):
    """What a push answer says of one event (an :class:`EventResult`'s fields, or an event of a run)."""

    id: str
    status: str
    seq: int | None = None
    sig: str | None = None
    reason: str | None = None
    message: str | None = None


class Run(BaseModel):
    """Events ``first``…``last`` of the desk's chain, taken as ``status``, numbered ``seq``… by the server."""

    status: Literal["stored", "duplicate"]
    first: int = Field(ge=1)
    last: int = Field(ge=1)
    seq: int = Field(ge=1)
    sig: str | None = Field(default=None, max_length=128)  # over event ``last``: on the batch's last run


class PushResponse(BaseModel):
    epoch: str
    head: int
    expected: int
    results: list[EventResult]  # protocol 2: only what is not in a run (refused, rejected, gap)
    runs: list[Run] = Field(default_factory=list, max_length=MAX_PUSH)

    def outcomes(self, sent: Sequence[WireEvent | OutEvent]) -> list[Outcome]:
        """One outcome per event of ``sent`` the answer speaks of: the runs spelled out, then the other results
        (a run's number of an event the batch did not hold is left out: the next push asks again)."""
        by_seq = {w.desk_seq: w for w in sent}
        out: list[Outcome] = []
        for run in self.runs:
            for d in range(run.first, min(run.last, run.first + MAX_PUSH) + 1):
                w = by_seq.get(d)
                if w is not None:
                    out.append(Outcome(w.id, run.status, run.seq + d - run.first, run.sig if d == run.last else None))
        out.extend(Outcome(r.id, r.status, r.seq, r.sig, r.reason, r.message) for r in self.results)
        return out


class PullResponse(BaseModel):
    epoch: str
    head: int
    cursor: int  # pull again from here
    more: bool
    events: list[ServerEvent]


def wire_from_row(row: Any) -> WireEvent:
    """A stored ``events`` row (any object with the column attributes) as a wire event."""
    return WireEvent(
        id=row.id,
        order_id=row.order_id,
        assignment_id=row.assignment_id,
        kind=row.kind,
        actor=row.actor,
        desk=row.desk,
        desk_seq=row.desk_seq,
        event_at=row.event_at,
        recorded_at=row.recorded_at,
        payload=row.payload,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
