-- Schema version 8: the call being taken, kept as a draft (local desk state, not an order event).
--
-- One row per desk: what is typed on its intake form (phone, name, town, address, the caller's words, the
-- chosen tag, when the call came in) as JSON, written about half a second after typing pauses (at least once a
-- second while it goes on) in a write transaction like everything else (WAL, synchronous=FULL), so a quit, a
-- closed SSH session, a crash or a power cut loses at most the last second. The console restores it at the
-- next start. The row is deleted in the transaction that dispatches (or links) the call, or when the form is
-- cleared on purpose. Drafts are never synced and never part of the event log or its hash chain.
CREATE TABLE drafts (
    desk     TEXT PRIMARY KEY,
    form     TEXT NOT NULL,
    saved_at TEXT NOT NULL
) WITHOUT ROWID;
