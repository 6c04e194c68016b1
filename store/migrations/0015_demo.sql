-- Schema version 15 (issue 18): every linked repeat call in the search index, whichever row is stored first;
-- fewer indexes on orders.
--
-- 1. order_search_on_order also indexes the linked repeat calls already stored when their order's row arrives.
--    Before, a linked call was indexed only by the insert trigger on calls, and only when its order was already
--    there: a linked call written before its order (demo batches before 3a9e5a2; a sync pull that brings an
--    order's dispatch and a repeat call linked to it in one page) was never found by the board's search.
--    A document already in the index (an order row deleted and written again) is not indexed twice.
-- 2. The backfill: a document for every linked call of a stored order that has none, and an index entry for
--    every document that has none.
-- 3. Indexes that another index makes redundant (each write of an order's row updates every index on orders):
--    ix_orders_call_at (call_at) is a prefix of ix_board_age (call_at, order_no); ix_orders_status
--    (status, next_due), ix_orders_town (town, status), ix_orders_assignee (primary_assignee, status) and
--    ix_orders_police (police_assignee, status) serve equality on their first column, which ix_board_status,
--    ix_board_town, ix_board_primary and ix_board_police serve as well (tests/test_query_plans.py checks
--    the board's and the lists' queries still search an index).

DROP TRIGGER IF EXISTS order_search_on_order;
CREATE TRIGGER order_search_on_order AFTER INSERT ON orders
BEGIN
    INSERT OR IGNORE INTO order_search_docs (order_id, call_id) VALUES (NEW.id, NEW.call_id);
    INSERT OR IGNORE INTO order_search_docs (order_id, call_id)
        SELECT NEW.id, c.id FROM calls c WHERE c.order_id = NEW.id AND c.linked = 1 ORDER BY c.received_at, c.id;
    INSERT INTO order_search (rowid, order_no, phone, address, description)
        SELECT d.doc, NEW.order_no || char(65535, 65535), c.phone || char(65535, 65535),
               c.address || char(65535, 65535), c.description || char(65535, 65535)
        FROM calls c JOIN order_search_docs d ON d.call_id = c.id
        WHERE (c.id = NEW.call_id OR (c.order_id = NEW.id AND c.linked = 1)) AND d.order_id = NEW.id
          AND NOT EXISTS (SELECT 1 FROM order_search s WHERE s.rowid = d.doc);
END;

INSERT OR IGNORE INTO order_search_docs (order_id, call_id) SELECT id, call_id FROM orders ORDER BY call_at;
INSERT OR IGNORE INTO order_search_docs (order_id, call_id)
    SELECT c.order_id, c.id FROM calls c JOIN orders o ON o.id = c.order_id WHERE c.linked = 1
    ORDER BY c.received_at, c.id;
INSERT INTO order_search (rowid, order_no, phone, address, description)
    SELECT d.doc, o.order_no || char(65535, 65535), c.phone || char(65535, 65535),
           c.address || char(65535, 65535), c.description || char(65535, 65535)
    FROM order_search_docs d JOIN orders o ON o.id = d.order_id JOIN calls c ON c.id = d.call_id
    WHERE NOT EXISTS (SELECT 1 FROM order_search s WHERE s.rowid = d.doc);

DROP INDEX IF EXISTS ix_orders_call_at;
DROP INDEX IF EXISTS ix_orders_status;
DROP INDEX IF EXISTS ix_orders_town;
DROP INDEX IF EXISTS ix_orders_assignee;
DROP INDEX IF EXISTS ix_orders_police;
