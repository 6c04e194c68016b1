-- Schema version 10: KPI rollups (store/rollups.py), so a window's KPIs cost what its days cost.
--
-- kpi_rollup          per (scope, Asia/Shanghai day of the call, key, dept) the additive KPI counts; scope 'a' an
--                     assignee (dept: its department), 'w' a town, 't' a tag, '*' everything (key 'ALL'). The
--                     sign/arrival/feedback bases hold what is done or returned; what is not due yet is in
-- kpi_pending         one row per assignment and measure not yet done, with its deadline (counted once passed);
-- kpi_rollup_minutes  per (scope, day, key, dept, measure) the exact durations (sorted float64) and a histogram.
-- They are kept by the code that writes the projection, in the same transaction. The backfill of an existing
-- file runs in Python right after this step (store/migrations/__init__.py: the 'kpi.rollups' marker).

CREATE TABLE kpi_rollup (
    scope                TEXT NOT NULL,
    day                  TEXT NOT NULL,
    key                  TEXT NOT NULL,
    dept                 TEXT NOT NULL,
    dispatched           INTEGER NOT NULL DEFAULT 0,
    returned_justified   INTEGER NOT NULL DEFAULT 0,
    returned_unjustified INTEGER NOT NULL DEFAULT 0,
    returned_unjudged    INTEGER NOT NULL DEFAULT 0,
    extended             INTEGER NOT NULL DEFAULT 0,
    sign_base            INTEGER NOT NULL DEFAULT 0,
    signed_on_time       INTEGER NOT NULL DEFAULT 0,
    arrival_base         INTEGER NOT NULL DEFAULT 0,
    arrived_on_time      INTEGER NOT NULL DEFAULT 0,
    feedback_base        INTEGER NOT NULL DEFAULT 0,
    fed_back_on_time     INTEGER NOT NULL DEFAULT 0,
    orders               INTEGER NOT NULL DEFAULT 0,
    orders_fed_back      INTEGER NOT NULL DEFAULT 0,
    resolved             INTEGER NOT NULL DEFAULT 0,
    repeat_base          INTEGER NOT NULL DEFAULT 0,
    repeat_orders        INTEGER NOT NULL DEFAULT 0,
    visited              INTEGER NOT NULL DEFAULT 0,
    satisfied            INTEGER NOT NULL DEFAULT 0,
    onsite_fed_back      INTEGER NOT NULL DEFAULT 0,
    onsite_resolved      INTEGER NOT NULL DEFAULT 0,
    reopened             INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, day, key, dept)
) WITHOUT ROWID;

CREATE TABLE kpi_rollup_minutes (
    scope   TEXT NOT NULL,
    day     TEXT NOT NULL,
    key     TEXT NOT NULL,
    dept    TEXT NOT NULL,
    measure TEXT NOT NULL,
    n       INTEGER NOT NULL,
    lo      INTEGER NOT NULL,
    hist    BLOB NOT NULL,
    vals    BLOB NOT NULL,
    PRIMARY KEY (scope, day, key, dept, measure)
);

CREATE TABLE kpi_pending (
    assignment_id TEXT NOT NULL,
    measure       TEXT NOT NULL,
    day           TEXT NOT NULL,
    assignee      TEXT NOT NULL,
    dept          TEXT NOT NULL,
    town          TEXT NOT NULL,
    tag           TEXT NOT NULL,
    due           TEXT NOT NULL,
    PRIMARY KEY (assignment_id, measure)
) WITHOUT ROWID;
CREATE INDEX ix_kpi_pending_day ON kpi_pending (day, due);

INSERT INTO meta (key, value) VALUES ('kpi.rollups', 'rebuild')
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
