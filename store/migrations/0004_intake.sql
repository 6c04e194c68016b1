-- Schema version 2 (intake): the call-taker's classification history is read per desk, newest first.
-- Without this index a desk's history on a million-order store means scanning every order at start-up.
CREATE INDEX ix_orders_desk ON orders (desk, call_at);
