"""Offline-first sync, the desk's side (no Textual here: the CLI, the console's worker and tests share it).

* **Outbox**: this desk's own events the server has not yet acknowledged, in ``desk_seq`` order. The mark
  ``sync.pushed`` (meta) is the last ``desk_seq`` the server took (stored, duplicate or refused): the server
  takes a desk's events only in order, so what it took is always a prefix of the desk's chain.
* **Push**: batches in desk order; the answer is recorded in one local transaction (server sequence numbers
  in ``event_state``; refused events marked and left out of the replay).
* **Pull**: by cursor; the events, the projection of every order they touch and the new cursor are written in
  one local transaction, so a crash mid-pull leaves the desk exactly as before. Events of kinds this version
  does not know are stored and kept (their status is ``unknown``).
* **Merge**: an order's state is the replay of its events in server order with this desk's unconfirmed events
  on top (``store.projection.load_events``); each event's outcome (applied, redundant, conflict, unknown)
  is stored in ``event_state`` and shown on the order's timeline.
* **Epoch**: when the server's epoch changes (restored from a backup) — or the server is seen to have gone
  back in time — the desk forgets every server sequence number, pulls from the start and re-pushes all it
  authored; the server's de-duplication makes that safe.
* **Retry**: :class:`SyncLoop` runs :meth:`SyncClient.sync_once` on a timer; network errors, time-outs,
  5xx and garbage answers are retried with capped exponential backoff and jitter.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from fengqiao.models.clock import Clock, fmt_local, from_db_opt, system_clock, to_db
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import t
from fengqiao.models.machine import Action, CallInfo, Event, replay
from fengqiao.models.roles import Desk

from .db import Database, get_meta, set_meta
from .projection import (EVENT_SELECT, INSERT_CALL, INSERT_EVENT, UPSERT_ASSIGNMENT, UPSERT_ORDER, DeskChain,
                         assignment_tuples, call_tuple, load_events, load_events_of, order_tuple, row_to_event)
from .wire import MAX_PULL, Hello, PullResponse, PushRequest, PushResponse, WireEvent, wire_from_row

log = logging.getLogger("fengqiao.sync")

META_EPOCH = "sync.epoch"
META_CURSOR = "sync.cursor"
META_PUSHED = "sync.pushed"
META_LAST_OK = "sync.last_ok"
META_DESK = "sync.desk"
INSERT_CALL_ONCE = INSERT_CALL + " ON CONFLICT (id) DO NOTHING"
UPSERT_STATUS = ("INSERT INTO event_state (event_id, status, reason) VALUES (?, ?, ?) ON CONFLICT (event_id) "
                 "DO UPDATE SET status = excluded.status, reason = excluded.reason")
UPSERT_SEQ = ("INSERT INTO event_state (event_id, server_seq) VALUES (?, ?) ON CONFLICT (event_id) "
              "DO UPDATE SET server_seq = excluded.server_seq")


class SyncError(FengqiaoError):
    """Sync cannot go on until someone acts (token refused, desk mismatch, diverged history)."""


class SyncUnavailable(SyncError):
    """The server cannot be reached or gave no usable answer: retried later, nothing is lost."""


class SyncAuthError(SyncError):
    """The server refused the token (wrong, revoked)."""


class SimulatedCrash(BaseException):
    """Raised by test crash hooks: a BaseException so no ``except Exception`` swallows it."""


# ---- the local side ---------------------------------------------------------------------------------

def meta_int(conn: Connection, key: str) -> int:
    value = get_meta(conn, key)
    return int(value) if value else 0


def recompute(conn: Connection, order_ids: Iterable[str]) -> None:
    """Replay each order (server order, then this desk's pending events) into the projection and statuses."""
    ids = sorted(set(order_ids))
    for i in range(0, len(ids), 400):
        chunk = ids[i:i + 400]
        events = load_events_of(conn, chunk)
        states, statuses, gone = [], [], []
        for oid in chunk:
            evs = events.get(oid, [])
            result = replay(evs)
            if result.state is None:  # its dispatch was refused or has not arrived: no order to show
                gone.append(oid)
            else:
                states.append(result.state)
            statuses += [(ev.id, result.statuses[ev.id], result.reasons.get(ev.id)) for ev in evs]
        # Rewritten whole: in the new order of events two reassignments may have swapped their numbers.
        conn.exec_driver_sql(f"DELETE FROM assignments WHERE order_id IN ({_marks(chunk)})", tuple(chunk))
        if gone:
            conn.exec_driver_sql(f"DELETE FROM orders WHERE id IN ({_marks(gone)})", tuple(gone))
        if states:
            try:
                conn.exec_driver_sql(UPSERT_ORDER, [order_tuple(s) for s in states])
            except IntegrityError:
                for s in states:  # find the order whose number another order here already uses
                    clash = conn.exec_driver_sql("SELECT id FROM orders WHERE order_no = ? AND id != ?",
                                                 (s.order_no, s.id)).first()
                    if clash:
                        raise SyncError(t("sync.order_no_clash", order_no=s.order_no, other=clash[0])) from None
                raise
            conn.exec_driver_sql(UPSERT_ASSIGNMENT, [row for s in states for row in assignment_tuples(s)])
        if statuses:
            conn.exec_driver_sql(UPSERT_STATUS, statuses)


def _marks(values: Iterable[object]) -> str:
    return ", ".join("?" for _ in values)


@dataclass
class TimelineEntry:
    """One event on an order's timeline with its sync outcome."""

    event: Event
    status: str  # applied | redundant | conflict | unknown | refused
    reason: str | None
    server_seq: int | None  # None: not (yet) confirmed by the server

    @property
    def confirmed(self) -> bool:
        return self.server_seq is not None


def timeline(conn: Connection, order_id: str) -> list[TimelineEntry]:
    """Every event of the order in replay order with its outcome; refused events last. Nothing is dropped."""
    events = load_events(conn, order_id)
    result = replay(events)
    marks = {r[0]: (r[1], r[2], r[3]) for r in conn.exec_driver_sql(
        "SELECT s.event_id, s.server_seq, s.status, s.reason FROM event_state s JOIN events e ON e.id = s.event_id "
        "WHERE e.order_id = ?", (order_id,))}
    out = [TimelineEntry(ev, result.statuses[ev.id], result.reasons.get(ev.id), marks.get(ev.id, (None,))[0])
           for ev in events]
    refused = conn.exec_driver_sql(f"{EVENT_SELECT} JOIN event_state s ON s.event_id = e.id "
                                   "WHERE e.order_id = ? AND s.status = 'refused' ORDER BY e.seq", (order_id,)).all()
    out += [TimelineEntry(row_to_event(r), "refused", marks[r.id][2], None) for r in refused]
    return out


@dataclass
class PushOutcome:
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    rejected: list[str] = field(default_factory=list)  # messages
    taken_through: int = 0  # the desk_seq the server has taken everything up to


class DeskLog:
    """This desk's sync bookkeeping in its SQLite file: outbox, acknowledgements, pulls, epoch resets."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def meta(self, key: str) -> str | None:
        return self.db.meta(key)

    def cursor(self) -> int:
        with self.db.read() as conn:
            return meta_int(conn, META_CURSOR)

    def pushed(self) -> int:
        with self.db.read() as conn:
            return meta_int(conn, META_PUSHED)

    def own_head(self, me: str) -> int:
        with self.db.read() as conn:
            return DeskChain(conn, me).seq

    def waiting(self, me: str) -> int:
        """How many of this desk's events the server has not taken yet."""
        with self.db.read() as conn:
            return max(0, DeskChain(conn, me).seq - meta_int(conn, META_PUSHED))

    def outbox(self, me: str, limit: int) -> list[WireEvent]:
        with self.db.read() as conn:
            after = meta_int(conn, META_PUSHED)
            rows = conn.exec_driver_sql(f"{EVENT_SELECT} WHERE e.desk = ? AND e.desk_seq > ? ORDER BY e.desk_seq "
                                        "LIMIT ?", (me, after, limit)).all()
        return [wire_from_row(r) for r in rows]

    def adopt_epoch(self, epoch: str, me: str, *, reset: bool) -> None:
        """Remember the server's epoch; with ``reset``, forget every server number to re-push and re-pull."""
        with self.db.write() as conn:
            if reset:
                refused = [r[0] for r in conn.exec_driver_sql(
                    "SELECT DISTINCT e.order_id FROM event_state s JOIN events e ON e.id = s.event_id "
                    "WHERE s.status = 'refused'")]
                conn.exec_driver_sql("UPDATE event_state SET server_seq = NULL")
                conn.exec_driver_sql("UPDATE event_state SET status = NULL, reason = NULL WHERE status = 'refused'")
                set_meta(conn, META_CURSOR, 0)
                set_meta(conn, META_PUSHED, 0)
                recompute(conn, refused)  # once refused, now pending again: back in the replay
            set_meta(conn, META_EPOCH, epoch)
            set_meta(conn, META_DESK, me)

    def record_push(self, me: str, sent: list[WireEvent], resp: PushResponse) -> PushOutcome:
        """Store what the server said about each event we sent; one transaction."""
        out = PushOutcome()
        by_id = {w.id: w for w in sent}
        seqs, refused, touched = [], [], set()
        taken = {}
        for r in resp.results:
            w = by_id.get(r.id)
            if w is None:
                continue
            if r.status in ("stored", "duplicate") and r.seq is not None:
                seqs.append((r.id, r.seq))
                taken[w.desk_seq] = True
                if r.status == "stored":
                    out.stored += 1
                else:
                    out.duplicates += 1
            elif r.status == "refused":
                refused.append((r.id, "refused", r.message or r.reason))
                touched.add(w.order_id)
                taken[w.desk_seq] = True
                out.refused += 1
            elif r.status == "rejected":
                out.rejected.append(r.message or r.reason or "rejected")
        with self.db.write() as conn:
            _same_epoch(conn, resp.epoch)
            through = meta_int(conn, META_PUSHED)
            while through + 1 in taken:
                through += 1
            if seqs:
                conn.exec_driver_sql(UPSERT_SEQ, seqs)
            if refused:
                conn.exec_driver_sql(UPSERT_STATUS, refused)
                recompute(conn, touched)
            set_meta(conn, META_PUSHED, through)
        out.taken_through = through
        return out

    def apply_pull(self, me: str, resp: PullResponse, crash: Callable[[str], None] | None = None) -> tuple[int, int]:
        """Store pulled events, update the projection of every order they touch and move the cursor, all in
        one transaction. Returns (new events, orders touched)."""
        for ev in resp.events:
            if ev.computed_hash() != ev.hash:
                raise SyncUnavailable(t("sync.bad_event_hash", id=ev.id))
        new = 0
        touched: set[str] = set()
        with self.db.write() as conn:
            _same_epoch(conn, resp.epoch)
            ids = [ev.id for ev in resp.events]
            have: set[str] = set()
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                have.update(r[0] for r in conn.exec_driver_sql(f"SELECT id FROM events WHERE id IN ({_marks(chunk)})",
                                                                tuple(chunk)))
            rows, calls, own = [], [], None
            for ev in resp.events:
                touched.add(ev.order_id)
                if ev.id in have:
                    continue
                have.add(ev.id)
                rows.append(ev.row())
                if ev.desk == me and (own is None or ev.desk_seq > own.desk_seq):
                    own = ev  # our own event we no longer had (the desk's file was restored from a backup)
                calls.extend(_calls_of(ev))
            if rows:
                try:
                    conn.exec_driver_sql(INSERT_EVENT, rows)
                except IntegrityError:
                    raise SyncError(t("sync.diverged_local", desk=me)) from None
                new = len(rows)
            if calls:
                conn.exec_driver_sql(INSERT_CALL_ONCE, calls)
            if own is not None:
                conn.exec_driver_sql(
                    "INSERT INTO desk_heads (desk, seq, hash) VALUES (?, ?, ?) ON CONFLICT (desk) DO UPDATE SET "
                    "seq = excluded.seq, hash = excluded.hash WHERE excluded.seq > desk_heads.seq",
                    (me, own.desk_seq, own.hash))
            if resp.events:
                # numbers are unique: one still held by another event here is stale (a restore nobody announced)
                conn.exec_driver_sql(f"UPDATE event_state SET server_seq = NULL WHERE server_seq IN "
                                     f"({_marks(resp.events)}) AND event_id NOT IN ({_marks(resp.events)})",
                                     (*(ev.seq for ev in resp.events), *(ev.id for ev in resp.events)))
                conn.exec_driver_sql(UPSERT_SEQ, [(ev.id, ev.seq) for ev in resp.events])
            if crash:
                crash("pull:stored")
            recompute(conn, touched)
            set_meta(conn, META_CURSOR, resp.cursor)
        return new, len(touched)

    def mark_ok(self, when: datetime) -> None:
        with self.db.write() as conn:
            set_meta(conn, META_LAST_OK, to_db(when))

    def counts(self) -> dict[str, int]:
        with self.db.read() as conn:
            rows = conn.exec_driver_sql("SELECT status, count(*) FROM event_state WHERE status IN "
                                        "('conflict', 'refused', 'unknown') GROUP BY status").all()
        return {r[0]: int(r[1]) for r in rows}


def _same_epoch(conn: Connection, epoch: str) -> None:
    """Inside a write: refuse an answer from another epoch (another sync of this file has just reset it)."""
    known = get_meta(conn, META_EPOCH)
    if known is not None and known != epoch:
        raise SyncUnavailable(t("sync.epoch_moved"))


def _calls_of(ev: WireEvent) -> list[tuple[Any, ...]]:
    """The call rows a pulled event carries (a dispatch's call, a linked repeat call)."""
    if ev.kind not in (Action.DISPATCH, Action.LINK):
        return []
    try:
        payload = json.loads(ev.payload)
        call = CallInfo.from_payload(payload["call"], ev.desk)
    except (ValueError, KeyError, TypeError):
        return []
    if ev.kind == Action.DISPATCH:
        return [call_tuple(call, ev.order_id, linked=False, repeat_of=payload.get("repeat_of"))]
    return [call_tuple(call, ev.order_id, linked=True, repeat_of=ev.order_id)]


# ---- the network side -------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


class HttpTransport:
    """JSON over HTTP(S) with the desk's token. Every failure becomes a :class:`SyncError` with one line."""

    def __init__(self, base_url: str | None, token: str, *, timeout: float = 10.0, verify: bool | str = True,
                 client: httpx.Client | None = None) -> None:
        self.token = token
        self.client = client or httpx.Client(base_url=base_url or "", verify=verify,
                                             timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))
        self.where = str(self.client.base_url) or (base_url or "")

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, path: str, model: type[M], *, params: dict[str, Any] | None = None,
             body: BaseModel | None = None) -> M:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        content = body.model_dump_json().encode() if body is not None else None
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
        if resp.status_code >= 400:
            raise SyncError(t("sync.protocol_error", server=self.where, code=resp.status_code,
                              detail=resp.text[:200]))
        try:
            return model.model_validate_json(resp.content)
        except (PydanticError, ValueError):
            raise SyncUnavailable(t("sync.garbage", server=self.where)) from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]


