"""The desk's sync bookkeeping in its own file: outbox, acknowledgements, pulls, epoch resets, replay."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fengqiao.models.clock import from_db, system_clock, to_db
from fengqiao.models.governance import GKind, is_subject
from fengqiao.models.governance import apply as gov_apply
from fengqiao.models.i18n import t
from fengqiao.models.machine import Action, CallInfo, Fold, Replayed, apply, replay
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.validate import validate_event

from ..db import Connection, Database, get_meta, set_meta
from ..governance import recompute_subjects
from ..projection import (
    CALL_COLUMNS,
    EVENT_SELECT,
    INSERT_CALL,
    INSERT_EVENT,
    UPSERT_ASSIGNMENT,
    UPSERT_ORDER,
    DeskChain,
    assignment_tuples,
    call_tuple,
    load_events_of,
    order_tuple,
    read_payload,
    row_to_event,
)
from ..rollups import Tracker
from ..wire import MAX_PUSH, OutEvent, PullResponse, PushResponse, ServerEvent, WireEvent
from .errors import SyncError, SyncUnavailable

log = logging.getLogger("fengqiao.sync")

META_EPOCH = "sync.epoch"
META_CURSOR = "sync.cursor"
META_PUSHED = "sync.pushed"
META_LAST_OK = "sync.last_ok"
META_DESK = "sync.desk"
META_SERVER_KEY = "sync.server_key"  # the public key the server signs events with (store/signing.py)
META_SIGS_PENDING = "sync.sigs_pending"  # "1" while a re-pull fetches signatures for events held before
_CALL_PHONE, _CALL_AT = CALL_COLUMNS.index("phone"), CALL_COLUMNS.index("received_at")
INSERT_CALL_ONCE = INSERT_CALL + " ON CONFLICT (id) DO NOTHING"
UPSERT_STATUS = (
    "INSERT INTO event_state (event_id, status, reason) VALUES (?, ?, ?) ON CONFLICT (event_id) "
    "DO UPDATE SET status = excluded.status, reason = excluded.reason"
)
UPSERT_ALL = (
    "INSERT INTO event_state (event_id, server_seq, sig, status, reason) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (event_id) DO UPDATE SET server_seq = excluded.server_seq, "
    "sig = coalesce(excluded.sig, event_state.sig), status = excluded.status, reason = excluded.reason"
)
UPSERT_SEQ = (
    "INSERT INTO event_state (event_id, server_seq, sig) VALUES (?, ?, ?) ON CONFLICT (event_id) "
    "DO UPDATE SET server_seq = excluded.server_seq, sig = coalesce(excluded.sig, event_state.sig)"
)
UPSERT_RUN = (  # UPSERT_SEQ for a run: this desk's events first…last, numbered from the run's seq, signed at last
    "INSERT INTO event_state (event_id, server_seq, sig) "
    "SELECT id, desk_seq + ?, CASE WHEN desk_seq = ? THEN ? END FROM events "
    "WHERE desk = ? AND desk_seq BETWEEN ? AND ? ORDER BY desk_seq ON CONFLICT (event_id) "
    "DO UPDATE SET server_seq = excluded.server_seq, sig = coalesce(excluded.sig, event_state.sig)"
)


def meta_int(conn: Connection, key: str) -> int:
    value = get_meta(conn, key)
    return int(value) if value else 0


def recompute(
    conn: Connection,
    order_ids: Iterable[str],
    loaded: dict[str, list[Any]] | None = None,
    folded: dict[str, Replayed] | None = None,
    seqs: dict[str, tuple[int, str | None]] | None = None,
) -> None:
    """Replay each order (server order, then this desk's pending events) into the projection and statuses.
    ``loaded``: orders' events already read in this transaction (as ``load_events_of`` reads them now);
    ``folded``: the replay of some of them, already done (:func:`quarantine` folds what it validates);
    ``seqs``: server numbers and signatures not yet written, written with the outcomes (and taken out)."""
    every = set(order_ids)
    subjects = {i for i in every if is_subject(i)}
    if subjects:  # warnings and cases: their own replay and tables (store/governance.py)
        marks = recompute_subjects(conn, subjects)
        if marks:
            conn.exec_driver_sql(UPSERT_STATUS, marks)
    ids = sorted(every - subjects)
    for i in range(0, len(ids), 400):
        chunk = ids[i : i + 400]
        if loaded is None:
            events = load_events_of(conn, chunk)
        else:
            events = {oid: loaded[oid] for oid in chunk if oid in loaded}
            missing = [oid for oid in chunk if oid not in loaded]
            if missing:
                events.update(load_events_of(conn, missing))
        states, statuses, gone = [], [], []
        for oid in chunk:
            evs = events.get(oid, [])
            result = folded[oid] if folded is not None and oid in folded else replay(evs)
            if result.state is None:  # its dispatch was refused or has not arrived: no order to show
                gone.append(oid)
            else:
                states.append(result.state)
            statuses += [(ev.id, result.statuses[ev.id], result.reasons.get(ev.id)) for ev in evs]
        rollups = Tracker(conn)  # the KPI rollups follow the projection, in the same transaction
        rollups.watch(chunk)
        # Rewritten whole: in the new order of events two reassignments may have swapped their numbers.
        conn.exec_driver_sql(f"DELETE FROM assignments WHERE order_id IN ({_marks(chunk)})", tuple(chunk))
        if gone:
            conn.exec_driver_sql(f"DELETE FROM orders WHERE id IN ({_marks(gone)})", tuple(gone))
        if states:
            try:
                conn.exec_driver_sql(UPSERT_ORDER, [order_tuple(s) for s in states])
            except sqlite3.IntegrityError:
                for s in states:  # find the order whose number another order here already uses
                    clash = conn.exec_driver_sql(
                        "SELECT id FROM orders WHERE order_no = ? AND id != ?", (s.order_no, s.id)
                    ).first()
                    if clash:
                        raise SyncError(t("sync.order_no_clash", order_no=s.order_no, other=clash[0])) from None
                raise
            conn.exec_driver_sql(UPSERT_ASSIGNMENT, [row for s in states for row in assignment_tuples(s)])
        rollups.finish()
        if seqs:
            whole = [(i, *seqs.pop(i), status, why) for i, status, why in statuses if i in seqs]
            if whole:
                conn.exec_driver_sql(UPSERT_ALL, whole)
                done = {w[0] for w in whole}
                statuses = [row for row in statuses if row[0] not in done]
        if statuses:
            conn.exec_driver_sql(UPSERT_STATUS, statuses)


def _marks(values: Iterable[object]) -> str:
    return ", ".join("?" for _ in values)


@dataclass
class PushOutcome:
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    rejected: list[str] = field(default_factory=list)  # messages
    taken_through: int = 0  # the desk_seq the server has taken everything up to


class DeskLog:
    """This desk's sync bookkeeping in its SQLite file: outbox, acknowledgements, pulls, epoch resets."""

    def __init__(self, db: Database, ref: Reference | None = None) -> None:
        self.db = db
        self.ref = ref or default_reference()
        self.quarantined: list[str] = []

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

    def outbox(self, me: str, limit: int) -> list[OutEvent]:
        """The next ``limit`` events of this desk the server has not taken, as stored (plain rows)."""
        with self.db.read() as conn:
            after = meta_int(conn, META_PUSHED)
            rows = conn.connection.driver_connection.execute(
                f"{EVENT_SELECT} WHERE e.desk = ? AND e.desk_seq > ? ORDER BY e.desk_seq LIMIT ?", (me, after, limit)
            ).fetchall()
        make = OutEvent._make
        return [make(r) for r in rows]

    def adopt_epoch(self, epoch: str, me: str, *, reset: bool) -> None:
        """Remember the server's epoch; with ``reset``, forget every server number to re-push and re-pull."""
        with self.db.write() as conn:
            if reset:
                refused = [
                    r[0]
                    for r in conn.exec_driver_sql(
                        "SELECT DISTINCT e.order_id FROM event_state s JOIN events e ON e.id = s.event_id "
                        "WHERE s.status = 'refused'"
                    )
                ]
                conn.exec_driver_sql("UPDATE event_state SET server_seq = NULL")
                conn.exec_driver_sql("UPDATE event_state SET status = NULL, reason = NULL WHERE status = 'refused'")
                set_meta(conn, META_CURSOR, 0)
                set_meta(conn, META_PUSHED, 0)
                recompute(conn, refused)  # once refused, now pending again: back in the replay
            set_meta(conn, META_EPOCH, epoch)
            set_meta(conn, META_DESK, me)

    def record_push(self, me: str, sent: Sequence[OutEvent | WireEvent], resp: PushResponse) -> PushOutcome:
        """Store what the server said about each event we sent; one transaction.

        A run of a protocol-2 answer over a batch of consecutive events (the outbox's) is written by one
        statement from the events table: the same rows as one per event, without a Python tuple each."""
        out = PushOutcome()
        seqs, refused, touched = [], [], set()
        taken: set[int] = set()
        spans: list[tuple[int, int, int, str | None]] = []  # (first, last, seq of first, sig of last)
        lo, hi = (sent[0].desk_seq, sent[-1].desk_seq) if sent else (0, -1)
        consecutive = hi - lo + 1 == len(sent) and all(
            a.desk_seq + 1 == b.desk_seq for a, b in zip(sent, sent[1:], strict=False)
        )
        if resp.runs and consecutive:
            for run in resp.runs:
                first, last = max(run.first, lo), min(run.last, hi, run.first + MAX_PUSH)
                if first > last:
                    continue
                spans.append((first, last, run.seq + first - run.first, run.sig if last == run.last else None))
                taken.update(range(first, last + 1))
                if run.status == "stored":
                    out.stored += last - first + 1
                else:
                    out.duplicates += last - first + 1
            outcomes = resp.outcomes([])  # the results only: the runs are in ``spans``
        else:
            outcomes = resp.outcomes(sent)
        by_id = {w.id: w for w in sent}
        for r in outcomes:
            w = by_id.get(r.id)
            if w is None:
                continue
            if r.status in ("stored", "duplicate") and r.seq is not None:
                seqs.append((r.id, r.seq, r.sig))
                taken.add(w.desk_seq)
                if r.status == "stored":
                    out.stored += 1
                else:
                    out.duplicates += 1
            elif r.status == "refused":
                refused.append((r.id, "refused", r.message or r.reason))
                touched.add(w.order_id)
                taken.add(w.desk_seq)
                out.refused += 1
            elif r.status == "rejected":
                out.rejected.append(r.message or r.reason or "rejected")
        with self.db.write() as conn:
            _same_epoch(conn, resp.epoch)
            through = meta_int(conn, META_PUSHED)
            while through + 1 in taken:
                through += 1
            for first, last, seq, sig in spans:
                conn.exec_driver_sql(UPSERT_RUN, (seq - first, last, sig, me, first, last))
            if seqs:
                conn.exec_driver_sql(UPSERT_SEQ, seqs)
            if refused:
                conn.exec_driver_sql(UPSERT_STATUS, refused)
                recompute(conn, touched)
            set_meta(conn, META_PUSHED, through)
        out.taken_through = through
        return out

    def apply_pull(
        self, me: str, resp: PullResponse, crash: Callable[[str], None] | None = None, *, now: datetime | None = None
    ) -> tuple[int, int]:
        """Store pulled events, update the projection of every order they touch and move the cursor, all in
        one transaction. Returns (new events, orders touched). A new event that fails validation
        (``models.validate``) is quarantined: stored, marked, left out of the projection; the messages are in
        ``self.quarantined``."""
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
                chunk = ids[i : i + 500]
                have.update(
                    r[0]
                    for r in conn.exec_driver_sql(f"SELECT id FROM events WHERE id IN ({_marks(chunk)})", tuple(chunk))
                )
            rows, calls, own = [], [], None
            fresh: set[str] = set()
            for ev in resp.events:
                touched.add(ev.order_id)
                if ev.id in have:
                    continue
                have.add(ev.id)
                fresh.add(ev.id)
                rows.append(ev.row())
                if ev.desk == me and (own is None or ev.desk_seq > own.desk_seq):
                    own = ev  # our own event we no longer had (the desk's file was restored from a backup)
                calls.extend(_calls_of(ev))
            if rows:
                try:
                    conn.exec_driver_sql(INSERT_EVENT, rows)
                except sqlite3.IntegrityError:
                    raise SyncError(t("sync.diverged_local", desk=me)) from None
                new = len(rows)
            if calls:
                rollups = Tracker(conn)  # a call can make earlier orders of its phone repeat-call orders
                rollups.watch_calls((c[_CALL_PHONE], c[_CALL_AT]) for c in calls)
                conn.exec_driver_sql(INSERT_CALL_ONCE, calls)
                rollups.finish()
            if own is not None:
                conn.exec_driver_sql(
                    "INSERT INTO desk_heads (desk, seq, hash) VALUES (?, ?, ?) ON CONFLICT (desk) DO UPDATE SET "
                    "seq = excluded.seq, hash = excluded.hash WHERE excluded.seq > desk_heads.seq",
                    (me, own.desk_seq, own.hash),
                )
            news = [ev for ev in resp.events if ev.id in fresh]
            alone = _alone(conn, news)
            # their numbers go in with their outcomes, one write each (nothing reads them from the file before)
            later = {ev.id: (ev.seq, ev.sig) for ev in news if ev.order_id in alone}
            if resp.events:
                # numbers are unique: one still held by another event here is stale (a restore nobody announced)
                conn.exec_driver_sql(
                    f"UPDATE event_state SET server_seq = NULL WHERE server_seq IN "
                    f"({_marks(resp.events)}) AND event_id NOT IN ({_marks(resp.events)})",
                    (*(ev.seq for ev in resp.events), *(ev.id for ev in resp.events)),
                )
                now_seqs = [(ev.id, ev.seq, ev.sig) for ev in resp.events if ev.id not in later]
                if now_seqs:
                    conn.exec_driver_sql(UPSERT_SEQ, now_seqs)
            if crash:
                crash("pull:stored")
            loaded: dict[str, list[Any]] = {}
            folded: dict[str, Replayed] = {}
            self.quarantined = quarantine(conn, news, self.ref, now or system_clock(), loaded, folded, alone)
            recompute(conn, touched, loaded, folded, later)  # the orders as quarantine read and folded them
            if later:  # the quarantined among them: no outcome to go with
                conn.exec_driver_sql(UPSERT_SEQ, [(i, seq, sig) for i, (seq, sig) in later.items()])
            set_meta(conn, META_CURSOR, resp.cursor)
            if not resp.more and get_meta(conn, META_SIGS_PENDING):
                conn.exec_driver_sql("DELETE FROM meta WHERE key = ?", (META_SIGS_PENDING,))
        return new, len(touched)

    def trust_server_key(self, key: str) -> str | None:
        """Compare the server's public key with the one this desk keeps. The first time, keep it (and, when the
        desk already holds synced events, pull again from the start to fetch their signatures); afterwards
        return the kept key when it differs (the caller refuses to sync), else None."""
        with self.db.write() as conn:
            kept = get_meta(conn, META_SERVER_KEY)
            if kept == key:
                return None
            if kept is not None:
                return kept
            set_meta(conn, META_SERVER_KEY, key)
            if meta_int(conn, META_CURSOR) > 0:
                set_meta(conn, META_CURSOR, 0)
                set_meta(conn, META_SIGS_PENDING, "1")
        return None

    def forget_server_key(self) -> None:
        """Drop the kept server key (an operator accepting a new server): the next sync keeps the new one."""
        with self.db.write() as conn:
            conn.exec_driver_sql("DELETE FROM meta WHERE key = ?", (META_SERVER_KEY,))

    def mark_ok(self, when: datetime) -> None:
        with self.db.write() as conn:
            set_meta(conn, META_LAST_OK, to_db(when))

    def counts(self) -> dict[str, int]:
        with self.db.read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT status, count(*) FROM event_state WHERE status IN "
                "('conflict', 'refused', 'unknown', 'quarantined') GROUP BY status"
            ).all()
        return {r[0]: int(r[1]) for r in rows}


