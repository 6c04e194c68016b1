-- Schema version 2 (orders board): indexes that match the board's filters and sorts, full-text search over
-- order number, phone, address and description, and an index for recording the first overdue moment.
--
-- The board's sort keys (store/board.py builds the same expressions):
--   deadline: coalesce(next_due, '~'), order_no   ('~' sorts after every stored time: orders without a
--             pending deadline, e.g. fed back and waiting for the follow-up visit, come last)
--   age:      call_at, order_no                   (oldest first; "newest" reads the same index backwards)
--   town:     town, coalesce(next_due, '~'), order_no
-- Open orders are the board's default and a small, hot part of the table: partial indexes keep them compact.

CREATE INDEX ix_board_open_due ON orders (coalesce(next_due, '~'), order_no)
    WHERE status NOT IN ('closed', 'cancelled');
CREATE INDEX ix_board_open_age ON orders (call_at, order_no)
    WHERE status NOT IN ('closed', 'cancelled');
CREATE INDEX ix_board_open_town ON orders (town, coalesce(next_due, '~'), order_no)
    WHERE status NOT IN ('closed', 'cancelled');

-- Every state (looking an old order up): the same sorts over the whole table, and the narrowing filters.
CREATE INDEX ix_board_due ON orders (coalesce(next_due, '~'), order_no);
CREATE INDEX ix_board_age ON orders (call_at, order_no);
CREATE INDEX ix_board_town ON orders (town, coalesce(next_due, '~'), order_no);
CREATE INDEX ix_board_status ON orders (status, coalesce(next_due, '~'), order_no);
-- A department desk sees its own orders: county departments and township centres by the department
-- assignment, police stations by the police assignment.
CREATE INDEX ix_board_primary ON orders (primary_assignee, coalesce(next_due, '~'), order_no);
CREATE INDEX ix_board_police ON orders (police_assignee, coalesce(next_due, '~'), order_no)
    WHERE police_assignee IS NOT NULL;

-- Full-text search: one document per call (an order's own call and the repeat calls linked to it).
-- order_search_docs maps the document number (an INTEGER PRIMARY KEY, stable across VACUUM) to the order.
-- The trigram tokenizer finds any substring of three or more characters, Chinese included. Each text is
-- indexed with two U+FFFF characters after it, so that every character starts a trigram: a one- or
-- two-character term (假货, 噪音) is then found through the trigrams that begin with it, which
-- store/board.py looks up in order_search_vocab (a range over the sorted terms).
CREATE TABLE order_search_docs (
    doc      INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL,
    call_id  TEXT NOT NULL UNIQUE
);
-- A common search word is looked for row by row in the order's calls (its own and linked repeat calls).
CREATE INDEX ix_calls_order ON calls (order_id) WHERE order_id IS NOT NULL;
CREATE VIRTUAL TABLE order_search USING fts5 (
    order_no, phone, address, description, content = '', tokenize = 'trigram'
);
CREATE VIRTUAL TABLE order_search_vocab USING fts5vocab (order_search, row);

-- Kept in step inside the same write transaction as the projection: an order's row is inserted once (its
-- call is already stored: orders.call_id references it), a linked repeat call once. Neither text changes later.
CREATE TRIGGER order_search_on_order AFTER INSERT ON orders
BEGIN
    INSERT OR IGNORE INTO order_search_docs (order_id, call_id) VALUES (NEW.id, NEW.call_id);
    INSERT INTO order_search (rowid, order_no, phone, address, description)
        SELECT d.doc, NEW.order_no || char(65535, 65535), c.phone || char(65535, 65535),
               c.address || char(65535, 65535), c.description || char(65535, 65535)
        FROM order_search_docs d JOIN calls c ON c.id = d.call_id
        WHERE d.call_id = NEW.call_id AND d.order_id = NEW.id AND changes() > 0;
END;

CREATE TRIGGER order_search_on_linked_call AFTER INSERT ON calls
WHEN NEW.linked = 1 AND NEW.order_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO order_search_docs (order_id, call_id)
        SELECT o.id, NEW.id FROM orders o WHERE o.id = NEW.order_id;
    INSERT INTO order_search (rowid, order_no, phone, address, description)
        SELECT d.doc, o.order_no || char(65535, 65535), NEW.phone || char(65535, 65535),
               NEW.address || char(65535, 65535), NEW.description || char(65535, 65535)
        FROM order_search_docs d JOIN orders o ON o.id = d.order_id
        WHERE d.call_id = NEW.id AND changes() > 0;
END;

-- Orders already stored.
INSERT INTO order_search_docs (order_id, call_id) SELECT id, call_id FROM orders ORDER BY call_at;
INSERT OR IGNORE INTO order_search_docs (order_id, call_id)
    SELECT c.order_id, c.id FROM calls c JOIN orders o ON o.id = c.order_id WHERE c.linked = 1;
INSERT INTO order_search (rowid, order_no, phone, address, description)
    SELECT d.doc, o.order_no || char(65535, 65535), c.phone || char(65535, 65535),
           c.address || char(65535, 65535), c.description || char(65535, 65535)
    FROM order_search_docs d JOIN orders o ON o.id = d.order_id JOIN calls c ON c.id = d.call_id;
