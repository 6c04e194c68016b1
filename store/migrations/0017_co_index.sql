-- Schema version 17: a co-handling unit's active assignments by unit (issue 17's co-units). A department or
-- township desk sees the orders it co-handles (store.board.visibility_sql); without this index that condition
-- read every assignment the unit ever had (ix_assignments_assignee), ~100,000 for a county department on a 1M
-- store, on every page of its board. Partial: only active co-unit assignments, a few per unit.
CREATE INDEX IF NOT EXISTS ix_assignments_co ON assignments (assignee, order_id) WHERE role = 'co' AND active = 1;