PULL_FUTURE = timedelta(days=4)  # the server checked against its clock; this desk's may lag behind it


def quarantine(
    conn: Connection,
    new: list[ServerEvent],
    ref: Reference,
    now: datetime,
    loaded: dict[str, list[Any]] | None = None,
    folded: dict[str, Replayed] | None = None,
    alone: set[str] | None = None,
) -> list[str]:
    """Validate the events just pulled, each against its order's state before it; mark the invalid ones
    ``quarantined`` (with the reason) so the replay leaves them out. Returns one message per event. Fills
    ``loaded`` with the events of the orders it read, the quarantined left out (what the replay reads next),
    and ``folded`` with the replay of each order's (not a warning's or a case's) that its checking did.
    ``alone``: orders all of whose events here are among ``new`` (:func:`_alone`), read from ``new`` itself."""
    if not new:
        return []
    messages: list[str] = []
    checked: list[tuple[str, str, str]] = []
    by_id = {ev.id: ev for ev in new}
    unread: dict[str, str] = {}  # unreadable at the wire level: no event to validate
    orders = sorted({ev.order_id for ev in new})
    for i in range(0, len(orders), 400):
        for oid, events in _events_of(conn, orders[i : i + 400], new, alone or set()).items():
            # in place through the order's history, copying only when an event is refused (models/machine.py);
            # the outcomes are the replay's (Fold answers as step does), so the projection reuses them
            subject = bool(events) and is_subject(events[0].order_id)
            fold = Fold(None, gov_apply if subject else apply)
            statuses: dict[str, str] = {}
            reasons: dict[str, str] = {}
            for e in events:
                wire = by_id.get(e.id)
                if wire is not None:
                    why = _unreadable(wire, e.payload)
                    if why is not None:
                        unread[e.id] = why
                        continue
                    problem = validate_event(e, ref=ref, now=now, state=fold.state, future=PULL_FUTURE)
                    if problem is not None:
                        checked.append((e.id, "quarantined", problem.message))
                        continue
                _state, status, reason = fold.step(e)
                statuses[e.id] = status
                if reason is not None:
                    reasons[e.id] = reason
            if loaded is not None:
                loaded[oid] = events  # the quarantined are taken out below
            if folded is not None and not subject:
                folded[oid] = Replayed(fold.state, statuses, reasons)
    marks = [(ev.id, "quarantined", unread[ev.id]) for ev in new if ev.id in unread] + checked
    if loaded is not None and marks:
        out = {m[0] for m in marks}
        for oid in {by_id[i].order_id for i in out}:
            if oid in loaded:
                loaded[oid] = [e for e in loaded[oid] if e.id not in out]
    for event_id, _status, reason in marks:
        ev = by_id[event_id]
        messages.append(t("validate.quarantined", id=event_id, kind=ev.kind[:40], desk=ev.desk[:40], reason=reason))
        log.warning("quarantined pulled event %s: %s", event_id, reason)
    if marks:
        conn.exec_driver_sql(UPSERT_STATUS, marks)
    return messages


