-- Schema version 16: calls found by their address typed with other spacing (models.text.compact_address):
-- an index over the address without spaces, full-width spaces and tabs, with the call's time, so the intake's
-- recent-calls lookup reads only the matching calls (it scanned the window's calls). The expression must stay
-- exactly store.orders.COMPACT_ADDRESS_SQL (tests/test_store.py checks the plan uses this index).
CREATE INDEX IF NOT EXISTS ix_calls_address_compact ON calls (replace(replace(replace(address, ' ', ''), '　', ''), char(9), ''), received_at);
