-- Schema version 11: risk warnings (预警) and task-force cases (专班), projections of their events
-- (models/governance.py; their events are in `events`, with the warning's or case's id in `order_id`).
--
-- warnings     one row per warning: rule, level, town, the address key and phone it groups calls by, its status
-- cases        one row per case: title, owner unit, members (JSON list), status, resolution, follow-up date
-- case_orders  which orders belong to which case

CREATE TABLE warnings (
    id          TEXT PRIMARY KEY,
    no          TEXT NOT NULL,
    rule        TEXT NOT NULL,
    level       TEXT NOT NULL,
    town        TEXT NOT NULL,
    key         TEXT NOT NULL,
    addr_key    TEXT NOT NULL,
    address     TEXT NOT NULL,
    phone       TEXT NOT NULL,
    summary     TEXT NOT NULL,
    calls       TEXT NOT NULL,
    orders      TEXT NOT NULL,
    status      TEXT NOT NULL,
    raised_at   TEXT NOT NULL,
    desk        TEXT NOT NULL,
    signed_at   TEXT,
    signed_by   TEXT NOT NULL,
    closed_at   TEXT,
    close_note  TEXT NOT NULL,
    case_id     TEXT,
    measures    INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX ix_warnings_no ON warnings (no);
CREATE INDEX ix_warnings_open ON warnings (status, level, raised_at);
CREATE INDEX ix_warnings_addr ON warnings (town, addr_key) WHERE status IN ('open', 'signed');
CREATE INDEX ix_warnings_phone ON warnings (phone) WHERE status IN ('open', 'signed');

CREATE TABLE cases (
    id          TEXT PRIMARY KEY,
    no          TEXT NOT NULL,
    title       TEXT NOT NULL,
    town        TEXT NOT NULL,
    address     TEXT NOT NULL,
    addr_key    TEXT NOT NULL,
    owner       TEXT NOT NULL,
    members     TEXT NOT NULL,
    status      TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    desk        TEXT NOT NULL,
    follow_up   TEXT,
    warning_id  TEXT,
    resolution  TEXT NOT NULL,
    closed_at   TEXT,
    updated_at  TEXT NOT NULL
);
CREATE INDEX ix_cases_no ON cases (no);
CREATE INDEX ix_cases_open ON cases (status, town);

CREATE TABLE case_orders (
    case_id   TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    PRIMARY KEY (case_id, order_id)
);
CREATE INDEX ix_case_orders_order ON case_orders (order_id);

-- notices  one row per outage or event notice (停水停电通知); the calls recorded on it are in `calls`, with the
--          notice's id in `order_id` (no order is dispatched for them)
CREATE TABLE notices (
    id          TEXT PRIMARY KEY,
    no          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    script      TEXT NOT NULL,
    towns       TEXT NOT NULL,
    keywords    TEXT NOT NULL,
    owner       TEXT NOT NULL,
    starts      TEXT NOT NULL,
    ends        TEXT NOT NULL,
    every       INTEGER NOT NULL,
    calls       INTEGER NOT NULL,
    status      TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    desk        TEXT NOT NULL,
    ended_at    TEXT,
    updated_at  TEXT NOT NULL
);
CREATE INDEX ix_notices_open ON notices (status, ends);

-- answered  one row per call answered on the spot from the knowledge base (直接办结, fixtures/answers.toml):
--           its tag and the answer used; the call itself is in `calls` with this row's id in `order_id`
CREATE TABLE answered (
    id           TEXT PRIMARY KEY,
    call_id      TEXT NOT NULL,
    phone        TEXT NOT NULL,
    town         TEXT NOT NULL,
    tag          TEXT NOT NULL,
    answer_id    TEXT NOT NULL,
    owner        TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    desk         TEXT NOT NULL
);
CREATE INDEX ix_answered_at ON answered (received_at);
