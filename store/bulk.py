"""Building a store in bulk (the demo generator): into a temporary copy, without secondary indexes or insert
triggers, then the indexes, the derived tables and the search index built once at the end, and the copy renamed
over the store.

* The store is copied as it is (``VACUUM INTO``: schema, settings and whatever it already holds) into
  ``<store>.bulk-partial`` beside it. The copy's secondary indexes and triggers on the tables a bulk build writes
  are dropped (their SQL kept) and it is written with no journal and no syncing: nothing else can see it.
* :meth:`BulkBuild.finish` creates the indexes again, rebuilds the derived tables from the rows (:func:`derive`:
  the search documents and index, the repeat-call table, the KPI rollups, each by the definition
  ``fengqiao check`` verifies it against), restores the triggers, switches the copy to WAL, syncs it to disk and
  renames it over the store. Until that rename the store is untouched: a build that fails or is killed leaves
  the store as it was and a partial file no one opens (the next build removes it).
* While the build runs, the store is held in rollback-journal mode under a write lock: no one else can write
  to it (a write would be lost with the old file), and opening it elsewhere waits, then says it is locked. A
  store another program has open cannot be rebuilt (one line says so).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from .db import Database, _explain
from .rollups import build_all

# The tables a bulk build writes, whose secondary indexes and triggers wait for the end.
TABLES = ("events", "calls", "orders", "assignments", "order_search_docs", "kpi_repeats", "kpi_pending")
BULK_CACHE_KIB = 512 * 1024

# ---- the derived tables, as ``fengqiao check`` defines them (store/checks.py compares with these) ---------

REPEATS_EXPECTED = """SELECT * FROM (
SELECT o.id, min(c.received_at) FROM orders o JOIN calls c ON c.phone = o.phone
WHERE c.received_at >= strftime('%Y-%m-%dT%H:%M:%S', substr(o.call_at, 1, 19), '+480 seconds') || substr(o.call_at, 20)
  AND c.received_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(o.call_at, 1, 19), '+259200 seconds')
                       || substr(o.call_at, 20)
GROUP BY o.id)"""

DOCS_EXPECTED = """SELECT * FROM (
SELECT id, call_id FROM orders
UNION SELECT c.order_id, c.id FROM calls c JOIN orders o ON o.id = c.order_id)"""

# A document's texts as the triggers index them (migrations 0003 and 0015): each with two U+FFFF after it.
SEARCH_ROWS = (
    "SELECT d.doc, o.order_no || char(65535, 65535), c.phone || char(65535, 65535), "
    "c.address || char(65535, 65535), c.description || char(65535, 65535) "
    "FROM order_search_docs d JOIN orders o ON o.id = d.order_id JOIN calls c ON c.id = d.call_id"
)
INSERT_SEARCH = f"INSERT INTO order_search (rowid, order_no, phone, address, description) {SEARCH_ROWS}"


def fill_search(raw: sqlite3.Connection) -> None:
    """The search index from ``order_search_docs``, emptied first."""
    raw.execute("INSERT INTO order_search (order_search) VALUES ('delete-all')")
    raw.execute(f"{INSERT_SEARCH} ORDER BY d.doc")


def derive(raw: sqlite3.Connection) -> None:
    """Every derived table recomputed from orders, assignments and calls: search documents and index, repeat
    calls, KPI rollups (what the triggers and the rollup tracker keep up row by row)."""
    raw.execute("DELETE FROM order_search_docs")
    raw.execute(
        f"INSERT INTO order_search_docs (order_id, call_id) SELECT d.* FROM ({DOCS_EXPECTED}) d "
        "JOIN calls c ON c.id = d.call_id ORDER BY c.received_at, c.id"
    )
    fill_search(raw)
    raw.execute("DELETE FROM kpi_repeats")
    raw.execute(f"INSERT INTO kpi_repeats (order_id, repeat_call_at) {REPEATS_EXPECTED}")
    build_all(raw)


class BulkBuild:
    """A bulk build of ``db``'s file: :meth:`open`, write through :attr:`conn` (plain sqlite3, one transaction),
    then :meth:`finish` (or :meth:`abort`). ``db`` is closed meanwhile and reopens on the new file."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.path = db.path
        self.partial = self.path.with_name(self.path.name + ".bulk-partial")
        self.guard: sqlite3.Connection | None = None
        self.conn: sqlite3.Connection | None = None
        self.indexes: list[str] = []
        self.triggers: list[str] = []

    def _fail(self, exc: sqlite3.Error) -> Exception:
        return _explain(exc, self.path, self.db.busy_ms)

    def open(self) -> sqlite3.Connection:
        self.db.close()  # its idle connections; it opens new ones (on the new file) when next used
        _remove(self.partial)
        try:
            guard = sqlite3.connect(self.path, timeout=self.db.busy_ms / 1000, isolation_level=None)
            self.guard = guard
            # Out of WAL needs every other connection closed: a store open elsewhere is not rebuilt.
            guard.execute("PRAGMA journal_mode=DELETE")
            guard.execute("BEGIN IMMEDIATE")  # no one else writes to the store until it is replaced
            copy = sqlite3.connect(self.path, isolation_level=None)
            try:
                copy.execute("VACUUM INTO ?", (str(self.partial),))
            finally:
                copy.close()
            conn = sqlite3.connect(self.partial, isolation_level=None, check_same_thread=False)
            self.conn = conn
            for pragma in (
                "journal_mode=OFF",
                "synchronous=OFF",
                "locking_mode=EXCLUSIVE",
                "foreign_keys=OFF",
                "temp_store=MEMORY",
                f"cache_size=-{BULK_CACHE_KIB}",
            ):
                conn.execute(f"PRAGMA {pragma}")
            marks = ", ".join("?" for _ in TABLES)
            for kind, name, sql in conn.execute(
                f"SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL "
                f"AND tbl_name IN ({marks}) ORDER BY rowid",
                TABLES,
            ).fetchall():
                (self.indexes if kind == "index" else self.triggers).append(sql)
                conn.execute(f"DROP {kind.upper()} {name}")
            conn.execute("BEGIN")
            return conn
        except sqlite3.Error as exc:
            self.abort()
            raise self._fail(exc) from None
        except BaseException:
            self.abort()
            raise

    def finish(self, derived: Callable[[sqlite3.Connection], None] = derive) -> None:
        """Indexes, derived tables, triggers; then the copy, synced to disk, replaces the store."""
        conn = self.conn
        assert conn is not None and self.guard is not None
        try:
            conn.execute("PRAGMA threads=2")  # the index sorts may use a second core
            for sql in self.indexes:
                conn.execute(sql)
            derived(conn)
            for sql in self.triggers:
                conn.execute(sql)
            conn.execute("COMMIT")
            conn.execute("PRAGMA locking_mode=NORMAL")
            conn.execute("PRAGMA journal_mode=WAL")  # the store's mode, recorded in the file's header
            conn.close()
            self.conn = None
            _sync(self.partial)
            self.guard.rollback()
            self.guard.close()
            self.guard = None
            os.replace(self.partial, self.path)
            _sync_dir(self.path.parent)
        except sqlite3.Error as exc:
            self.abort()
            raise self._fail(exc) from None
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the copy and release the store (left as it was)."""
        for conn in (self.conn, self.guard):
            if conn is not None:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
        self.conn = self.guard = None
        _remove(self.partial)


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(folder: Path) -> None:
    if os.name == "nt":  # a folder cannot be opened for syncing there; the rename is durable on close
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
