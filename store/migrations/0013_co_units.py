"""Co-handling units (协办): an assignment's role may be ``co`` as well as ``primary`` and ``police``.

SQLite cannot change a CHECK constraint in place, so the assignments table is rebuilt the documented way
(https://www.sqlite.org/lang_altertable.html, "other kinds of table schema changes"): a new table with the new
constraint, every row copied, the old one dropped, the new one renamed, its indexes created again. Nothing else
refers to the table, and it all runs in the migration's transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fengqiao.store.db import Connection

OLD = "CHECK (role IN ('primary', 'police'))"
NEW = "CHECK (role IN ('primary', 'police', 'co'))"


def upgrade(conn: Connection) -> None:
    table = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'assignments'").scalar()
    if table is None or OLD not in table:
        raise RuntimeError("0013_co_units: the assignments table is not the one this migration expects")
    indexes = [
        row[0]
        for row in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'assignments' AND sql IS NOT NULL"
        )
    ]
    conn.exec_driver_sql(table.replace(OLD, NEW).replace("CREATE TABLE assignments", "CREATE TABLE assignments_new", 1))
    conn.exec_driver_sql("INSERT INTO assignments_new SELECT * FROM assignments")
    conn.exec_driver_sql("DROP TABLE assignments")
    conn.exec_driver_sql("ALTER TABLE assignments_new RENAME TO assignments")
    for sql in indexes:
        conn.exec_driver_sql(sql)
