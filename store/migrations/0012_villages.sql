-- Schema version 12: villages and grids (issue 16). The order's village or community (villages.csv) and its grid
-- (grids.csv), copied from the dispatch event's call; NULL for orders without one (every order before this step:
-- their events carry no village). `informed`: the units told of the order without an assignment (grassroots
-- routing's township centre, `ZZ-<town>`; several joined by '|'), NULL for none: that centre's desk sees the order.
-- The index serves the board's village filter and `kpi --by village`; it holds only orders that have a village.

ALTER TABLE orders ADD COLUMN village TEXT;
ALTER TABLE orders ADD COLUMN grid TEXT;
ALTER TABLE orders ADD COLUMN informed TEXT;
CREATE INDEX ix_orders_village ON orders (village, call_at) WHERE village IS NOT NULL;
