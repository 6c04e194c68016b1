"""SQLModel tables: Call, Order, Assignment, OrderEvent (plus bookkeeping tables).

The schema itself is created by the versioned SQL migrations in ``store/migrations/``; these classes map
onto it for typed reads (a test checks that every column here exists in the migrated database). Times use
:class:`UTCDateTime`: aware UTC datetimes in Python, fixed-width ISO-8601 UTC text in the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.types import String, TypeDecorator
from sqlmodel import Field, SQLModel

from .clock import from_db, to_db


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetime stored as ``2026-11-28T01:30:00.000000Z``; naive datetimes are refused."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        return None if value is None else to_db(value)

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        return None if value is None else from_db(value)


def _dt(nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, **kw)


class Meta(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


class Call(SQLModel, table=True):
    """A call to the desk: who called, from which town and address, and what they said."""

    __tablename__ = "calls"
    id: str = Field(primary_key=True)
    phone: str
    name: str = ""
    town: str
    address: str = ""
    description: str
    received_at: datetime = _dt(nullable=False)
    desk: str
    order_id: str | None = None
    linked: bool = False  # linked to an existing open order instead of opening one
    repeat_of: str | None = None  # earlier order from the same phone within 72 hours


class Order(SQLModel, table=True):
    """A dispatch order (派单): the projection of its events."""

    __tablename__ = "orders"
    id: str = Field(primary_key=True)
    order_no: str = Field(unique=True)
    call_id: str = Field(foreign_key="calls.id")
    tag: str
    category: str
    town: str
    mode: str  # single | dual
    onsite: bool
    status: str
    desk: str
    phone: str
    call_at: datetime = _dt(nullable=False)
    created_at: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)
    primary_assignee: str
    police_assignee: str | None = None
    one_team: bool = False
    override_dept: str | None = None
    override_reason: str | None = None
    repeat_of: str | None = None
    next_due: datetime | None = _dt()
    next_due_kind: str | None = None
    next_due_start: datetime | None = _dt()
    first_overdue_at: datetime | None = _dt()
    result: str | None = None
    fed_back_at: datetime | None = _dt()
    satisfaction: str | None = None
    visited_at: datetime | None = _dt()
    closed_at: datetime | None = _dt()
    cancelled_at: datetime | None = _dt()
    cancel_reason: str | None = None
    reopen_count: int = 0
    escalations: int = 0
    linked_calls: int = 0


class Assignment(SQLModel, table=True):
    """One assignee's part of an order, with its own deadlines and times."""

    __tablename__ = "assignments"
    id: str = Field(primary_key=True)
    order_id: str = Field(foreign_key="orders.id")
    seq: int
    role: str  # primary | police
    assignee: str  # SCJG | ZZ-HZ | GA-HZ
    dept: str
    town: str | None = None
    onsite: bool
    status: str
    active: bool
    dispatched_at: datetime = _dt(nullable=False)
    sign_due: datetime = _dt(nullable=False)
    arrive_due: datetime | None = _dt()
    feedback_due: datetime = _dt(nullable=False)
    feedback_due_original: datetime = _dt(nullable=False)
    signed_at: datetime | None = _dt()
    arrived_at: datetime | None = _dt()
    fed_back_at: datetime | None = _dt()
    returned_at: datetime | None = _dt()
    result: str | None = None
    feedback_text: str | None = None
    return_reason: str | None = None
    return_justified: bool | None = None
    ext_status: str | None = None
    ext_hours: int | None = None
    ext_reason: str | None = None
    first_overdue_at: datetime | None = _dt()


class OrderEvent(SQLModel, table=True):
    """One fact in an order's history. Append-only: triggers refuse UPDATE and DELETE."""

    __tablename__ = "events"
    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(unique=True)  # UUIDv7
    order_id: str
    assignment_id: str | None = None
    kind: str
    actor: str
    desk: str
    desk_seq: int
    event_at: datetime = _dt(nullable=False)
    recorded_at: datetime = _dt(nullable=False)
    payload: str  # JSON
    prev_hash: str
    hash: str


class DeskHead(SQLModel, table=True):
    __tablename__ = "desk_heads"
    desk: str = Field(primary_key=True)
    seq: int
    hash: str


class OrderCounter(SQLModel, table=True):
    __tablename__ = "order_counters"
    prefix: str = Field(primary_key=True)
    day: str = Field(primary_key=True)
    last: int
