"""Building a store in bulk (the demo generator): into a temporary copy, without secondary indexes or insert
triggers, then the indexes, the derived tables and the search index built once at the end, and the copy renamed
over the store.

* The store is copied as it is (``VACUUM INTO``: schema, settings and whatever it already holds) into
  ``<store>.bulk-partial`` beside it. The copy's secondary indexes and triggers on the tables a bulk build writes
  are dropped (their SQL kept) and it is written with no journal and no syncing: nothing else can see it.
* :meth:`BulkBuild.finish` creates the indexes again, rebuilds the derived tables from the rows (the search
  documents and index, the repeat-call table, the KPI rollups, each by the definition ``fengqiao check``
  verifies it against; the rollups summed on a second connection meanwhile), restores the triggers, switches the
  copy to WAL, syncs it to disk and renames it over the store (which needs room for the copy beside it). Until that rename the store is untouched: a build that fails or is killed leaves
  the store as it was and a partial file no one opens (the next build removes it).
* While the build runs, the store is held in rollback-journal mode under a write lock: no one else can write
  to it (a write would be lost with the old file), and opening it elsewhere waits, then says it is locked. A
  store another program has open cannot be rebuilt (one line says so).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fengqiao.models.errors import StoreError
from fengqiao.models.i18n import t

from .db import Database, _explain, replace_durably
from .rollups import Contribution, compute_all, write_all

# The tables a bulk build writes, whose secondary indexes and triggers wait for the end.
TABLES = ("events", "calls", "orders", "assignments", "order_search_docs", "kpi_repeats", "kpi_pending")
BULK_CACHE_KIB = 1024 * 1024  # the index sorts at a million orders stay in memory

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


class _Rollups:
    """The KPI rollups of every order, summed on a second connection in a thread while the first goes on writing
    (SQLite works without holding Python's lock). :attr:`read` is set once the store's rows have been read into
    the thread's temporary tables: the writer waits for that before it writes again."""

    def __init__(self, path: Path) -> None:
        self.read = threading.Event()
        self.result: Contribution | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(path,), name="bulk-rollups", daemon=True)
        self.thread.start()

    def _run(self, path: Path) -> None:
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA temp_store=MEMORY")
                conn.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
                self.result = compute_all(conn, self.read.set)
            finally:
                conn.close()
        except BaseException as exc:  # noqa: BLE001 - raised again by get()
            self.error = exc
        finally:
            self.read.set()

    def get(self) -> Contribution:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class BulkBuild:
    """A bulk build of ``db``'s file: :meth:`open`, write through :attr:`conn` (plain sqlite3, one transaction),
    then :meth:`finish` (or :meth:`abort`). ``db`` is closed meanwhile and reopens on the new file."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.path = db.path
        self.partial = self.path.with_name(self.path.name + ".bulk-partial")
        self.guard: sqlite3.Connection | None = None
        self.conn: sqlite3.Connection | None = None
        self.indexes: list[tuple[str, str]] = []  # (name, SQL)
        self.triggers: list[str] = []

    @contextmanager
    def _or_abort(self) -> Iterator[None]:
        """Any failure drops the copy and releases the store; a driver error becomes one plain sentence."""
        try:
            yield
        except sqlite3.Error as exc:
            self.abort()
            raise _explain(exc, self.path, self.db.busy_ms) from None
        except BaseException:
            self.abort()
            raise

    def open(self) -> sqlite3.Connection:
        self.db.close()  # its idle connections; it opens new ones (on the new file) when next used
        _remove(self.partial)
        with self._or_abort():
            guard = sqlite3.connect(self.path, timeout=self.db.busy_ms / 1000, isolation_level=None)
            self.guard = guard
            # Out of WAL needs every other connection closed: a store open elsewhere is not rebuilt.
            try:
                guard.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc).lower() and "busy" not in str(exc).lower():
                    raise
                raise StoreError(t("store.open_elsewhere", path=self.path)) from None
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
                if kind == "index":
                    self.indexes.append((name, sql))
                else:
                    self.triggers.append(sql)
                conn.execute(f"DROP {kind.upper()} {name}")
            conn.execute("BEGIN")
        return conn

    def finish(self, *, copied: bool = False) -> None:
        """Indexes, derived tables, triggers; then the copy, synced to disk, replaces the store. ``copied``: the
        derived tables were written like the others (the bench's floor): only the search index is built."""
        conn = self.conn
        assert conn is not None and self.guard is not None
        with self._or_abort():
            conn.execute("PRAGMA threads=2")  # the index sorts may use a second core
            if copied:
                self._create(name for name, _ in self.indexes)
                fill_search(conn)
            else:
                self._derive(conn)
            for sql in self.triggers:
                conn.execute(sql)
            conn.execute("COMMIT")
            conn.execute("PRAGMA locking_mode=NORMAL")
            conn.execute("PRAGMA journal_mode=WAL")  # the store's mode, recorded in the file's header
            conn.close()
            self.conn = None
            self.guard.rollback()
            self.guard.close()
            self.guard = None
            replace_durably(self.partial, self.path)

    def _create(self, names: Iterable[str]) -> None:
        assert self.conn is not None
        wanted = set(names)
        for name, sql in self.indexes:
            if name in wanted:
                self.conn.execute(sql)

    def _derive(self, conn: sqlite3.Connection) -> None:
        """Every derived table recomputed from orders, assignments and calls (what the triggers and the rollup
        tracker keep up row by row), by the definitions ``check`` verifies them against. The repeat calls first
        (the rollups count them), then the rollups are summed beside the other indexes and the search index."""
        self._create(["ix_calls_phone"])  # the repeat-call rule reads calls by phone
        conn.execute("DELETE FROM kpi_repeats")
        conn.execute(f"INSERT INTO kpi_repeats (order_id, repeat_call_at) {REPEATS_EXPECTED}")
        conn.execute("COMMIT")
        conn.execute("PRAGMA locking_mode=NORMAL")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # gives up the exclusive lock
        rollups = _Rollups(self.partial)
        rollups.read.wait()
        conn.execute("BEGIN")
        self._create(name for name, _ in self.indexes if name != "ix_calls_phone")
        conn.execute("DELETE FROM order_search_docs")
        conn.execute(
            f"INSERT INTO order_search_docs (order_id, call_id) SELECT d.* FROM ({DOCS_EXPECTED}) d "
            "JOIN calls c ON c.id = d.call_id ORDER BY c.received_at, c.id"
        )
        fill_search(conn)
        write_all(conn, rollups.get())

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
