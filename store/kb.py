"""The knowledge base a desk uses: the county's, synced from the server, else the reference folder's file.

The sync server serves the ``answers.toml`` of its reference folder (``GET /v1/answers``) and announces its
SHA-256 in every hello. A desk whose copy differs fetches it, checks it against its own reference data like a
file (a bad entry is one clear line, and the copy it had stays in use) and keeps it in ``meta``
(``kb_answers``, ``kb_sha256``, ``kb_synced_at``). :func:`answers_in_use` is what the intake, ``answer`` and the
KPI figures read: the synced copy when there is one, else ``answers.toml`` beside the reference data.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from fengqiao.models.answers import Answer, answers_from_text, default_answers, digest
from fengqiao.models.clock import ensure_utc, from_db, to_db
from fengqiao.models.reference import Reference

from .db import Database

TEXT, SHA, AT = "kb_answers", "kb_sha256", "kb_synced_at"


@dataclass(frozen=True)
class Synced:
    text: str
    sha256: str
    synced_at: datetime


def _meta(db: Database, *keys: str) -> dict[str, str]:
    with db.read() as conn:
        try:
            marks = ", ".join("?" for _ in keys)
            return dict(conn.exec_driver_sql(f"SELECT key, value FROM meta WHERE key IN ({marks})", keys).all())
        except sqlite3.OperationalError:  # a file without the schema yet has nothing synced
            return {}


def synced(db: Database) -> Synced | None:
    """The knowledge base last received from the server, if any."""
    rows = _meta(db, TEXT, SHA, AT)
    if TEXT not in rows or SHA not in rows:
        return None
    return Synced(rows[TEXT], rows[SHA], from_db(rows[AT]) if AT in rows else datetime.min)


def synced_sha(db: Database) -> str | None:
    """The version of the synced knowledge base (its text is read only when that version is new here)."""
    return _meta(db, SHA).get(SHA)


def keep_synced(db: Database, ref: Reference, text: str, at: datetime) -> list[Answer]:
    """Check ``text`` against ``ref`` and keep it as this desk's knowledge base; raises on a fault (kept: none)."""
    answers = answers_from_text(text, ref)  # raises ReferenceDataError naming the entry and the field
    with db.write() as conn:
        for key, value in ((TEXT, text), (SHA, digest(text)), (AT, to_db(ensure_utc(at)))):
            conn.exec_driver_sql(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
    return answers


_parsed: dict[str, list[Answer]] = {}


def answers_in_use(db: Database | None, ref: Reference) -> list[Answer]:
    """The synced knowledge base if this desk has one, else the reference folder's (models.answers)."""
    sha = synced_sha(db) if db is not None else None
    if sha is None:
        return default_answers(ref)
    if sha not in _parsed:  # content-addressed: a version is parsed once per process
        got = synced(db)  # type: ignore[arg-type]
        if got is None:
            return default_answers(ref)
        _parsed[got.sha256] = answers_from_text(got.text, ref)
        return _parsed[got.sha256]
    return _parsed[sha]
