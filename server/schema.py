"""The sync server's tables (SQLModel, on SQLite or PostgreSQL), kept apart from the desk's own schema.

``srv_events`` is the shared, append-only log: ``seq`` is the gap-free global order, handed out from the
``srv_counter`` row that every push locks for its whole transaction, so the order of numbers is the order of
commits and a reader paging ``seq > cursor`` up to the counter's value can never skip a row.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.engine import Connection
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 1


class ServerModel(SQLModel, registry=registry()):
    """Base of the server's tables: their own metadata, never mixed with the desk's tables."""


class SrvMeta(ServerModel, table=True):
    __tablename__ = "srv_meta"
    key: str = Field(primary_key=True)
    value: str


class SrvCounter(ServerModel, table=True):
    """``events``: the last global sequence number handed out (locked by each push)."""

    __tablename__ = "srv_counter"
    name: str = Field(primary_key=True)
    value: int = Field(sa_type=BigInteger)


class SrvDesk(ServerModel, table=True):
    """A registered desk: its role and scope, its order-number prefix and its token's SHA-256."""

    __tablename__ = "srv_desks"
    name: str = Field(primary_key=True)
    role: str
    dept: str | None = None
    town: str | None = None
    prefix: str | None = None
    token_hash: str = Field(unique=True)
    created_at: str
    revoked_at: str | None = None


class SrvDeskHead(ServerModel, table=True):
    """The last desk_seq the server took from each desk (stored or refused) and its hash."""

    __tablename__ = "srv_desk_heads"
    desk: str = Field(primary_key=True)
    seq: int = Field(sa_type=BigInteger)
    hash: str


class SrvSig(ServerModel, table=True):
    """The server's Ed25519 signatures (store/signing.py) by global ``seq``: of each push's newest event, and of
    the events a pull signed where a run of a desk's chain ended (kept so they are signed once)."""

    __tablename__ = "srv_sigs"
    seq: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    sig: str


class SrvEvent(ServerModel, table=True):
    """The shared log. Columns as on the desk, plus the global ``seq`` and the outcome in server order."""

    __tablename__ = "srv_events"
    __table_args__ = (UniqueConstraint("desk", "desk_seq"), Index("ix_srv_events_order", "order_id", "seq"))
    seq: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    id: str = Field(unique=True)
    order_id: str
    assignment_id: str | None = None
    kind: str
    actor: str
    desk: str
    desk_seq: int = Field(sa_type=BigInteger)
    event_at: str
    recorded_at: str
    payload: str = Field(sa_type=Text)
    prev_hash: str
    hash: str
    state: str  # applied | redundant | conflict | unknown
    received_at: str


class SrvRefused(ServerModel, table=True):
    """Events the server would not share: kept with the reason, counted in the desk's sequence."""

    __tablename__ = "srv_refused"
    __table_args__ = (UniqueConstraint("desk", "desk_seq"), Index("ix_srv_refused_order", "order_id"))
    id: str = Field(primary_key=True)
    desk: str
    desk_seq: int = Field(sa_type=BigInteger)
    order_id: str
    kind: str
    hash: str
    reason: str
    message: str = Field(sa_type=Text)
    row: str = Field(sa_type=Text)  # the event as JSON, exactly as sent
    received_at: str


class SrvScope(ServerModel, table=True):
    """Who may see an order: each assignee it was ever assigned to, and from which global seq."""

    __tablename__ = "srv_scope"
    __table_args__ = (Index("ix_srv_scope_assignee", "assignee", "granted_seq"),)
    order_id: str = Field(primary_key=True)
    assignee: str = Field(primary_key=True)
    granted_seq: int = Field(sa_type=BigInteger)


class SrvOrderNo(ServerModel, table=True):
    """Order numbers in use: two orders may never share one."""

    __tablename__ = "srv_order_nos"
    order_no: str = Field(primary_key=True)
    order_id: str


class SrvWebhook(ServerModel, table=True):
    """Outbound notifications, written in the push transaction and delivered (with retries) afterwards."""

    __tablename__ = "srv_webhooks"
    __table_args__ = (Index("ix_srv_webhooks_due", "delivered_at", "next_try_at"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    order_id: str
    assignee: str
    url: str = Field(sa_type=Text)
    body: str = Field(sa_type=Text)
    attempts: int = 0
    next_try_at: str | None = None  # NULL once delivered or given up
    claimed_until: str | None = None
    delivered_at: str | None = None
    last_error: str | None = Field(default=None, sa_type=Text)


class SrvUser(ServerModel, table=True):
    """A person of a unit, for the phone page (server/people.py)."""

    __tablename__ = "srv_users"
    id: str = Field(primary_key=True)
    login: str = Field(unique=True)
    name: str
    unit: str = Field(index=True)
    lead: bool = False
    phone: str | None = None
    pw_hash: str | None = None
    code_hash: str | None = None
    code_expires: str | None = None
    failures: int = 0
    locked_until: str | None = None
    created_at: str
    revoked_at: str | None = None


class SrvSession(ServerModel, table=True):
    """A signed-in phone: the cookie's SHA-256, its CSRF token and expiry."""

    __tablename__ = "srv_sessions"
    id_hash: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    csrf: str
    created_at: str
    expires_at: str
    revoked_at: str | None = None


class SrvAccess(ServerModel, table=True):
    """The server's access log: sign-ins, failures, views of orders (no caller data)."""

    __tablename__ = "srv_access"
    id: int | None = Field(default=None, primary_key=True)
    at: str
    who: str
    action: str
    target: str
    client: str


class SrvBlob(ServerModel, table=True):
    """Photos, by the SHA-256 of their stored bytes (location metadata already removed)."""

    __tablename__ = "srv_blobs"
    sha256: str = Field(primary_key=True)
    mime: str
    size: int
    data: bytes = Field(sa_type=LargeBinary)
    unit: str
    created_at: str


class SrvFieldAction(ServerModel, table=True):
    """Idempotency of the phone's actions: the client's key → the event it stored."""

    __tablename__ = "srv_field_actions"
    key: str = Field(primary_key=True)
    user_id: str
    event_id: str
    created_at: str


APPEND_ONLY_SQLITE = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op} BEFORE {op.upper()} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    for table in ("srv_events", "srv_refused")
    for op in ("update", "delete")
]
APPEND_ONLY_POSTGRES = [
    "CREATE OR REPLACE FUNCTION srv_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the sync log is append-only: rows cannot be changed or deleted'; END $$",
    *[
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{table}_append_only' "
        f"AND tgrelid = '{table}'::regclass) THEN "
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION srv_append_only(); "
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION srv_append_only(); END IF; END $$"
        for table in ("srv_events", "srv_refused")
    ],
]


def create_schema(conn: Connection) -> None:
    """Create the tables and the append-only triggers (idempotent)."""
    ServerModel.metadata.create_all(conn, checkfirst=True)
    statements = APPEND_ONLY_SQLITE if conn.dialect.name == "sqlite" else APPEND_ONLY_POSTGRES
    for sql in statements:
        conn.exec_driver_sql(sql)