@dataclass
class SyncReport:
    pushed: int = 0
    duplicates: int = 0
    refused: int = 0
    pulled: int = 0
    orders: int = 0
    epoch_reset: bool = False
    head: int = 0
    cursor: int = 0
    waiting: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.pulled or self.refused or self.epoch_reset or self.orders)


class _Restart(Exception):
    """The server's epoch changed under us: start the round again from the new state."""


class SyncClient:
    """One desk talking to the server. Holds no state of its own: everything is in the desk's file."""

    log_class: type[DeskLog] = DeskLog

    def __init__(self, db: Database, transport: HttpTransport, *, desk: Desk | None = None,
                 clock: Clock = system_clock, push_batch: int = 500, pull_limit: int = 1000,
                 crash: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.log = self.log_class(db)
        self.transport = transport
        self.desk = desk
        self.clock = clock
        self.push_batch = push_batch
        self.pull_limit = min(pull_limit, MAX_PULL)
        self.crash = crash
        self.me: str | None = None

    def _crash(self, point: str) -> None:
        if self.crash is not None:
            self.crash(point)

    def hello(self) -> Hello:
        return self.transport.call("GET", "/v1/hello", Hello)

    def sync_once(self) -> SyncReport:
        """Push everything waiting, then pull everything new. Raises :class:`SyncError` subclasses."""
        return self._run(push=True, pull=True)

    def push(self) -> SyncReport:
        """Only push this desk's waiting events."""
        return self._run(push=True, pull=False)

    def pull(self) -> SyncReport:
        """Only pull what is new on the server."""
        return self._run(push=False, pull=True)

    def _run(self, *, push: bool, pull: bool) -> SyncReport:
        report = SyncReport()
        for _attempt in range(3):
            try:
                self._round(report, push=push, pull=pull)
                break
            except _Restart:
                report.epoch_reset = True
                continue
        if push and pull:
            self.log.mark_ok(self.clock())
        report.cursor = self.log.cursor()
        report.waiting = self.log.waiting(self.me or "")
        return report

    def _round(self, report: SyncReport, *, push: bool = True, pull: bool = True) -> None:
        marks = self._marks()  # read before asking, so a concurrent sync of this file cannot fool the check
        hello = self.hello()
        if self.desk is not None and self.desk.name != hello.desk:
            raise SyncError(t("sync.wrong_desk", token_desk=hello.desk, desk=self.desk.name))
        self.me = hello.desk
        if self.desk is not None and hello.prefix and self.desk.prefix != hello.prefix:
            report.problems.append(t("sync.wrong_prefix", prefix=self.desk.prefix, registered=hello.prefix))
        self._check(hello.epoch, hello.head, marks, expected=hello.expected)
        rejected = self._push(report) if push else None
        if pull:
            self._pull(report)
        if rejected:
            raise SyncError(rejected)

    def _marks(self) -> tuple[int, int]:
        with self.db.read() as conn:
            return meta_int(conn, META_CURSOR), meta_int(conn, META_PUSHED)

    def _check(self, epoch: str, head: int, marks: tuple[int, int], *, expected: int | None = None) -> None:
        """Adopt the server's epoch; reset if it changed, or if the server has gone back in time (it has fewer
        events than this desk has pulled, or fewer of this desk's events than it acknowledged)."""
        me = self.me or ""
        cursor, pushed = marks
        known = self.log.meta(META_EPOCH)
        if known is None:
            self.log.adopt_epoch(epoch, me, reset=cursor > 0 or pushed > 0)
            return
        behind = head < cursor or (expected is not None and expected - 1 < pushed)
        if known != epoch or behind:
            log.warning("server epoch changed or server went back in time: re-pushing and re-pulling")
            self.log.adopt_epoch(epoch, me, reset=True)
            raise _Restart()

    def _push(self, report: SyncReport) -> str | None:
        """Push the outbox in batches; returns the first rejection's message (the queue stops there)."""
        me = self.me or ""
        while True:
            marks = self._marks()
            batch = self.log.outbox(me, self.push_batch)
            if not batch:
                return None
            resp = self.transport.call("POST", "/v1/push", PushResponse,
                                       body=PushRequest(epoch=self.log.meta(META_EPOCH), events=batch))
            self._crash("push:answered")
            self._check(resp.epoch, resp.head, marks, expected=resp.expected)
            out = self.log.record_push(me, batch, resp)
            report.pushed += out.stored
            report.duplicates += out.duplicates
            report.refused += out.refused
            report.head = resp.head
            if out.rejected:
                report.problems.extend(out.rejected)
                return out.rejected[0]
            if out.taken_through < batch[0].desk_seq:  # nothing taken and nothing rejected: a gap
                own = self.log.own_head(me)
                if resp.expected > own + 1:
                    raise SyncError(t("sync.diverged", desk=me, expected=resp.expected, head=own))
                return None

    def _pull(self, report: SyncReport) -> None:
        me = self.me or ""
        while True:
            marks = self._marks()
            resp = self.transport.call("GET", "/v1/pull", PullResponse,
                                       params={"cursor": marks[0], "limit": self.pull_limit})
            self._check(resp.epoch, resp.head, marks)
            if resp.cursor < marks[0]:
                raise SyncUnavailable(t("sync.garbage", server=self.transport.where))
            new, orders = self.log.apply_pull(me, resp, self.crash)
            report.pulled += new
            report.orders += orders
            report.head = resp.head
            if not resp.more:
                return


# ---- retries on a timer -----------------------------------------------------------------------------

def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """The wait before retry number ``attempt`` (from 0): uniform in [d/2, d], d = min(cap, base·2^attempt)."""
    d = min(cap, base * 2 ** attempt)
    return d / 2 + rng.uniform(0, d / 2)


class Backoff:
    """Capped exponential backoff with jitter (:func:`backoff_delay`), counting the attempts."""

    def __init__(self, base: float = 1.0, cap: float = 120.0, rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()
        self.attempt = 0

    def next(self) -> float:
        self.attempt += 1
        return backoff_delay(self.attempt - 1, self.base, self.cap, self.rng)

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class SyncStatus:
    """What the header shows: online or not, how many events wait, when the last sync succeeded."""

    state: str = "idle"  # idle | online | offline | error
    waiting: int = 0
    last_ok: datetime | None = None
    error: str | None = None
    conflicts: int = 0
    refused: int = 0
    retry_in: float | None = None

    def detail(self) -> str:
        """The header's tooltip: the error if any, else when the last sync succeeded."""
        when = fmt_local(self.last_ok, seconds=True) if self.last_ok else "--"
        return self.error or t("sync.last_ok_full", time=when)

    def text(self) -> str:
        """The header's few cells: state, events waiting, and the last good sync when not online."""
        parts = [t(f"sync.state_{self.state}"), t("sync.waiting_n", n=self.waiting)]
        if self.state != "online":  # online, it is the minute the clock beside it shows
            parts.append(t("sync.last_ok", time=fmt_local(self.last_ok, date=False) if self.last_ok else "--:--"))
        if self.conflicts:
            parts.append(t("sync.conflicts_n", n=self.conflicts))
        if self.refused:
            parts.append(t("sync.refused_n", n=self.refused))
        return " ".join(parts)


class SyncLoop:
    """Sync on a timer until stopped: every ``interval`` seconds, sooner when this desk has written, later
    (backoff) while the server is unreachable. Runs in its own thread; reports through ``on_status``."""

    def __init__(self, make_client: Callable[[], SyncClient], db: Database, me: str, *, interval: float = 10.0,
                 on_status: Callable[[SyncStatus, SyncReport | None], None] | None = None,
                 backoff: Backoff | None = None, clock: Clock = system_clock) -> None:
        self.make_client = make_client
        self.log = DeskLog(db)
        self.me = me
        self.interval = interval
        self.on_status = on_status
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.stop_event = threading.Event()
        self.status = SyncStatus()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="fengqiao-sync", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 0.0) -> None:
        self.stop_event.set()
        if self._thread is not None and wait:
            self._thread.join(timeout=wait)

    def run_once(self, client: SyncClient) -> float:
        """One round; returns how long to wait before the next."""
        report = None
        try:
            report = client.sync_once()
            self.backoff.reset()
            self.status = SyncStatus("online", report.waiting, self.clock(), "; ".join(report.problems) or None)
            delay = self.interval
        except SyncUnavailable as exc:
            delay = self.backoff.next()
            self.status = SyncStatus("offline", self._waiting(), self._last_ok(), str(exc), retry_in=delay)
        except SyncError as exc:
            delay = max(self.interval, self.backoff.next())
            self.status = SyncStatus("error", self._waiting(), self._last_ok(), str(exc), retry_in=delay)
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the loop; it is logged
            log.exception("sync round failed")
            delay = max(self.interval, self.backoff.next())
            self.status = SyncStatus("error", self._waiting(), self._last_ok(), f"{type(exc).__name__}: {exc}",
                                     retry_in=delay)
        try:
            counts = self.log.counts()
            self.status.conflicts, self.status.refused = counts.get("conflict", 0), counts.get("refused", 0)
        except FengqiaoError:
            pass
        if self.on_status:
            self.on_status(self.status, report)
        return delay

    def _waiting(self) -> int:
        try:
            return self.log.waiting(self.me)
        except FengqiaoError:
            return self.status.waiting

    def _last_ok(self) -> datetime | None:
        try:
            return from_db_opt(self.log.meta(META_LAST_OK))
        except FengqiaoError:
            return None

    def run(self) -> None:
        client = self.make_client()
        try:
            while not self.stop_event.is_set():
                delay = self.run_once(client)
                waited, seen = 0.0, self._waiting()
                while waited < delay and not self.stop_event.is_set():
                    self.stop_event.wait(min(1.0, delay - waited))
                    waited += 1.0
                    if self.status.state == "online" and self._waiting() > seen:
                        break  # this desk wrote something: push it now
        finally:
            try:
                client.transport.close()
            except Exception:  # noqa: BLE001
                pass