def _alone(conn: Connection, new: list[ServerEvent]) -> set[str]:
    """The orders (not warnings or cases) of the events ``new`` just stored of which this file holds no other
    event: a new order, its events all in the page."""
    mine: dict[str, int] = {}
    for ev in new:
        if not is_subject(ev.order_id):
            mine[ev.order_id] = mine.get(ev.order_id, 0) + 1
    ids = sorted(mine)
    out: set[str] = set()
    for i in range(0, len(ids), 400):
        chunk = ids[i : i + 400]
        sql = f"SELECT order_id, count(*) FROM events WHERE order_id IN ({_marks(chunk)}) GROUP BY order_id"
        out.update(oid for oid, n in conn.exec_driver_sql(sql, tuple(chunk)).all() if n == mine[oid])
    return out


def _events_of(conn: Connection, order_ids: list[str], new: list[ServerEvent], alone: set[str]) -> dict[str, list[Any]]:
    """``load_events_of`` for orders of a pulled page; those ``alone`` read from the page itself (in server
    order: the file holds no pending event of them)."""
    mine: dict[str, list[ServerEvent]] = {oid: [] for oid in order_ids if oid in alone}
    for ev in new:
        if ev.order_id in mine:
            mine[ev.order_id].append(ev)
    out = {oid: [row_to_event(e) for e in sorted(evs, key=lambda e: e.seq)] for oid, evs in mine.items()}
    rest = [oid for oid in order_ids if oid not in mine]
    if rest:
        out.update(load_events_of(conn, rest))
    return out


