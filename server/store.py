"""The sync server's storage and protocol logic, on SQLite (default) or PostgreSQL (``postgresql+psycopg://``).

No HTTP here (server/app.py is the FastAPI layer) and no state between calls: several server processes can
share one PostgreSQL database.

* **Push**: one transaction per batch. It first locks the ``srv_counter`` row (``SELECT … FOR UPDATE`` on
  PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` write lock does the same), so pushes commit one after another and
  the global numbers they take are gap-free and in commit order. Events are taken in the desk's order:
  an id already stored is answered with its original number; a desk's next event only in sequence (on a gap
  the answer says which ``desk_seq`` is expected); the hash chain is checked; the desk's role is checked
  against the order as the server has it (the same rules as the console, models/roles.py; a desk whose order
  a concurrent change took away, e.g. a reassignment it had not yet pulled, is not refused). A business
  conflict (two desks signed, an action no longer legal) is stored and answered ``state = conflict``. The
  answer gives the events taken as runs of consecutive numbers (protocol 2; one result per event to a desk of
  protocol 1) and one signature, over the newest event taken. The rows go in one batch per table.
* **Pull**: ``seq > cursor`` up to the counter's committed value, so no committed row is ever skipped. A
  desk that does not see everything (department, township) gets only the events of orders assigned to it (or
  that it dispatched), and, when an order becomes its, that order's earlier history too. Each event that ends
  a run of its desk's chain in the page is signed (once: ``srv_sigs`` keeps it).
* **Epoch**: a random id stored in ``srv_meta``; ``new_epoch`` changes it after a restore from backup, and
  every desk then re-pushes what it authored and pulls from the start.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic_core
from sqlalchemy import BigInteger, Text, any_, bindparam, create_engine, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from fengqiao.models import governance as gov
from fengqiao.models import roles
from fengqiao.models.clock import Clock, system_clock, to_db
from fengqiao.models.errors import FengqiaoError, PermissionDenied, ValidationError
from fengqiao.models.events import GENESIS, STORED_COLUMNS
from fengqiao.models.i18n import t
from fengqiao.models.machine import KNOWN_KINDS, Action, Event, Fold, apply, replay, step
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.roles import Desk, Role, make_desk
from fengqiao.models.validate import validate_event
from fengqiao.store.db import sqlite_engine
from fengqiao.store.projection import row_to_event
from fengqiao.store.signing import Signer, new_private_key
from fengqiao.store.wire import EventResult, Hello, PullResponse, PushRequest, PushResponse, Run

from .schema import (
    SrvCounter,
    SrvDesk,
    SrvDeskHead,
    SrvEvent,
    SrvMeta,
    SrvOrderNo,
    SrvRefused,
    SrvScope,
    SrvSig,
    SrvWebhook,
    create_schema,
)
from .scope import backfill_town_scope, desk_scope_codes, scope_holders, subject_holders

COUNTER = "events"
EVENT_COLUMNS = (*STORED_COLUMNS, "seq", "state", "received_at")
REFUSED_COLUMNS = ("id", "desk", "desk_seq", "order_id", "kind", "hash", "reason", "message", "row", "received_at")
PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
CHUNK = 500
_ACTIONS = {str(a): a for a in Action}
_SUBJECT_STATES = (gov.WarningState, gov.CaseState, gov.NoticeState, gov.AnsweredState)


log = logging.getLogger("fengqiao.server")


class ServerError(FengqiaoError):
    """A server-side problem with a clear message (bad desk definition, unknown desk, …)."""


class ServerUnavailable(ServerError):
    """The database cannot be reached or is busy: the client should retry later."""


def normalize_url(url: str | Path) -> str:
    """A SQLAlchemy URL from what a person typed: a file path means SQLite; postgresql:// means psycopg 3."""
    text = str(url).strip()
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


