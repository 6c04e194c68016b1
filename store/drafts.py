"""The call being taken, kept as a draft (table ``drafts``, migration 0008): one per desk.

Local desk state, not an order event: a draft is never synced, never in the event log or its hash chain, and
``fengqiao check`` does not look at it. Each write is one ``BEGIN IMMEDIATE`` transaction on the WAL file with
``synchronous=FULL``, like every other write, so a draft that was saved survives a crash or a power cut.
:meth:`OrderStore.dispatch` and :meth:`OrderStore.link` delete the desk's draft in their own transaction
(``drop_draft=True``), so a dispatched call never comes back as a draft.
"""

from __future__ import annotations

from datetime import datetime

from fengqiao.models.clock import from_db, to_db
from fengqiao.models.intake import Draft

from .db import Connection, Database


def save_draft(db: Database, desk: str, draft: Draft, at: datetime) -> None:
    """Keep ``draft`` as the desk's call being taken (an empty one deletes it)."""
    with db.write() as conn:
        if draft.is_empty():
            drop_draft_in(conn, desk)
            return
        conn.exec_driver_sql(
            "INSERT INTO drafts (desk, form, saved_at) VALUES (?, ?, ?) "
            "ON CONFLICT (desk) DO UPDATE SET form = excluded.form, saved_at = excluded.saved_at",
            (desk, draft.to_json(), to_db(at)),
        )


def load_draft(db: Database, desk: str) -> Draft | None:
    """The desk's draft, if one was kept."""
    with db.read() as conn:
        row = conn.exec_driver_sql("SELECT form, saved_at FROM drafts WHERE desk = ?", (desk,)).first()
    if row is None:
        return None
    try:
        saved = from_db(str(row[1]))
    except ValueError:
        saved = None
    draft = Draft.from_json(str(row[0]), saved_at=saved)
    return None if draft.is_empty() else draft


def drop_draft(db: Database, desk: str) -> None:
    """Forget the desk's draft (the form was cleared on purpose)."""
    with db.write() as conn:
        drop_draft_in(conn, desk)


def drop_draft_in(conn: Connection, desk: str) -> None:
    """The same inside a caller's write transaction (the dispatch that sends the call)."""
    conn.exec_driver_sql("DELETE FROM drafts WHERE desk = ?", (desk,))
