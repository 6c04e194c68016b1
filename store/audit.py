"""The audit trail: an order's full history, the access log, and ``fengqiao check``.

:func:`verify` proves (or disproves) that the log is the one that was written:

* ``PRAGMA integrity_check`` (the file itself) and the append-only triggers still in place;
* every event's hash recomputed from its stored columns (an edited event no longer matches);
* the chain links: where two consecutive events of a desk are both held, the second names the first's hash;
* completeness: the desks this database writes (``desk_heads``) must hold every number from 1 to the head,
  and the head must be the last event. Once sync brings other desks' events, a database may hold only
  some of them (a department pulls only its orders): those desks are checked event by event and link by
  link where consecutive events are present, and their gaps are reported as a partial copy, not as a fault
  (pass ``complete_desks`` to demand completeness of more desks);
* the projection: each order's row, assignments and calls equal the replay of its events (an order row or a
  caller's words edited in the tables, or events removed together with their chain, show up here);
* the same chain checks for the access log (who saw full phone numbers).

A chain in the same file cannot stop someone who rewrites every later hash and the head as well; the
report therefore prints each desk's head (number and hash), to compare with a copy held elsewhere (the
sync server, a backup, a printed handover sheet).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fengqiao.models.clock import Clock, system_clock, to_db
from fengqiao.models.errors import StoreError
from fengqiao.models.events import GENESIS, hash_fields, new_id, payload_text
from fengqiao.models.governance import is_subject
from fengqiao.models.i18n import t
from fengqiao.models.machine import CallInfo, Event, missed_by, replay
from fengqiao.models.privacy import UNMASKED, AccessRecord, access_hash
from fengqiao.models.roles import Desk
from fengqiao.models.text import clip

from .checks import Anchoring, anchoring, derived_differences, is_missing_order, schema_differences
from .db import Connection, Database, raw_sqlite
from .governance import check_subjects
from .projection import (
    ASSIGNMENT_COLUMNS,
    CALL_COLUMNS,
    ORDER_COLUMNS,
    assignment_tuples,
    call_tuple,
    has_sync_table,
    read_payload,
    read_time,
)
from .projection import (
    order_tuple as full_order_tuple,
)

EVENT_TRIGGERS = ("events_append_only_update", "events_append_only_delete")
ACCESS_TRIGGERS = ("access_log_append_only_update", "access_log_append_only_delete")
_EVENT_SQL = (
    "SELECT desk, desk_seq, id, order_id, assignment_id, kind, actor, event_at, recorded_at, payload, "
    "prev_hash, hash FROM events"
)
_ACCESS_SQL = "SELECT desk, desk_seq, id, actor, role, action, target, detail, at, prev_hash, hash FROM access_log"


# ---- the report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One thing wrong, in plain words. ``seq``/``seq_to`` are the desk's own event numbers."""

    kind: str  # integrity | trigger | edited | relinked | genesis | deleted | truncated | head | projection | call
    message: str
    log: str = "events"  # events | access | orders | file
    desk: str | None = None
    seq: int | None = None
    seq_to: int | None = None
    order_no: str | None = None


@dataclass
class ChainSummary:
    """What one desk's chain looks like in this database."""

    log: str  # events | access
    desk: str
    held: int = 0
    first: int = 0
    last: int = 0
    last_hash: str = ""
    head: int | None = None  # the head this database recorded (None: a desk that does not write here)
    complete: bool = False  # expected to hold every number from 1 to the head
    missing: int = 0  # numbers absent between 1 and ``last``


@dataclass
class CheckReport:
    integrity: list[str] = field(default_factory=list)
    chains: list[ChainSummary] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    notes: list[Fault] = field(default_factory=list)  # worth knowing, not a fault (see store/checks.py)
    anchor: Anchoring | None = None  # what the server's signatures say (store/checks.py)
    events: int = 0
    orders: int = 0
    access: int = 0
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return not self.faults


# ---- chains -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Link:
    desk: str
    seq: int
    prev_hash: str
    hash: str
    computed: str
    ref: str  # what the link is about (an order id, an access target) for messages


