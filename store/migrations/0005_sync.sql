-- Schema version 2 (sync): what the sync server said about each event. Events themselves stay immutable.
--
-- server_seq  the event's place in the server's global order (NULL: not confirmed by the server in the
--             current server epoch; such events are replayed after the confirmed ones, in local order)
-- status      the event's outcome in the replay: applied | redundant | conflict | unknown; or refused (the
--             server would not take it: it is kept here, shown on the timeline, and left out of the replay)
-- reason      the state machine's or the server's explanation, for the timeline
-- The sync bookkeeping (server epoch, pull cursor, last pushed desk_seq, last sync time) lives in meta.
CREATE TABLE event_state (
    event_id   TEXT PRIMARY KEY REFERENCES events (id),
    server_seq INTEGER UNIQUE,
    status     TEXT,
    reason     TEXT
);
CREATE INDEX ix_event_state_marked ON event_state (status) WHERE status IN ('conflict', 'refused', 'unknown');