def token_hash(token: str) -> str:
    """Tokens are 256-bit random strings, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def _make_engine(url: str, busy_ms: int) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return sqlite_engine(path, busy_ms, pool_size=8, max_overflow=16)
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


@dataclass
class _Order:
    """What a push needs to know about one order: its state in server order and who may see it."""

    state: Any = None  # an OrderState; for a warning or a case its models.governance state
    scope: set[str] = field(default_factory=set)
    dispatch_refused: bool = False
    fold: Fold | None = None  # the order's state folded in place through this batch (no copy per event)
    holders_of: tuple[Any, ...] | None = None  # what scope_holders read when last asked: unchanged, same holders


@dataclass
class DeskInfo:
    name: str
    role: str
    dept: str | None
    town: str | None
    prefix: str | None
    created_at: str
    revoked_at: str | None
    events: int = 0

    @property
    def where(self) -> str:
        return self.dept if self.dept and not self.town else "-".join(p for p in (self.dept, self.town) if p)


class ServerStore:
    """The server's database. Thread-safe; keeps nothing between calls but the engine."""

    def __init__(
        self,
        url: str | Path,
        *,
        ref: Reference | None = None,
        clock: Clock = system_clock,
        busy_ms: int = 30_000,
        create: bool = True,
        hooks: Any = None,
    ) -> None:
        self.url = normalize_url(url)
        self.ref = ref or default_reference()
        self.clock = clock
        self.hooks = hooks  # server.webhooks.WebhookConfig or None
        self.engine = _make_engine(self.url, busy_ms)
        self.dialect = self.engine.dialect.name
        self._lock = threading.Lock()
        self._signer: Signer | None = None
        self._answers: tuple[int, str, str] | None = None  # (mtime, text, sha) of answers.toml
        if create:
            self.init()

    def close(self) -> None:
        self.engine.dispose()

    # ---- transactions --------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    conn.execution_options(fq_write=True)
                with conn.begin():
                    yield conn
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise ServerUnavailable(t("server.db_error", error=str(exc.orig).strip().splitlines()[0])) from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                with conn.begin():
                    yield conn
        except DBAPIError as exc:
            raise ServerUnavailable(t("server.db_error", error=str(exc.orig).strip().splitlines()[0])) from None

    def init(self) -> None:
        """Create the schema, the counter row and the epoch (idempotent)."""
        with self._lock, self.write() as conn:
            create_schema(conn)
            if conn.execute(select(SrvCounter.value).where(SrvCounter.name == COUNTER)).first() is None:
                conn.execute(SrvCounter.__table__.insert().values(name=COUNTER, value=0))
            if self._meta(conn, "epoch") is None:
                conn.execute(SrvMeta.__table__.insert().values(key="epoch", value=uuid.uuid4().hex))
                conn.execute(SrvMeta.__table__.insert().values(key="schema", value="1"))
            if self._meta(conn, "sign_key") is None:  # the Ed25519 key events are signed with (store/signing.py)
                conn.execute(SrvMeta.__table__.insert().values(key="sign_key", value=new_private_key()))
            if self._meta(conn, "scope_town") is None:  # town-qualified scope holders (server/scope.py)
                backfill_town_scope(conn)
                conn.execute(SrvMeta.__table__.insert().values(key="scope_town", value="1"))

    # ---- meta ----------------------------------------------------------------------------------
    @staticmethod
    def _meta(conn: Connection, key: str) -> str | None:
        row = conn.execute(select(SrvMeta.value).where(SrvMeta.key == key)).first()
        return None if row is None else row[0]

    def epoch(self) -> str:
        with self.read() as conn:
            return self._meta(conn, "epoch") or ""

    def signer(self) -> Signer:
        """The server's signing key, read once from ``srv_meta`` (shared by every process on one database)."""
        if self._signer is None:
            with self.read() as conn:
                key = self._meta(conn, "sign_key")
            if key is None:
                raise ServerError(t("server.no_sign_key"))
            self._signer = Signer(key)
        return self._signer

    def public_key(self) -> str:
        return self.signer().public

    def _sigs(self, conn: Connection, seqs: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for i in range(0, len(seqs), CHUNK):
            chunk = list(seqs[i : i + CHUNK])
            out.update(
                (int(r[0]), r[1])
                for r in conn.execute(select(SrvSig.seq, SrvSig.sig).where(self._among(SrvSig.seq, chunk)))
            )
        return out

    def head(self) -> int:
        with self.read() as conn:
            return self._head(conn)

    @staticmethod
    def _head(conn: Connection) -> int:
        return int(conn.execute(select(SrvCounter.value).where(SrvCounter.name == COUNTER)).scalar_one())

    def new_epoch(self) -> str:
        """Give the server a new epoch: run it after restoring the database from a backup."""
        value = uuid.uuid4().hex
        with self.write() as conn:
            conn.execute(update(SrvMeta.__table__).where(SrvMeta.key == "epoch").values(value=value))
        return value

    # ---- desks ---------------------------------------------------------------------------------
    def add_desk(
        self, name: str, role: str, *, dept: str | None = None, town: str | None = None, prefix: str | None = None
    ) -> str:
        """Register a desk; return its token (shown once, stored only as a hash)."""
        name = name.strip()
        if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
            raise ValidationError(t("server.bad_desk_name", name=name), field="name")
        desk = make_desk(self.ref, name, role, dept=dept, town=town)
        if desk.role is None:
            raise ValidationError(
                t("error.unknown_role", role=role, roles=", ".join(r.value for r in Role)), field="role"
            )
        may_dispatch = desk.role in (Role.CALL_TAKER, Role.TOWNSHIP)
        chosen = (prefix or (desk.prefix if may_dispatch else "")).strip().upper() or None
        if chosen is not None and not PREFIX_RE.match(chosen):
            raise ValidationError(t("server.bad_prefix", prefix=prefix), field="prefix")
        token = "fq1_" + secrets.token_urlsafe(32)
        with self.write() as conn:
            if conn.execute(select(SrvDesk.name).where(SrvDesk.name == name)).first() is not None:
                raise ValidationError(t("server.desk_exists", name=name), field="name")
            if chosen is not None:
                other = conn.execute(
                    select(SrvDesk.name).where(SrvDesk.prefix == chosen, SrvDesk.revoked_at.is_(None))
                ).first()
                if other is not None:
                    raise ValidationError(t("server.prefix_taken", prefix=chosen, desk=other[0]), field="prefix")
            conn.execute(
                SrvDesk.__table__.insert().values(
                    name=name,
                    role=str(desk.role),
                    dept=desk.dept,
                    town=desk.town,
                    prefix=chosen,
                    token_hash=token_hash(token),
                    created_at=to_db(self.clock()),
                    revoked_at=None,
                )
            )
        return token

    def list_desks(self) -> list[DeskInfo]:
        with self.read() as conn:
            heads: dict[str, int] = dict(conn.execute(select(SrvDeskHead.desk, SrvDeskHead.seq)).all())
            rows = conn.execute(select(SrvDesk).order_by(SrvDesk.name)).all()
        return [
            DeskInfo(r.name, r.role, r.dept, r.town, r.prefix, r.created_at, r.revoked_at, int(heads.get(r.name, 0)))
            for r in rows
        ]

    def revoke_desk(self, name: str) -> None:
        with self.write() as conn:
            done = conn.execute(
                update(SrvDesk.__table__)
                .where(SrvDesk.name == name, SrvDesk.revoked_at.is_(None))
                .values(revoked_at=to_db(self.clock()))
            ).rowcount
        if not done:
            raise ServerError(t("server.no_desk", name=name))

    def authenticate(self, token: str) -> SrvDesk | None:
        """The active desk holding ``token``, or None."""
        if not token or len(token) > 200:
            return None
        with self.read() as conn:
            row = conn.execute(
                select(SrvDesk).where(SrvDesk.token_hash == token_hash(token), SrvDesk.revoked_at.is_(None))
            ).first()
        return None if row is None else SrvDesk(**row._mapping)

    def desk_of(self, row: SrvDesk) -> Desk:
        """The console's view of a registered desk (role rules in models/roles.py)."""
        return Desk(name=row.name, role=Role(row.role), dept=row.dept, town=row.town, prefix=row.prefix or "")

    # ---- hello ---------------------------------------------------------------------------------
    def hello(self, row: SrvDesk) -> Hello:
        with self.read() as conn:
            head = self._head(conn)
            dh = conn.execute(select(SrvDeskHead.seq).where(SrvDeskHead.desk == row.name)).first()
            epoch = self._meta(conn, "epoch") or ""
        return Hello(
            epoch=epoch,
            head=head,
            desk=row.name,
            role=row.role,
            dept=row.dept,
            town=row.town,
            prefix=row.prefix,
            expected=(int(dh[0]) if dh else 0) + 1,
            server_time=to_db(self.clock()),
            server_key=self.public_key(),
            answers=self._answers_sha(),
        )

    def _answers_sha(self) -> str | None:
        try:
            got = self.answers_file()
        except FengqiaoError as exc:  # announced as none: desks keep their copy; the operator sees why in the log
            log.warning("answers.toml not served: %s", exc)
            return None
        return got[1] if got else None

    def answers_file(self) -> tuple[str, str] | None:
        """(text, SHA-256) of the knowledge base beside the server's reference data (``answers.toml``), checked
        against that reference data; None when there is none. Read again when the file changes."""
        from importlib import resources

        from fengqiao.models.answers import FILE, answers_from_text, digest

        base = self.ref.directory or Path(str(resources.files("fengqiao.fixtures")))
        path = Path(base) / FILE
        if not path.exists():
            return None
        stamp = path.stat().st_mtime_ns
        if self._answers is None or self._answers[0] != stamp:
            text = path.read_text(encoding="utf-8")
            answers_from_text(text, self.ref, str(path))  # a fault is the operator's to fix: raised, one line
            self._answers = (stamp, text, digest(text))
        return self._answers[1], self._answers[2]

    # ---- push ----------------------------------------------------------------------------------
    def _lock_counter(self, conn: Connection) -> int:
        stmt = select(SrvCounter.value).where(SrvCounter.name == COUNTER)
        if self.dialect != "sqlite":
            stmt = stmt.with_for_update()
        return int(conn.execute(stmt).scalar_one())

    def _among(self, column: Any, values: Sequence[Any]) -> Any:
        """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter (planned once, not per list)."""
        if self.dialect == "sqlite":
            return column.in_(values)
        kind = BigInteger() if values and isinstance(values[0], int) else Text()
        return column == any_(bindparam("among", list(values), type_=ARRAY(kind), unique=True))

    def _rows_among(self, conn: Connection, sql: str, column: str, values: Sequence[Any]) -> Iterator[Any]:
        """The rows of ``sql`` (its ``{among}`` is ``column`` among ``values``), in chunks, as driver SQL: one
        ``= ANY(array)`` parameter on PostgreSQL, ``IN (?, …)`` on SQLite (no statement compiled per list)."""
        for chunk in _chunks(values):
            if self.dialect == "sqlite":
                text = sql.format(among=f"{column} IN ({', '.join('?' * len(chunk))})")
                yield from conn.exec_driver_sql(text, tuple(chunk))
            else:
                yield from conn.exec_driver_sql(sql.format(among=f"{column} = ANY(%s)"), (chunk,))

    def _known(self, conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str, Any, str, str | None, str | None]]:
        """id -> ("event", seq, hash, state, None) or ("refused", desk_seq, hash, reason, message)."""
        found: dict[str, tuple[str, Any, str, str | None, str | None]] = {}
        for r in self._rows_among(conn, "SELECT id, seq, hash, state FROM srv_events WHERE {among}", "id", ids):
            found[r[0]] = ("event", int(r[1]), r[2], r[3], None)
        refused = "SELECT id, desk_seq, hash, reason, message FROM srv_refused WHERE {among}"
        for r in self._rows_among(conn, refused, "id", ids):
            found[r[0]] = ("refused", int(r[1]), r[2], r[3], r[4])
        return found

    def _load_orders(self, conn: Connection, order_ids: Iterable[str]) -> dict[str, _Order]:
        wanted = sorted(set(order_ids))
        out = {oid: _Order() for oid in wanted}
        events: dict[str, list[Event]] = {oid: [] for oid in wanted}
        stored = f"SELECT {', '.join(STORED_COLUMNS)} FROM srv_events WHERE {{among}} ORDER BY seq"
        for r in self._rows_among(conn, stored, "order_id", wanted):
            events[r.order_id].append(_event(r))
        for r in self._rows_among(conn, "SELECT order_id, assignee FROM srv_scope WHERE {among}", "order_id", wanted):
            out[r[0]].scope.add(r[1])
        refused = f"SELECT order_id FROM srv_refused WHERE {{among}} AND kind = '{Action.DISPATCH}'"  # our constant
        for r in self._rows_among(conn, refused, "order_id", wanted):
            out[r[0]].dispatch_refused = True
        for oid, evs in events.items():
            if evs:
                out[oid].state = (gov.replay if gov.is_subject(oid) else replay)(evs).state
        return out

    def _judge(self, desk: Desk, ev: Event, info: _Order, taken: dict[str, str]) -> tuple[str, str] | None:
        """Why the server will not share ``ev`` from ``desk`` (reason code, message), or None."""
        ref = self.ref
        kind = ev.kind
        if kind in gov.KINDS or gov.is_subject(ev.order_id):
            return self._judge_subject(desk, ev, info)
        if kind == Action.DISPATCH:
            try:
                town = str(ev.payload["town"])
                order_no = str(ev.payload["order_no"])
            except (KeyError, TypeError):
                return "malformed", t("server.malformed", kind=kind)
            try:
                roles.check_dispatch(desk, town, ref)
            except PermissionDenied as exc:
                return "role", str(exc)
            if not desk.prefix or not order_no.startswith(desk.prefix + "-"):
                return "prefix", t("server.wrong_prefix", order_no=order_no, prefix=desk.prefix or "-")
            owner = taken.get(order_no)
            if owner is not None and owner != ev.order_id:
                return "order_no_taken", t("server.order_no_taken", order_no=order_no)
            return None
        state = info.state
        if state is None:
            if info.dispatch_refused:
                return "order_refused", t("server.order_refused", kind=kind)
            if desk.sees_all():
                return None  # stored as a conflict (an event before its order's dispatch), never lost
            return "unknown_order", t("server.unknown_order", kind=kind)
        if kind not in KNOWN_KINDS:
            return None if roles.can_see(desk, ref, state) else ("role", t("server.not_yours", order_no=state.order_no))
        target = state.find_assignment(ev.assignment_id)
        if roles.can_take(desk, ref, state, _ACTIONS[kind], target, once_held=True):
            return None  # its own order, or one taken from it by a change it had not yet seen
        return "role", t(
            "error.role_refused",
            desk=desk.name,
            role=t(f"role.{desk.role}"),
            action=t(f"action.{kind}"),
            order_no=state.order_no,
        )

    def _judge_subject(self, desk: Desk, ev: Event, info: _Order) -> tuple[str, str] | None:
        """:meth:`_judge` for a warning's or a case's event (models/governance.py)."""
        kind = ev.kind
        if gov.is_subject(ev.order_id) != gov.is_kind(kind):
            return "malformed", t("server.malformed", kind=kind[:40])
        state = info.state
        if kind == gov.GKind.ANSWER_CALL:
            if state is not None:
                return None
            call = ev.payload.get("call")
            town = call.get("town") if isinstance(call, dict) else None
            takes_calls = desk.role in (None, Role.CALL_TAKER, Role.SUPERVISOR) or (
                desk.role == Role.TOWNSHIP and desk.town == town
            )
            return None if takes_calls else ("role", t("server.not_yours", order_no=ev.order_id[:40]))
        if kind == gov.GKind.NOTICE_POST:
            if state is not None:
                return None
            owner = ev.payload.get("owner")
            poster = desk.role in (None, Role.SUPERVISOR) or (
                desk.role == Role.DEPARTMENT and owner in desk.assignee_codes(self.ref)
            )
            return None if poster else ("role", t("server.not_yours", order_no=str(ev.payload.get("no", "-"))[:40]))
        if kind in (gov.GKind.WARN_RAISE, gov.GKind.CASE_OPEN):
            if state is not None:
                return None  # a second copy: the machine marks it redundant
            town = ev.payload.get("town")
            if not isinstance(town, str) or town not in self.ref.towns:
                return "malformed", t("server.malformed", kind=kind)
            own_town = desk.role == Role.TOWNSHIP and desk.town == town
            if kind == gov.GKind.WARN_RAISE:
                ok = desk.sees_all() or own_town
            else:
                owner = ev.payload.get("owner")
                ok = desk.role in (None, Role.SUPERVISOR) or own_town or owner in desk.assignee_codes(self.ref)
            if ok:
                return None
            return "role", t("server.not_yours", order_no=str(ev.payload.get("no", "-"))[:40])
        if state is None:
            if desk.sees_all():
                return None  # stored as a conflict (a step before its subject), never lost
            return "unknown_order", t("server.unknown_order", kind=kind)
        if gov.may_act(desk, self.ref, state, kind):
            return None
        return "role", t("server.not_yours", order_no=state.no)

    def push(self, row: SrvDesk, request: PushRequest) -> PushResponse:
        """Take a batch of one desk's events (see the module docstring); one transaction."""
        with self.write() as conn:
            return self._push_tx(conn, self.desk_of(row), request)

    def _insert_many(self, conn: Connection, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """One executemany of plain tuples through the driver (no SQLAlchemy statement per row); on PostgreSQL
        a ``COPY`` (in the same transaction, with the same constraints), several times faster."""
        if not rows:
            return
        if self.dialect == "postgresql" and len(rows) > 1:
            import psycopg

            sql = f"COPY {table} ({', '.join(cols)}) FROM STDIN"
            try:
                with conn.connection.driver_connection.cursor() as cur:
                    with cur.copy(sql) as copy:
                        for row in rows:
                            copy.write_row(row)
            except psycopg.IntegrityError as exc:  # as SQLAlchemy would have raised them: the callers know those
                raise IntegrityError(sql, None, exc) from None
            except psycopg.Error as exc:
                raise OperationalError(sql, None, exc) from None
            return
        mark = "?" if self.dialect == "sqlite" else "%s"
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
        conn.exec_driver_sql(sql, rows)

    def _push_tx(self, conn: Connection, desk: Desk, request: PushRequest) -> PushResponse:
        clock_now = self.clock()
        now = to_db(clock_now)
        incoming = sorted(request.events, key=lambda e: e.desk_seq)
        head = self._lock_counter(conn)
        before = head
        epoch = self._meta(conn, "epoch") or ""
        dh = conn.execute(select(SrvDeskHead.seq, SrvDeskHead.hash).where(SrvDeskHead.desk == desk.name)).first()
        had_head = dh is not None
        d_seq, d_hash = (int(dh[0]), dh[1]) if dh else (0, GENESIS)
        known = self._known(conn, [e.id for e in incoming])
        fresh = [e for e in incoming if e.desk == desk.name and e.id not in known]
        orders = self._load_orders(conn, (e.order_id for e in fresh))
        parsed: dict[str, Event | None] = {}  # each payload and time read once
        for e in fresh:
            try:
                parsed[e.id] = _event(e)
            except (KeyError, TypeError, ValueError, AttributeError):
                parsed[e.id] = None
        nos = {
            str(ev.payload.get("order_no")) for ev in parsed.values() if ev is not None and ev.kind == Action.DISPATCH
        }
        taken: dict[str, str] = {}
        numbers = "SELECT order_no, order_id FROM srv_order_nos WHERE {among}"
        taken.update((r[0], r[1]) for r in self._rows_among(conn, numbers, "order_no", sorted(nos)))
        # In desk order: an EventResult where something is to say, else (status, desk_seq, seq, id, hash, state)
        answers: list[EventResult | tuple[str, int, int, str, str, str | None]] = []
        new_events: list[tuple[Any, ...]] = []
        new_refused: list[tuple[Any, ...]] = []
        new_scope: list[tuple[str, str, int]] = []
        new_nos: list[tuple[str, str]] = []
        new_hooks: list[dict[str, Any]] = []
        blocked = False
        for w in incoming:
            if w.desk != desk.name:
                answers.append(
                    EventResult(
                        id=w.id,
                        status="rejected",
                        reason="forged_desk",
                        message=t("server.forged_desk", desk=w.desk, token_desk=desk.name),
                    )
                )
                continue
            k = known.get(w.id)
            if k is not None:
                if k[2] != w.hash or w.computed_hash() != w.hash:
                    answers.append(
                        EventResult(id=w.id, status="rejected", reason="altered", message=t("server.altered", id=w.id))
                    )
                elif k[0] == "event":
                    answers.append(("duplicate", w.desk_seq, k[1], w.id, w.hash, k[3]))
                else:
                    answers.append(EventResult(id=w.id, status="refused", reason=k[3], message=k[4]))
                continue
            if blocked or w.desk_seq > d_seq + 1:
                blocked = True
                answers.append(EventResult(id=w.id, status="gap"))
                continue
            if w.desk_seq <= d_seq:
                answers.append(
                    EventResult(
                        id=w.id,
                        status="rejected",
                        reason="diverged",
                        message=t("server.diverged", desk=desk.name, seq=w.desk_seq),
                    )
                )
                continue
            bad_hash = w.computed_hash() != w.hash
            if bad_hash or w.prev_hash != d_hash:
                reason = "bad_hash" if bad_hash else "broken_chain"
                blocked = True
                answers.append(
                    EventResult(
                        id=w.id, status="rejected", reason=reason, message=t(f"server.{reason}", seq=w.desk_seq)
                    )
                )
                continue
            info = orders.get(w.order_id)
            if info is None:  # (not setdefault: that would make an _Order for every event)
                info = orders[w.order_id] = _Order()
            verdict: tuple[str, str] | None
            try:
                ev = parsed[w.id]
                if ev is None:
                    raise ValueError(w.id)
                verdict = self._judge(desk, ev, info, taken)  # who may: then what it says
                problem = None if verdict else validate_event(ev, ref=self.ref, now=clock_now, state=info.state)
                if problem is not None:
                    verdict = ("invalid", t("validate.refused", id=w.id, kind=w.kind[:40], reason=problem.message))
                if verdict is None:
                    if self.hooks is not None:  # the hooks compare the state before and after: a copy each
                        new_state, status, _why = (gov.step if gov.is_subject(w.order_id) else step)(info.state, ev)
                    else:
                        if info.fold is None:
                            info.fold = Fold(info.state, gov.apply if gov.is_subject(w.order_id) else apply)
                        new_state, status, _why = info.fold.step(ev)
                        info.state = info.fold.state  # after a refused event: the rebuilt state
            except (KeyError, TypeError, ValueError, AttributeError):
                verdict = ("malformed", t("server.malformed", kind=w.kind))
            if verdict is not None:
                new_refused.append(
                    (w.id, w.desk, w.desk_seq, w.order_id, w.kind, w.hash, *verdict, w.model_dump_json(), now)
                )
                if w.kind == Action.DISPATCH:
                    info.dispatch_refused = True
                known[w.id] = ("refused", w.desk_seq, w.hash, verdict[0], verdict[1])
                answers.append(EventResult(id=w.id, status="refused", reason=verdict[0], message=verdict[1]))
            else:
                head += 1
                new_events.append((*w.row(), head, status, now))
                if status == "applied" and isinstance(new_state, _SUBJECT_STATES):
                    for holder in [*subject_holders(new_state, self.ref), author_scope(desk.name)]:
                        if holder not in info.scope:
                            info.scope.add(holder)
                            new_scope.append((w.order_id, holder, head))
                    if self.hooks is not None and isinstance(new_state, gov.NoticeState):
                        new_hooks.extend(self.hooks.for_notice(self.ref, new_state, ev, now))
                    info.state = new_state
                elif status == "applied" and new_state is not None:
                    # The holders come from the assignments (a list that only grows, assignees never change),
                    # the informed units and the town: when those are as they were, so are the holders.
                    read = (len(new_state.assignments), new_state.informed, new_state.town)
                    if ev.kind == Action.DISPATCH or read != info.holders_of:
                        info.holders_of = read
                        holders = scope_holders(new_state)
                        if ev.kind == Action.DISPATCH:
                            holders.append(author_scope(desk.name))  # the desk that sent it follows it too
                        for holder in holders:
                            if holder not in info.scope:
                                info.scope.add(holder)
                                new_scope.append((w.order_id, holder, head))
                    if ev.kind == Action.DISPATCH:
                        taken[new_state.order_no] = new_state.id
                        new_nos.append((new_state.order_no, new_state.id))
                    if self.hooks is not None:
                        new_hooks.extend(self.hooks.for_event(self.ref, info.state, new_state, ev, now))
                    info.state = new_state
                known[w.id] = ("event", head, w.hash, status, None)
                answers.append(("stored", w.desk_seq, head, w.id, w.hash, status))
            d_seq, d_hash = w.desk_seq, w.hash
        tip = next((a for a in reversed(answers) if isinstance(a, tuple)), None)
        tip_sig = None if tip is None else self.signer().sign(desk.name, tip[1], tip[3], tip[4])
        self._insert_many(conn, SrvEvent.__tablename__, EVENT_COLUMNS, new_events)
        if tip is not None and tip_sig is not None and tip[0] == "stored":
            self._insert_many(conn, SrvSig.__tablename__, ("seq", "sig"), [(tip[2], tip_sig)])
        self._insert_many(conn, SrvRefused.__tablename__, REFUSED_COLUMNS, new_refused)
        self._insert_many(conn, SrvScope.__tablename__, ("order_id", "assignee", "granted_seq"), new_scope)
        self._insert_many(conn, SrvOrderNo.__tablename__, ("order_no", "order_id"), new_nos)
        if new_hooks:  # few, and with the table's defaults
            conn.execute(SrvWebhook.__table__.insert(), new_hooks)
        self._move_heads(conn, desk, before, head, had_head, (d_seq, d_hash) if new_events or new_refused else None)
        results, runs = _answer(answers, tip, tip_sig, runs=request.protocol >= 2)
        return PushResponse(epoch=epoch, head=head, expected=d_seq + 1, results=results, runs=runs)

    @staticmethod
    def _move_heads(
        conn: Connection, desk: Desk, before: int, head: int, had_head: bool, desk_head: tuple[int, str] | None
    ) -> None:
        """A push's last writes: the counter to ``head`` (if it moved), the desk's chain head to ``desk_head``."""
        if head != before:
            conn.execute(update(SrvCounter.__table__).where(SrvCounter.name == COUNTER).values(value=head))
        if desk_head is not None:
            d_seq, d_hash = desk_head
            if had_head:
                conn.execute(
                    update(SrvDeskHead.__table__).where(SrvDeskHead.desk == desk.name).values(seq=d_seq, hash=d_hash)
                )
            else:
                conn.execute(SrvDeskHead.__table__.insert().values(desk=desk.name, seq=d_seq, hash=d_hash))

    # ---- pull ----------------------------------------------------------------------------------
    def pull(self, row: SrvDesk, cursor: int, limit: int) -> PullResponse:
        """Events after ``cursor`` that this desk may see, in global order (see the module docstring)."""
        return PullResponse.model_validate(self._pull(row, cursor, limit))

    def pull_json(self, row: SrvDesk, cursor: int, limit: int) -> bytes:
        """:meth:`pull` as the JSON the desk receives, written straight from the rows (stored as validated)."""
        return pydantic_core.to_json(self._pull(row, cursor, limit))

    def _pull(self, row: SrvDesk, cursor: int, limit: int) -> dict[str, Any]:
        desk = self.desk_of(row)
        cols = [SrvEvent.seq, *(getattr(SrvEvent, c) for c in STORED_COLUMNS)]
        with self.read() as conn:
            epoch = self._meta(conn, "epoch") or ""
            head = self._head(conn)  # committed: every seq up to here is visible to the next statements
            if cursor >= head:
                return {"epoch": epoch, "head": head, "cursor": cursor, "more": False, "events": []}
            codes = None if desk.sees_all() else sorted(desk_scope_codes(desk, self.ref) | {author_scope(desk.name)})
            after = [SrvEvent.seq > cursor, SrvEvent.seq <= head]
            if codes is not None:
                after.append(SrvEvent.order_id.in_(select(SrvScope.order_id).where(SrvScope.assignee.in_(codes))))
            rows = conn.execute(select(*cols).where(*after).order_by(SrvEvent.seq).limit(limit)).all()
            upto = int(rows[-1].seq) if len(rows) == limit else head
            events = rows
            if codes is not None:  # orders that became this desk's: their earlier history too
                newly = select(SrvScope.order_id).where(
                    SrvScope.assignee.in_(codes), SrvScope.granted_seq > cursor, SrvScope.granted_seq <= upto
                )
                backfill = conn.execute(
                    select(*cols).where(SrvEvent.seq <= cursor, SrvEvent.order_id.in_(newly)).order_by(SrvEvent.seq)
                ).all()
                seen: set[str] = set()
                events = []
                for r in [*backfill, *rows]:
                    if r.id not in seen:
                        seen.add(r.id)
                        events.append(r)
            # Signed: each event that ends a run of its desk's chain in this answer. Whatever the desk held before,
            # the newest event of every run it then holds came with a signature (`check` verifies those).
            held = {(r.desk, int(r.desk_seq)) for r in events}
            ends = [r for r in events if (r.desk, int(r.desk_seq) + 1) not in held]
            sigs = self._sigs(conn, [int(r.seq) for r in ends])
        signer = self.signer()
        signed = [(int(r.seq), signer.sign(r.desk, r.desk_seq, r.id, r.hash)) for r in ends if int(r.seq) not in sigs]
        if signed:
            sigs.update(signed)
            self._keep_sigs(signed)
        names = ("seq", *STORED_COLUMNS)
        out = [{**dict(zip(names, r, strict=True)), "sig": sigs.get(int(r.seq))} for r in events]
        return {"epoch": epoch, "head": head, "cursor": upto, "more": upto < head, "events": out}

    def _keep_sigs(self, signed: list[tuple[int, str]]) -> None:
        """Keep signatures made for a pull (``srv_sigs``), so the next desk to receive those events gets them
        without signing again. Only a cache of what the key computes: a busy database skips it."""
        sql = "INSERT INTO srv_sigs (seq, sig) VALUES ({0}, {0}) ON CONFLICT (seq) DO NOTHING".format(
            "?" if self.dialect == "sqlite" else "%s"
        )
        try:
            with self.write() as conn:
                conn.exec_driver_sql(sql, signed)
        except (ServerUnavailable, IntegrityError) as exc:
            log.info("signatures not kept: %s", exc)

    def may_see_photo(self, row: SrvDesk, sha256: str) -> bool:
        """Whether a feedback event of an order this desk receives names the photo ``sha256``."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            return False
        desk = self.desk_of(row)
        with self.read() as conn:
            orders = [
                r[0]
                for r in conn.execute(
                    select(SrvEvent.order_id).where(
                        SrvEvent.kind == str(Action.FEEDBACK), SrvEvent.payload.contains(sha256)
                    )
                )
            ]
            if not orders:
                return False
            if desk.sees_all():
                return True
            codes = sorted(desk_scope_codes(desk, self.ref) | {author_scope(desk.name)})
            hit = conn.execute(
                select(SrvScope.order_id).where(SrvScope.order_id.in_(orders), SrvScope.assignee.in_(codes)).limit(1)
            ).first()
        return hit is not None

    def events_of(self, order_id: str) -> list[Event]:
        """One order's stored events in server order (the phone page's timeline)."""
        cols = [getattr(SrvEvent, c) for c in STORED_COLUMNS]
        with self.read() as conn:
            rows = conn.execute(select(*cols).where(SrvEvent.order_id == order_id).order_by(SrvEvent.seq)).all()
        return [_event(r) for r in rows]

    # ---- inspection (tests, tools) -------------------------------------------------------------
    def events(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(SrvEvent).order_by(SrvEvent.seq))]

    def refused(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(SrvRefused).order_by(SrvRefused.received_at))]


def author_scope(desk: str) -> str:
    """The ``srv_scope`` holder that lets a desk follow the orders it dispatched (a township centre sending an
    order to a county bureau sees how it goes on)."""
    return f"@{desk}"


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    items = list(items)
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _answer(
    answers: list[EventResult | tuple[str, int, int, str, str, str | None]],
    tip: tuple[str, int, int, str, str, str | None] | None,
    tip_sig: str | None,
    *,
    runs: bool,
) -> tuple[list[EventResult], list[Run]]:
    """A push's answer from its outcomes in desk order: with ``runs`` (protocol 2) the events taken as ranges of
    consecutive desk and server numbers and only the rest as results; else one result per event (protocol 1).
    The signature is over ``tip``, the newest event taken."""
    results: list[EventResult] = []
    out: list[list[Any]] = []  # [status, first, last, seq, sig]: models made once, at the end
    last: list[Any] | None = None
    for a in answers:
        if isinstance(a, EventResult):
            results.append(a)
            continue
        status, desk_seq, seq, event_id, _hash, state = a
        sig = tip_sig if a is tip else None
        if not runs:
            results.append(EventResult(id=event_id, status=status, seq=seq, state=state, sig=sig))
            continue
        if last is not None and last[0] == status and last[2] + 1 == desk_seq and last[3] + (desk_seq - last[1]) == seq:
            last[2] = desk_seq
            last[4] = sig
        else:
            last = [status, desk_seq, desk_seq, seq, sig]
            out.append(last)
    return results, [Run(status=st, first=first, last=end, seq=seq, sig=sig) for st, first, end, seq, sig in out]


def _event(r: Any) -> Event:
    """A domain event from a stored or wire row (raises ValueError/TypeError on malformed content)."""
    ev = row_to_event(r)
    if not isinstance(ev.payload, dict):
        raise TypeError("payload is not an object")
    return ev
