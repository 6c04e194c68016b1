-- Schema version 2: what the KPI evaluation and the cockpit need.
--
-- 1. kpi_repeats: the orders that got another call from the same phone between 8 minutes and 72 hours (both
--    inclusive) after their call came in, with the first such call. It is the 重复报警率 (repeat-call rate)
--    numerator, kept by the triggers below whichever arrives first (the repeat call or, for a late entry or
--    an order received by sync, the order), so the rate is a plain aggregate. A table of its own, so the
--    orders projection keeps exactly the columns store/projection.py writes.
--    Bounds are computed on the whole-second part of the stored time and the fraction is kept as it is,
--    so they are exact to the microsecond (SQLite's own date arithmetic rounds to milliseconds).
-- 2. Indexes for the cockpit's live counts: orders closed today, returns awaiting a supervisor's judgement.

CREATE TABLE kpi_repeats (
    order_id       TEXT PRIMARY KEY,
    repeat_call_at TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO kpi_repeats (order_id, repeat_call_at)
SELECT o.id, min(c.received_at) FROM orders o JOIN calls c ON c.phone = o.phone
WHERE c.received_at >= strftime('%Y-%m-%dT%H:%M:%S', substr(o.call_at, 1, 19), '+480 seconds') || substr(o.call_at, 20)
  AND c.received_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(o.call_at, 1, 19), '+259200 seconds') || substr(o.call_at, 20)
GROUP BY o.id;

-- A new call is a repeat of every earlier order from the same phone whose call came in 8 min to 72 h before it.
CREATE TRIGGER kpi_repeat_on_call AFTER INSERT ON calls
BEGIN
    INSERT INTO kpi_repeats (order_id, repeat_call_at)
    SELECT id, NEW.received_at FROM orders
    WHERE phone = NEW.phone
      AND call_at >= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.received_at, 1, 19), '-259200 seconds')
                     || substr(NEW.received_at, 20)
      AND call_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.received_at, 1, 19), '-480 seconds')
                     || substr(NEW.received_at, 20)
    ON CONFLICT (order_id) DO UPDATE SET repeat_call_at = min(repeat_call_at, excluded.repeat_call_at);
END;

-- A new order (also one entered late, or received by sync after its repeat calls) looks for calls after it.
CREATE TRIGGER kpi_repeat_on_order AFTER INSERT ON orders
BEGIN
    INSERT INTO kpi_repeats (order_id, repeat_call_at)
    SELECT NEW.id, first FROM (
        SELECT min(c.received_at) AS first FROM calls c
        WHERE c.phone = NEW.phone
          AND c.received_at >= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.call_at, 1, 19), '+480 seconds')
                               || substr(NEW.call_at, 20)
          AND c.received_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.call_at, 1, 19), '+259200 seconds')
                               || substr(NEW.call_at, 20))
    WHERE first IS NOT NULL
    ON CONFLICT (order_id) DO UPDATE SET repeat_call_at = min(repeat_call_at, excluded.repeat_call_at);
END;

CREATE TRIGGER kpi_repeat_forget_order AFTER DELETE ON orders
BEGIN
    DELETE FROM kpi_repeats WHERE order_id = OLD.id;
END;

CREATE INDEX ix_orders_closed ON orders (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX ix_assignments_returns ON assignments (return_justified, returned_at) WHERE status = 'returned';
