"""Queries for the intake screen and the classifier: what this desk has classified before.

The classifier learns from the desk's own choices: each earlier call's description with the tag the desk
gave it, newest first. Read-only; one short read transaction.
"""

from __future__ import annotations

from .db import Database

HISTORY_LIMIT = 5000


def desk_history(db: Database, desk: str, *, limit: int = HISTORY_LIMIT) -> list[tuple[str, str]]:
    """``(description, tag)`` of the orders dispatched from ``desk``, newest call first (at most ``limit``)."""
    with db.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT c.description, o.tag FROM orders o JOIN calls c ON c.id = o.call_id "
            "WHERE o.desk = ? ORDER BY o.call_at DESC LIMIT ?",
            (desk, limit),
        ).all()
    return [(str(r[0]), str(r[1])) for r in rows]