def _event_links(conn: Connection) -> Iterator[_Link]:
    for r in _cursor(conn, _EVENT_SQL + " ORDER BY desk, desk_seq"):
        desk, seq, id_, order_id, assignment_id, kind, actor, event_at, recorded_at, payload, prev_hash, hash_ = r
        computed = hash_fields(
            id=id_,
            order_id=order_id,
            assignment_id=assignment_id,
            kind=kind,
            actor=actor,
            desk=desk,
            desk_seq=seq,
            event_at=event_at,
            recorded_at=recorded_at,
            payload=payload,
            prev_hash=prev_hash,
        )
        yield _Link(desk, seq, prev_hash, hash_, computed, order_id)


def _access_record(r: tuple[Any, ...]) -> AccessRecord:
    return AccessRecord(
        id=r[2],
        desk=r[0],
        desk_seq=r[1],
        actor=r[3],
        role=r[4],
        action=r[5],
        target=r[6],
        detail=r[7],
        at=r[8],
        prev_hash=r[9],
        hash=r[10],
    )


def _access_links(conn: Connection) -> Iterator[_Link]:
    for r in _cursor(conn, _ACCESS_SQL + " ORDER BY desk, desk_seq"):
        rec = _access_record(r)
        yield _Link(rec.desk, rec.desk_seq, rec.prev_hash, rec.hash, _access_digest(rec), rec.target)


def _access_digest(rec: AccessRecord) -> str:
    return access_hash(
        id=rec.id,
        desk=rec.desk,
        desk_seq=rec.desk_seq,
        actor=rec.actor,
        role=rec.role,
        action=rec.action,
        target=rec.target,
        detail=rec.detail,
        at=rec.at,
        prev_hash=rec.prev_hash,
    )


