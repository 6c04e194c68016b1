-- Schema version 1: the first schema. Never edit a released migration; add a new file instead.
-- Times are fixed-width ISO-8601 UTC text (2026-11-28T01:30:00.000000Z), so text order is time order.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Each incoming call. A call opens an order, or is linked to an open one (a repeat call).
CREATE TABLE calls (
    id          TEXT PRIMARY KEY,
    phone       TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    town        TEXT NOT NULL,
    address     TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL,
    received_at TEXT NOT NULL,
    desk        TEXT NOT NULL,
    order_id    TEXT,
    linked      INTEGER NOT NULL DEFAULT 0,
    repeat_of   TEXT
);
CREATE INDEX ix_calls_phone ON calls (phone, received_at);
CREATE INDEX ix_calls_address ON calls (address, received_at);
CREATE INDEX ix_calls_received ON calls (received_at);

-- Current state of each order: a projection of its events, written in the same transaction.
CREATE TABLE orders (
    id               TEXT PRIMARY KEY,
    order_no         TEXT NOT NULL UNIQUE,
    call_id          TEXT NOT NULL REFERENCES calls (id),
    tag              TEXT NOT NULL,
    category         TEXT NOT NULL,
    town             TEXT NOT NULL,
    mode             TEXT NOT NULL CHECK (mode IN ('single', 'dual')),
    onsite           INTEGER NOT NULL,
    status           TEXT NOT NULL,
    desk             TEXT NOT NULL,
    phone            TEXT NOT NULL,
    call_at          TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    primary_assignee TEXT NOT NULL,
    police_assignee  TEXT,
    one_team         INTEGER NOT NULL DEFAULT 0,
    override_dept    TEXT,
    override_reason  TEXT,
    repeat_of        TEXT,
    next_due         TEXT,
    next_due_kind    TEXT,
    next_due_start   TEXT,
    first_overdue_at TEXT,
    result           TEXT,
    fed_back_at      TEXT,
    satisfaction     TEXT,
    visited_at       TEXT,
    closed_at        TEXT,
    cancelled_at     TEXT,
    cancel_reason    TEXT,
    reopen_count     INTEGER NOT NULL DEFAULT 0,
    escalations      INTEGER NOT NULL DEFAULT 0,
    linked_calls     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_orders_due ON orders (next_due) WHERE next_due IS NOT NULL;
CREATE INDEX ix_orders_status ON orders (status, next_due);
CREATE INDEX ix_orders_assignee ON orders (primary_assignee, status);
CREATE INDEX ix_orders_police ON orders (police_assignee, status) WHERE police_assignee IS NOT NULL;
CREATE INDEX ix_orders_town ON orders (town, status);
CREATE INDEX ix_orders_call_at ON orders (call_at);
CREATE INDEX ix_orders_phone ON orders (phone, call_at);

-- Who works on an order: the department (role primary) and, on a dual order, the police station.
CREATE TABLE assignments (
    id                    TEXT PRIMARY KEY,
    order_id              TEXT NOT NULL REFERENCES orders (id),
    seq                   INTEGER NOT NULL,
    role                  TEXT NOT NULL CHECK (role IN ('primary', 'police')),
    assignee              TEXT NOT NULL,
    dept                  TEXT NOT NULL,
    town                  TEXT,
    onsite                INTEGER NOT NULL,
    status                TEXT NOT NULL,
    active                INTEGER NOT NULL,
    dispatched_at         TEXT NOT NULL,
    sign_due              TEXT NOT NULL,
    arrive_due            TEXT,
    feedback_due          TEXT NOT NULL,
    feedback_due_original TEXT NOT NULL,
    signed_at             TEXT,
    arrived_at            TEXT,
    fed_back_at           TEXT,
    returned_at           TEXT,
    result                TEXT,
    feedback_text         TEXT,
    return_reason         TEXT,
    return_justified      INTEGER,
    ext_status            TEXT,
    ext_hours             INTEGER,
    ext_reason            TEXT,
    first_overdue_at      TEXT,
    UNIQUE (order_id, seq)
);
CREATE INDEX ix_assignments_assignee ON assignments (assignee, status);
CREATE INDEX ix_assignments_dispatched ON assignments (dispatched_at);

-- The event log: the source of truth. Append-only (triggers below); seq is local insertion order.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    order_id      TEXT NOT NULL,
    assignment_id TEXT,
    kind          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    desk          TEXT NOT NULL,
    desk_seq      INTEGER NOT NULL,
    event_at      TEXT NOT NULL,
    recorded_at   TEXT NOT NULL,
    payload       TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    UNIQUE (desk, desk_seq)
);
CREATE INDEX ix_events_order ON events (order_id, seq);

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: an event cannot be changed');
END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: an event cannot be deleted');
END;

-- The last event of each desk's chain: next desk_seq and the hash to chain from.
CREATE TABLE desk_heads (
    desk TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);

-- Order numbers: SZ-20261128-0042 is the 42nd order of prefix SZ on 28 Nov 2026 (Asia/Shanghai day).
CREATE TABLE order_counters (
    prefix TEXT NOT NULL,
    day    TEXT NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (prefix, day)
);
