"""Versioned schema migrations.

Each file ``NNNN_name.sql`` (or ``NNNN_name.py`` with an ``upgrade(conn)`` function) brings the schema from
version NNNN-1 to NNNN. The version is kept in ``PRAGMA user_version``. All pending steps run in the
caller's write transaction, so an upgrade either completes or leaves the file as it was.

Rules: never edit a migration that has been released; add the next number. A test builds a database with
the first schema, fills it, and migrates it to the newest.
"""

from __future__ import annotations

import importlib
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from fengqiao.models.errors import StoreError
from fengqiao.models.i18n import t

if TYPE_CHECKING:
    from ..db import Connection

APP_ID = "fengqiao"
HERE = Path(__file__).resolve().parent  # the migration files sit beside this module (also in the wheel)
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.(sql|py)$")


def steps() -> list[tuple[int, str]]:
    """(version, file name) of every migration, in order. Versions must be 1, 2, 3, … without gaps."""
    found = []
    for entry in HERE.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name))
    found.sort()
    for expected, (version, name) in enumerate(found, start=1):
        if version != expected:
            raise RuntimeError(f"migration numbering gap: expected {expected:04d}, found {name}")
    return found


def head() -> int:
    return steps()[-1][0]


def split_sql(script: str) -> list[str]:
    """Split a script into statements (trigger bodies stay whole), without committing as executescript does."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        if not buf and line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


def run_step(conn: Connection, name: str) -> None:
    if name.endswith(".sql"):
        script = (HERE / name).read_text(encoding="utf-8")
        for statement in split_sql(script):
            conn.exec_driver_sql(statement)
    else:
        module = importlib.import_module(f"{__name__}.{name[:-3]}")
        module.upgrade(conn)


def _is_ours(conn: Connection) -> bool:
    tables = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return True  # a new, empty file
    if "meta" not in tables:
        return False
    row = conn.exec_driver_sql("SELECT value FROM meta WHERE key = 'app'").first()
    return row is not None and row[0] == APP_ID


def is_current(conn: Connection) -> bool:
    """True when the file is ours and already at the newest version (nothing to write)."""
    current = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    return current == head() and _is_ours(conn)


def upgrade(conn: Connection, path: Path | str = "", target: int | None = None) -> int:
    """Apply every pending migration up to ``target`` (default: the newest) inside ``conn``'s transaction."""
    if not _is_ours(conn):
        raise StoreError(t("store.not_ours", path=path))
    current = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    newest = head()
    goal = newest if target is None else target
    if current > newest:
        raise StoreError(t("store.too_new", path=path, version=current, supported=newest))
    for version, name in steps():
        if current < version <= goal:
            run_step(conn, name)
            if version == 1:
                conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('app', ?)", (APP_ID,))
            conn.exec_driver_sql(f"PRAGMA user_version = {version}")
            current = version
    if current == newest:  # the backfills are the newest code's: a file stopped at an older version waits for them
        _data_steps(conn)
    return current


def _data_steps(conn: Connection) -> None:
    """Backfills SQL cannot express, asked for by a step's marker in ``meta`` (same transaction).

    ``kpi.rollups`` (0010_rollups.sql, again 0014_rates.py): the KPI rollups recomputed from the projection
    (store/rollups.py)."""
    tables = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables or "kpi_rollup" not in tables:
        return
    if conn.exec_driver_sql("SELECT 1 FROM meta WHERE key = 'kpi.rollups' AND value = 'rebuild'").first():
        from fengqiao.store.rollups import rebuild

        rebuild(conn)
        conn.exec_driver_sql("DELETE FROM meta WHERE key = 'kpi.rollups'")
