-- Schema version 2 (audit): the access log. Every time a desk is shown callers' full phone numbers where
-- they would be masked (`--unmasked`), one line is appended here. Like the event log it is append-only
-- (triggers refuse UPDATE and DELETE) and hash-chained per desk; `fengqiao check` verifies both.

CREATE TABLE access_log (
    seq       INTEGER PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    desk      TEXT NOT NULL,
    desk_seq  INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,          -- 'unmasked'
    target    TEXT NOT NULL,          -- what was shown: 'order', 'orders', 'audit', 'export', ...
    detail    TEXT NOT NULL,          -- JSON: the command's arguments and the order numbers shown
    at        TEXT NOT NULL,          -- record time, UTC
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    UNIQUE (desk, desk_seq)
);
CREATE INDEX ix_access_log_at ON access_log (at);

CREATE TRIGGER access_log_append_only_update BEFORE UPDATE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'the access log is append-only: an entry cannot be changed');
END;
CREATE TRIGGER access_log_append_only_delete BEFORE DELETE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'the access log is append-only: an entry cannot be deleted');
END;

-- The last entry of each desk's access chain.
CREATE TABLE access_heads (
    desk TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