def _cursor(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Stream rows straight from the driver (no per-row SQLAlchemy objects: millions of events)."""
    cur = raw_sqlite(conn).execute(sql, params)
    try:
        while rows := cur.fetchmany(2000):
            yield from rows
    finally:
        cur.close()


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}–{last}"


def _scan(
    links: Iterable[_Link],
    heads: dict[str, tuple[int, str]],
    complete: set[str],
    log: str,
    describe: Callable[[str], str],
) -> tuple[list[ChainSummary], list[Fault], int]:
    """Check hashes, links and completeness of one log, desk by desk (``links`` sorted by desk, number)."""
    label = t(f"audit.log_{log}")
    summaries: list[ChainSummary] = []
    faults: list[Fault] = []
    count = 0
    cur: ChainSummary | None = None
    prev: _Link | None = None

    def fault(
        kind: str, desk: str, seq: int | None, seq_to: int | None = None, ref: str | None = None, **kw: Any
    ) -> None:
        name = describe(ref) if ref is not None else ""
        what = t(f"audit.about_{log}", name=name) if name else ""
        faults.append(
            Fault(
                kind,
                t(f"audit.fault_{kind}", log=label, desk=desk, seq=seq, what=what, **kw),
                log,
                desk,
                seq,
                seq_to,
                name if log == "events" and name else None,
            )
        )

    def gap(desk: str, first: int, last: int) -> None:
        if cur is not None:
            cur.missing += last - first + 1
        if desk in complete:
            fault("deleted", desk, first, last, span=_span(first, last), count=last - first + 1)

    def finish(s: ChainSummary | None, last: _Link | None) -> None:
        if s is None or last is None:
            return
        head = heads.get(s.desk)
        if head is not None:
            s.head = head[0]
            if last.seq < head[0]:
                fault("truncated", s.desk, last.seq + 1, head[0], head=head[0], last=last.seq, count=head[0] - last.seq)
            elif last.seq > head[0]:
                fault("head_behind", s.desk, head[0], head=head[0], last=last.seq)
            elif last.hash != head[1]:
                fault("head_hash", s.desk, last.seq, ref=last.ref)
        summaries.append(s)

    for link in links:
        count += 1
        if cur is None or link.desk != cur.desk:
            finish(cur, prev)
            cur = ChainSummary(log, link.desk, first=link.seq, complete=link.desk in complete)
            prev = None
        cur.held += 1
        cur.last, cur.last_hash = link.seq, link.hash
        if link.computed != link.hash:
            fault("edited", link.desk, link.seq, ref=link.ref)
        if prev is None:
            if link.seq > 1:
                gap(link.desk, 1, link.seq - 1)
            elif link.prev_hash != GENESIS:
                fault("genesis", link.desk, link.seq, ref=link.ref)
        elif link.seq == prev.seq + 1:
            if link.prev_hash != prev.hash:
                fault("relinked", link.desk, link.seq, ref=link.ref, prev=prev.seq)
        else:
            gap(link.desk, prev.seq + 1, link.seq - 1)
        prev = link
    finish(cur, prev)
    seen = {s.desk for s in summaries}
    for desk, (seq, _hash) in sorted(heads.items()):
        if desk not in seen and seq > 0:
            summaries.append(ChainSummary(log, desk, head=seq, complete=True))
            fault("truncated", desk, 1, seq, head=seq, last=0, count=seq)
    return summaries, faults, count


# ---- projection --------------------------------------------------------------------------------------


def _grouped(rows: Iterator[tuple[Any, ...]], key: int = 0) -> Iterator[tuple[Any, list[tuple[Any, ...]]]]:
    group: list[tuple[Any, ...]] = []
    current: Any = object()
    for row in rows:
        if row[key] != current:
            if group:
                yield current, group
            current, group = row[key], []
        group.append(row)
    if group:
        yield current, group


class _Merge:
    """Walks several id-sorted row groups in step: the rows each table holds for one order id."""

    def __init__(self, sources: dict[str, Iterator[tuple[Any, list[tuple[Any, ...]]]]]) -> None:
        self.sources = sources
        self.heads: dict[str, tuple[Any, list[tuple[Any, ...]]] | None] = {k: next(v, None) for k, v in sources.items()}

    def __iter__(self) -> Iterator[tuple[Any, dict[str, list[tuple[Any, ...]]]]]:
        while True:
            keys = [h[0] for h in self.heads.values() if h is not None]
            if not keys:
                return
            # NULL order ids (a call that belongs to no order) sort first in SQLite.
            current = None if None in keys else min(keys)
            out: dict[str, list[tuple[Any, ...]]] = {}
            for name, head in self.heads.items():
                if head is not None and head[0] == current:
                    out[name] = head[1]
                    self.heads[name] = next(self.sources[name], None)
                else:
                    out[name] = []
            yield current, out


def _row_event(r: tuple[Any, ...]) -> Event:
    return Event(
        id=r[1],
        order_id=r[0],
        assignment_id=r[2],
        kind=r[3],
        actor=r[4],
        desk=r[5],
        desk_seq=r[6],
        event_at=read_time(r[7]),
        recorded_at=read_time(r[8]),
        payload=read_payload(r[9]),
    )


def _differences(columns: tuple[str, ...], stored: tuple[Any, ...] | None, expected: tuple[Any, ...] | None) -> str:
    if stored is None or expected is None:
        return t("audit.row_missing") if stored is None else t("audit.row_extra")
    diffs = [
        t("audit.diff", column=c, stored=clip(str(a), 32), expected=clip(str(b), 32))
        for c, a, b in zip(columns, stored, expected, strict=True)
        if a != b
    ]
    return "; ".join(diffs[:3]) + ("; …" if len(diffs) > 3 else "")


def _first_difference(
    stored: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]
) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]:
    for a, b in zip(stored, expected, strict=False):
        if a != b:
            return a, b
    if len(stored) < len(expected):
        return None, expected[len(stored)]
    return stored[len(expected)], None


def _expected_calls(order_id: str, events: list[Event]) -> list[tuple[Any, ...]]:
    calls = []
    for ev in events:
        data = ev.payload.get("call")
        if not isinstance(data, dict):
            continue
        call = CallInfo.from_payload(data, ev.desk)
        if ev.kind == "dispatch":
            calls.append(call_tuple(call, order_id, linked=False, repeat_of=ev.payload.get("repeat_of")))
        elif ev.kind == "link":
            calls.append(call_tuple(call, order_id, linked=True, repeat_of=order_id))
    return sorted(calls, key=lambda c: c[0])


def _check_projection(
    conn: Connection, progress: Callable[[int], None] | None, now: datetime, notes: list[Fault] | None = None
) -> tuple[list[Fault], int]:
    """Every order's row, assignments and calls against the replay of its events.

    The replay follows sync's merge rule (``store.projection.load_events``): events the server numbered in its
    order, then this desk's unconfirmed ones, refused ones left out. Rows are read in local order (one scan of
    the events index) and each order's events are put in merge order here.

    ``first_overdue_at`` may also hold what ``store.board.mark_overdue`` wrote without an event (a deadline
    that passed with nothing done): a row is accepted when it equals the replay, or the replay with the
    deadlines missed by ``now`` noted (``models.machine.missed_by``); any other value is a fault.
    """
    faults: list[Fault] = []
    # A file of an older schema (a backup checked before it is restored and migrated) has fewer order columns:
    # its rows are checked on the columns it has (0011 added village and grid at the end).
    present = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(orders)")}
    columns = tuple(c for c in ORDER_COLUMNS if c in present)
    width = len(columns) if columns == ORDER_COLUMNS[: len(columns)] else len(ORDER_COLUMNS)

    def order_tuple(o: Any) -> tuple[Any, ...]:
        return full_order_tuple(o)[:width]

    sync = (
        "s.server_seq, s.status FROM events e LEFT JOIN event_state s ON s.event_id = e.id"
        if has_sync_table(conn)
        else "NULL, NULL FROM events e"
    )
    sources = {
        "events": _grouped(
            _cursor(
                conn,
                "SELECT e.order_id, e.id, e.assignment_id, e.kind, e.actor, e.desk, "
                "e.desk_seq, e.event_at, e.recorded_at, e.payload, "
                f"{sync} ORDER BY e.order_id, e.seq",
            )
        ),
        "orders": _grouped(_cursor(conn, f"SELECT {', '.join(columns)} FROM orders ORDER BY id")),
        "assignments": _grouped(
            _cursor(conn, f"SELECT {', '.join(ASSIGNMENT_COLUMNS)} FROM assignments ORDER BY order_id, seq"), key=1
        ),
        "calls": _grouped(
            _cursor(conn, f"SELECT {', '.join(CALL_COLUMNS)} FROM calls ORDER BY order_id, id"),
            key=CALL_COLUMNS.index("order_id"),
        ),
    }
    orders = 0

    def fault(kind: str, order: str, **kw: Any) -> None:
        faults.append(Fault(kind, t(f"audit.fault_{kind}", order=order, **kw), "orders", order_no=order))

    for order_id, got in _Merge(sources):
        if order_id is not None and is_subject(order_id) and not got["orders"]:
            continue  # a warning's or a case's events: checked against their own tables (check_subjects)
        orders += 1
        if progress is not None and orders % 5000 == 0:
            progress(orders)
        stored = got["orders"][0] if got["orders"] else None
        name = stored[1] if stored else (order_id or "-")
        if order_id is None:
            fault("call", name, what=t("audit.call_without_order", count=len(got["calls"])))
            continue
        every = [_row_event(r) for r in got["events"]]  # the calls: every call taken, refused or not
        shared = sorted(
            (r for r in got["events"] if r[11] not in ("refused", "quarantined")),
            key=lambda r: (r[10] is None, r[10] or 0),
        )
        events = [_row_event(r) for r in shared]
        if every and not events and stored is None:
            continue  # the server refused this desk's dispatch: no order, its events kept for the record
        if stored is None and is_missing_order(shared):
            if notes is not None:
                notes.append(
                    Fault(
                        "missing_order",
                        t("audit.note_missing_order", order=name, count=len(shared)),
                        "orders",
                        order_no=name,
                    )
                )
            continue  # events for an order nobody had (the server too): not a deleted dispatch
        if not events:
            fault("no_events", name)
            continue
        if events[0].kind != "dispatch":
            fault("no_dispatch", name)
            continue
        state = replay(events).state
        if state is None:
            fault("no_dispatch", name)
            continue
        name = state.order_no
        expected = order_tuple(state)
        want = assignment_tuples(state)
        if stored != expected or got["assignments"] != want:
            marked = missed_by(state, now)  # first overdue moments recorded by mark_overdue are legitimate
            if stored != expected and stored != order_tuple(marked):
                fault("projection", name, what=_differences(columns, stored, expected))
            rows = got["assignments"]
            if rows != want and (
                len(rows) != len(want)
                or any(row not in (a, b) for row, a, b in zip(rows, want, assignment_tuples(marked), strict=True))
            ):
                bad = _first_difference(rows, want)
                fault("projection", name, what=t("audit.in_assignments", what=_differences(ASSIGNMENT_COLUMNS, *bad)))
        calls = sorted(got["calls"], key=lambda c: c[0])
        want_calls = _expected_calls(state.id, every)
        if calls != want_calls:
            fault("call", name, what=_differences(CALL_COLUMNS, *_first_difference(calls, want_calls)))
    return faults, orders


# ---- the whole check ---------------------------------------------------------------------------------


def _tables(conn: Connection) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.exec_driver_sql("SELECT name, type FROM sqlite_master")}


def _heads(conn: Connection, table: str) -> dict[str, tuple[int, str]]:
    return {r[0]: (int(r[1]), str(r[2])) for r in conn.exec_driver_sql(f"SELECT desk, seq, hash FROM {table}")}


def verify(
    db: Database,
    *,
    complete_desks: Iterable[str] = (),
    projection: bool = True,
    progress: Callable[[int], None] | None = None,
    clock: Clock = system_clock,
) -> CheckReport:
    """Run every check in one read snapshot; never writes. See the module docstring for what is checked."""
    report = CheckReport()
    with db.read() as conn:
        rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").all()]
    report.integrity = rows
    if rows != ["ok"]:
        detail = "; ".join(clip(r, 120) for r in rows[:5]) + ("; …" if len(rows) > 5 else "")
        report.faults.append(Fault("integrity", t("audit.fault_integrity", detail=detail), "file"))
    try:
        with db.read() as conn:
            _verify_logs(conn, report, set(complete_desks))
            if projection:
                faults, report.orders = _check_projection(conn, progress, clock(), report.notes)
                report.faults += faults
                for table, name, what in check_subjects(conn):
                    report.faults.append(
                        Fault("subject", t("audit.fault_subject", table=table, name=name, what=what), table)
                    )
                report.replayed = True
            else:
                report.orders = int(conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() or 0)
    except StoreError as exc:  # a damaged file may refuse to be read past a point: say so, keep what was found
        report.faults.append(Fault("unreadable", t("audit.fault_unreadable", error=str(exc)), "file"))
    return report


def _verify_logs(conn: Connection, report: CheckReport, complete_desks: set[str]) -> None:
    names = _tables(conn)
    logs = [("events", EVENT_TRIGGERS, "desk_heads", _event_links)]
    if "access_log" in names:
        logs.append(("access", ACCESS_TRIGGERS, "access_heads", _access_links))
    order_nos = _order_names(conn)
    missing_reported: set[str] = set()
    for log, triggers, heads_table, links in logs:
        for trig in triggers:
            if names.get(trig) != "trigger":
                missing_reported.add(trig)
                report.faults.append(
                    Fault("trigger", t("audit.fault_trigger", name=trig, log=t(f"audit.log_{log}")), log)
                )
        heads = _heads(conn, heads_table)
        describe = order_nos if log == "events" else (lambda ref: ref)
        summaries, faults, count = _scan(links(conn), heads, set(heads) | complete_desks, log, describe)
        report.chains += summaries
        report.faults += faults
        if log == "events":
            report.events = count
        else:
            report.access = count
    anchor = anchoring(conn, names)  # other desks' chains against the server's signatures
    report.anchor = anchor
    for kind, desk, seq, order_id in anchor.faults:
        what = t("audit.about_events", name=order_nos(order_id))
        report.faults.append(
            Fault(
                kind,
                t(f"audit.fault_{kind}", log=t("audit.log_events"), desk=desk, seq=seq, what=what),
                "events",
                desk,
                seq,
                None,
                order_nos(order_id),
            )
        )
    if anchor.unanchored:
        report.notes.append(Fault("unanchored", t("audit.note_unanchored", count=anchor.unanchored), "events"))
    if anchor.pending:
        report.notes.append(Fault("sigs_pending", t("audit.note_sigs_pending", count=anchor.pending), "events"))
    for table, key, n in derived_differences(conn, names):  # derived tables against the log
        report.faults.append(Fault("derived", t(f"audit.fault_{key}", table=table, count=n), "file"))
    for what, kind, name in schema_differences(conn):  # replaced trigger bodies, extra or missing objects
        if what == "missing" and name in missing_reported:
            continue
        report.faults.append(Fault("schema", t(f"audit.fault_schema_{what}", kind=kind, name=name), "file"))


def _order_names(conn: Connection) -> Callable[[str], str]:
    """Order id → order number, looked up only when a fault needs it."""
    cache: dict[str, str] = {}

    def name(order_id: str) -> str:
        if order_id not in cache:
            row = conn.exec_driver_sql("SELECT order_no FROM orders WHERE id = ?", (order_id,)).first()
            cache[order_id] = row[0] if row else order_id
        return cache[order_id]

    return name


# ---- an order's history ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One event as stored, with what the chain says about it."""

    seq: int  # local insertion order
    id: str
    desk: str
    desk_seq: int
    actor: str
    kind: str
    assignment_id: str | None
    event_at: str
    recorded_at: str
    payload: dict[str, Any]
    payload_text: str
    prev_hash: str
    hash: str
    hash_ok: bool  # the stored hash matches the stored columns
    link_ok: bool | None  # prev_hash names the desk's previous event (None: that event is not held here)


