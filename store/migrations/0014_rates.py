"""Schema version 13: the return and redo rates (回退率, 重办率) and the weight of 基本满意 (issue 17 item 5).

* ``orders.redo_count``: how many times the order was reopened after a follow-up visit (重办: the caller was not
  satisfied), as against ``reopen_count``, which also counts reopens after an unresolved feedback. Filled here
  from the event log: every order with a reopen event is replayed by the state machine (the same fold the
  projection and ``check`` use), so the column says exactly what the new code would have written.
* ``kpi_rollup`` gains the counts behind the new rates (store/rollups.py): ``return_base`` and ``returned``
  (lead assignments dispatched, and those of them returned), ``redo_base`` and ``redone`` (orders visited, and
  those of them reopened after a visit), ``basic_satisfied`` (orders whose latest visit was 基本满意). The rollups
  are then rebuilt from the projection (the ``kpi.rollups`` marker, as 0010 does), in the same transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fengqiao.store.db import Connection

ROLLUP_COLUMNS = ("return_base", "returned", "basic_satisfied", "redo_base", "redone")


def upgrade(conn: Connection) -> None:
    from fengqiao.models.machine import replay
    from fengqiao.store.projection import load_events_of

    conn.exec_driver_sql("ALTER TABLE orders ADD COLUMN redo_count INTEGER NOT NULL DEFAULT 0")
    for column in ROLLUP_COLUMNS:
        conn.exec_driver_sql(f"ALTER TABLE kpi_rollup ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
    ids = [
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT DISTINCT e.order_id FROM events e JOIN orders o ON o.id = e.order_id "
            "WHERE e.kind = 'reopen' ORDER BY 1"
        )
    ]
    for i in range(0, len(ids), 500):
        found = load_events_of(conn, ids[i : i + 500])
        updates = []
        for order_id, events in found.items():
            state = replay(events).state
            if state is not None and state.redo_count:
                updates.append((state.redo_count, order_id))
        if updates:
            conn.exec_driver_sql("UPDATE orders SET redo_count = ? WHERE id = ?", updates)
    conn.exec_driver_sql(
        "INSERT INTO meta (key, value) VALUES ('kpi.rollups', 'rebuild') "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )
