-- Schema version 7 (issue 11): the sync server's signature over each event it took (store/signing.py).
--
-- sig  the server's Ed25519 signature (hex) binding the event's desk, number in that desk's chain, id and hash;
--      NULL for an event the server has not confirmed (yet). Verified by `fengqiao check` against the server
--      key the desk learned at its first sync (meta sync.server_key).
ALTER TABLE event_state ADD COLUMN sig TEXT;