def history(db: Database, order_id: str) -> list[HistoryEntry]:
    """Every event of one order, oldest first, each checked against its stored hash and its predecessor."""
    out = []
    with db.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT e.seq, e.id, e.order_id, e.assignment_id, e.kind, e.actor, e.desk, e.desk_seq, e.event_at, "
            "e.recorded_at, e.payload, e.prev_hash, e.hash, p.hash FROM events e LEFT JOIN events p "
            "ON p.desk = e.desk AND p.desk_seq = e.desk_seq - 1 WHERE e.order_id = ? ORDER BY e.seq",
            (order_id,),
        ).all()
        for r in rows:
            computed = hash_fields(
                id=r[1],
                order_id=r[2],
                assignment_id=r[3],
                kind=r[4],
                actor=r[5],
                desk=r[6],
                desk_seq=r[7],
                event_at=r[8],
                recorded_at=r[9],
                payload=r[10],
                prev_hash=r[11],
            )
            if r[7] == 1:
                link_ok: bool | None = r[11] == GENESIS
            else:
                link_ok = None if r[13] is None else r[11] == r[13]
            try:
                payload = json.loads(r[10])
            except ValueError:
                payload = {}
            out.append(
                HistoryEntry(
                    r[0],
                    r[1],
                    r[6],
                    r[7],
                    r[5],
                    r[4],
                    r[3],
                    r[8],
                    r[9],
                    payload,
                    r[10],
                    r[11],
                    r[12],
                    computed == r[12],
                    link_ok,
                )
            )
    return out


