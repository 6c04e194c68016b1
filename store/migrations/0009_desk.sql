-- Schema version 9: what a desk keeps for itself (never synced, never part of the event log).
--
-- 1. attention: orders that need someone on this desk (a new order on a department or township desk, a
--    returned one on a call-taker's, a deadline passed on a supervisor's), from when, and when someone looked
--    at it (opened it or acted on it). Unseen ones float to the top of the open board.
-- 2. operators: who may sign in at this desk (name, staff number) and, where the desk's config asks for a PIN,
--    its salted scrypt hash (never the PIN). Sign-ins, handovers and their acknowledgements are written to the
--    hash-chained access log (store/audit.py), not here.

CREATE TABLE attention (
    desk     TEXT NOT NULL,
    order_id TEXT NOT NULL,
    reason   TEXT NOT NULL,
    since    TEXT NOT NULL,
    seen_at  TEXT,
    PRIMARY KEY (desk, order_id)
) WITHOUT ROWID;
CREATE INDEX ix_attention_unseen ON attention (desk, order_id) WHERE seen_at IS NULL;

CREATE TABLE operators (
    staff_no   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    pin_salt   TEXT,
    pin_hash   TEXT,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