def _unreadable(ev: WireEvent, payload: dict[str, Any]) -> str | None:
    """Why ``ev`` cannot be read as an event (``payload``: its payload as ``read_payload`` read it), or None."""
    for name in ("event_at", "recorded_at"):
        try:
            from_db(getattr(ev, name))
        except (TypeError, ValueError):
            return t("validate.type", field=name, expected="time")
    if not payload and ev.payload.strip() != "{}":
        return t("validate.type", field="payload", expected="object")
    return None


def _same_epoch(conn: Connection, epoch: str) -> None:
    """Inside a write: refuse an answer from another epoch (another sync of this file has just reset it)."""
    known = get_meta(conn, META_EPOCH)
    if known is not None and known != epoch:
        raise SyncUnavailable(t("sync.epoch_moved"))


def _calls_of(ev: WireEvent) -> list[tuple[Any, ...]]:
    """The call rows a pulled event carries (a dispatch's call, a linked repeat call)."""
    if ev.kind not in (Action.DISPATCH, Action.LINK, GKind.NOTICE_CALL, GKind.ANSWER_CALL):
        return []
    try:
        payload = read_payload(ev.payload)
        call = CallInfo.from_payload(payload["call"], ev.desk)
    except (ValueError, KeyError, TypeError):
        return []
    if ev.kind == Action.DISPATCH:
        return [call_tuple(call, ev.order_id, linked=False, repeat_of=payload.get("repeat_of"))]
    if ev.kind == GKind.NOTICE_CALL:  # a call recorded on a notice: under the notice's id, no order
        return [call_tuple(call, ev.order_id, linked=True, repeat_of=None)]
    if ev.kind == GKind.ANSWER_CALL:  # a call answered on the spot: under its own id, no order
        return [call_tuple(call, ev.order_id, linked=False, repeat_of=None)]
    return [call_tuple(call, ev.order_id, linked=True, repeat_of=ev.order_id)]