# ---- the access log ----------------------------------------------------------------------------------


def record_access(
    db: Database,
    desk: Desk,
    *,
    target: str,
    detail: dict[str, Any] | None = None,
    action: str = UNMASKED,
    clock: Clock = system_clock,
) -> AccessRecord:
    """Append one line to ``desk``'s access chain, in its own transaction, and return it.

    Call it *before* showing the data: if the line cannot be written (a read-only or full disk), the full
    numbers must not be shown either. Reports and exports call it with ``target="export"`` (or their own
    name) and ``detail={"file": ..., "orders": [...]}``.
    """
    text = payload_text(detail or {})
    at = to_db(clock())
    role = str(desk.role) if desk.role else ""
    with db.write() as conn:
        row = conn.exec_driver_sql("SELECT seq, hash FROM access_heads WHERE desk = ?", (desk.name,)).first()
        seq, prev = (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS)
        rec = AccessRecord(new_id(), desk.name, seq, desk.actor, role, action, target, text, at, prev, "")
        rec = AccessRecord(**{**rec.__dict__, "hash": _access_digest(rec)})
        conn.exec_driver_sql(
            "INSERT INTO access_log (id, desk, desk_seq, actor, role, action, target, detail, at, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rec.id,
                rec.desk,
                rec.desk_seq,
                rec.actor,
                rec.role,
                rec.action,
                rec.target,
                rec.detail,
                rec.at,
                rec.prev_hash,
                rec.hash,
            ),
        )
        conn.exec_driver_sql(
            "INSERT INTO access_heads (desk, seq, hash) VALUES (?, ?, ?) "
            "ON CONFLICT (desk) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            (rec.desk, seq, rec.hash),
        )
    return rec


def access_log(db: Database, *, limit: int = 100) -> list[AccessRecord]:
    """The newest access-log lines, newest first."""
    with db.read() as conn:
        rows = conn.exec_driver_sql(_ACCESS_SQL + " ORDER BY seq DESC LIMIT ?", (limit,)).all()
    return [_access_record(tuple(r)) for r in rows]
