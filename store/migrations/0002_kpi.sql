-- Schema version 2: what the KPI evaluation and the cockpit need.
--
-- 1. orders.repeat_call_at: the first other call from the same phone between 8 minutes and 72 hours
--    (both inclusive) after the order's call came in, or NULL. It is the 重复报警率 (repeat-call rate)
--    numerator, maintained by the two triggers below whichever arrives first (the call or, for a late
--    entry, the order), so the rate is a plain aggregate over the orders rows. The projection's upsert
--    never names this column, so updating an order keeps it.
--    Bounds are computed on the whole-second part of the stored time and the fraction is kept as it is,
--    so they are exact to the microsecond (SQLite's own date arithmetic rounds to milliseconds).
-- 2. Indexes for the cockpit's live counts: orders closed today, returns awaiting a supervisor's judgement.

ALTER TABLE orders ADD COLUMN repeat_call_at TEXT;

UPDATE orders SET repeat_call_at = (
    SELECT min(c.received_at) FROM calls c
    WHERE c.phone = orders.phone
      AND c.received_at >= strftime('%Y-%m-%dT%H:%M:%S', substr(orders.call_at, 1, 19), '+480 seconds')
                           || substr(orders.call_at, 20)
      AND c.received_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(orders.call_at, 1, 19), '+259200 seconds')
                           || substr(orders.call_at, 20)
);

-- A new call is a repeat of every earlier order from the same phone whose call came in 8 min to 72 h before it.
CREATE TRIGGER kpi_repeat_on_call AFTER INSERT ON calls
BEGIN
    UPDATE orders SET repeat_call_at = NEW.received_at
    WHERE phone = NEW.phone
      AND call_at >= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.received_at, 1, 19), '-259200 seconds')
                     || substr(NEW.received_at, 20)
      AND call_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.received_at, 1, 19), '-480 seconds')
                     || substr(NEW.received_at, 20)
      AND (repeat_call_at IS NULL OR repeat_call_at > NEW.received_at);
END;

-- A new order (also one entered late, or received by sync after its repeat calls) looks for calls after it.
CREATE TRIGGER kpi_repeat_on_order AFTER INSERT ON orders
BEGIN
    UPDATE orders SET repeat_call_at = (
        SELECT min(c.received_at) FROM calls c
        WHERE c.phone = NEW.phone
          AND c.received_at >= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.call_at, 1, 19), '+480 seconds')
                               || substr(NEW.call_at, 20)
          AND c.received_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.call_at, 1, 19), '+259200 seconds')
                               || substr(NEW.call_at, 20))
    WHERE id = NEW.id;
END;

CREATE INDEX ix_orders_closed ON orders (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX ix_assignments_returns ON assignments (return_justified, returned_at) WHERE status = 'returned';
