"""The SQLite store: one engine factory, explicit transactions, versioned migrations.

* WAL journal, ``synchronous=FULL`` (a committed order survives a power cut), ``foreign_keys=ON`` and a
  busy timeout on every connection.
* The driver's own transaction handling is switched off (``isolation_level=None``); :meth:`Database.write`
  starts every write with ``BEGIN IMMEDIATE`` so two desks writing at once queue instead of silently
  losing an update, and :meth:`Database.read` gives a consistent snapshot.
* The schema version lives in ``PRAGMA user_version``; :mod:`store.migrations` brings an old file up to
  date in one transaction, so a desk that was offline for months upgrades without losing data.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import platformdirs
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from fengqiao.models.errors import StoreError
from fengqiao.models.i18n import t

from . import migrations

APP_ID = "fengqiao"
DEFAULT_BUSY_MS = 5000
SQLITE_MAGIC = b"SQLite format 3\x00"


def default_db_path() -> Path:
    """``$FENGQIAO_DB`` if set, else ``fengqiao.db`` in the platform's user data directory."""
    env = os.environ.get("FENGQIAO_DB")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_ID, appauthor=False)) / "fengqiao.db"


# SQLite result codes (the low byte of an extended code): https://sqlite.org/rescode.html
_BUSY, _LOCKED, _READONLY, _PERM = 5, 6, 8, 3
_IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 10, 11, 13, 14, 26
_CODE_KEYS = {
    _BUSY: "store.locked",
    _LOCKED: "store.locked",
    _READONLY: "store.readonly",
    _PERM: "store.readonly",
    _FULL: "store.full",
    _NOTADB: "store.not_sqlite",
    _CORRUPT: "store.corrupt",
    _CANTOPEN: "store.cannot_open",
    _IOERR: "store.io_error",
}


def _writable(path: Path) -> bool:
    """Whether this process may write ``path`` and create files beside it (SQLite's -wal and -shm)."""
    folder = path.parent if str(path.parent) else Path(".")
    return os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def _explain(exc: BaseException, path: Path, busy_ms: int) -> StoreError:
    """Turn a driver error into one plain sentence (by SQLite's result code; by its message as a fallback)."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    key = _CODE_KEYS.get(code & 0xFF) if isinstance(code, int) else None
    text = str(orig).lower()
    if key is None:
        if "locked" in text or "busy" in text:
            key = "store.locked"
        elif "readonly" in text or "read-only" in text or "attempt to write" in text:
            key = "store.readonly"
        elif "disk is full" in text or "no space" in text:
            key = "store.full"
        elif "not a database" in text or "file is encrypted" in text:
            key = "store.not_sqlite"
        elif "malformed" in text or "corrupt" in text:
            key = "store.corrupt"
        elif "unable to open" in text:
            key = "store.cannot_open"
    if key in ("store.cannot_open", "store.readonly") and not _writable(path):
        key = "store.readonly_dir"  # e.g. a WAL-mode file whose folder cannot take its -wal/-shm companions
    if key is None:
        return StoreError(t("store.error", path=path, error=str(orig)))
    return StoreError(t(key, path=path, seconds=busy_ms / 1000, error=str(orig)))


def sqlite_engine(
    path: Path | str, busy_ms: int, *, readonly: bool = False, pool_size: int = 4, max_overflow: int = 8
) -> Engine:
    """An engine on a SQLite file with our settings (WAL, ``synchronous=FULL``, foreign keys, busy timeout) and
    explicit transactions: ``BEGIN IMMEDIATE`` on connections with the execution option ``fq_write``.

    The path goes to the driver as a URI filename, so that any path works ("?", "#" or "%" in a SQLAlchemy
    URL would cut it short or be decoded).
    """
    uri = f"file:{quote(str(Path(path).absolute()))}{'?mode=ro' if readonly else ''}"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=busy_ms / 1000, check_same_thread=False)

    engine = create_engine(
        "sqlite://", creator=connect, poolclass=QueuePool, pool_size=pool_size, max_overflow=max_overflow
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        if not readonly:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("fq_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class Database:
    """A desk's SQLite file. Thread-safe: each thread borrows its own connection from the pool."""

    def __init__(
        self,
        path: Path | str,
        *,
        busy_ms: int = DEFAULT_BUSY_MS,
        create: bool = True,
        migrate: bool = True,
        readonly: bool = False,
    ) -> None:
        """``readonly`` opens an existing file without changing it in any way (no migration, no journal-mode
        switch): for ``fengqiao check`` and for looking into a backup."""
        self.path = Path(path).expanduser()
        self.busy_ms = busy_ms
        if readonly:
            create = migrate = False
        elif self.path.is_file() and not _writable(self.path):
            readonly = True  # read-only file or folder (a backup on a write-protected stick): reads still work,
            #                  a write says plainly that the file is read-only
        self.readonly = readonly
        self._check_file(create)
        self.engine = self._make_engine()
        if migrate:
            try:
                self.migrate()
            except BaseException:
                self.engine.dispose()
                raise

    # ---- opening -------------------------------------------------------------------------------
    def _check_file(self, create: bool) -> None:
        path = self.path
        if path.is_dir():
            raise StoreError(t("store.is_dir", path=path))
        if path.exists():
            try:
                with path.open("rb") as fh:
                    head = fh.read(16)
            except PermissionError:
                raise StoreError(t("store.cannot_read", path=path)) from None
            if head and head != SQLITE_MAGIC:
                raise StoreError(t("store.not_sqlite", path=path))
        elif not create:
            raise StoreError(t("store.missing", path=path))
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(t("store.cannot_create", path=path, error=exc.strerror or exc)) from None

    def _make_engine(self) -> Engine:
        return sqlite_engine(self.path, self.busy_ms, readonly=self.readonly)

    # ---- transactions --------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any error)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(fq_write=True)
                with conn.begin():
                    yield conn
        except (DBAPIError, sqlite3.Error) as exc:
            raise _explain(exc, self.path, self.busy_ms) from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot of the file."""
        try:
            with self.engine.connect() as conn:
                with conn.begin():
                    yield conn
        except (DBAPIError, sqlite3.Error) as exc:
            raise _explain(exc, self.path, self.busy_ms) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- schema --------------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self.read() as conn:
            return int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)

    def migrate(self) -> int:
        """Bring the schema up to date; return the version reached.

        A file that is already current is only read (no write lock: opening stays cheap and a read-only
        file can still be looked at); the upgrade itself runs in one ``BEGIN IMMEDIATE`` transaction.
        """
        with self.read() as conn:
            if migrations.is_current(conn):
                return migrations.head()
        with self.write() as conn:
            return migrations.upgrade(conn, self.path)

    def checkpoint(self) -> None:
        """Fold the WAL back into the main file (outside any transaction), e.g. before copying it."""
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert isinstance(driver, sqlite3.Connection), driver
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise _explain(exc, self.path, self.busy_ms) from None
        finally:
            raw.close()

    def last_event_seq(self) -> int:
        """The newest local event number: a cheap token that changes whenever anything is written."""
        with self.read() as conn:
            return int(conn.exec_driver_sql("SELECT coalesce(max(seq), 0) FROM events").scalar() or 0)

    def meta(self, key: str) -> str | None:
        with self.read() as conn:
            return get_meta(conn, key)


def raw_sqlite(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLAlchemy one: plain tuples for bulk reads, PRAGMAs outside a transaction."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection), raw
    return raw


def get_meta(conn: Connection, key: str) -> str | None:
    """A value of the ``meta`` table (None when absent)."""
    row = conn.exec_driver_sql("SELECT value FROM meta WHERE key = ?", (key,)).first()
    return None if row is None else str(row[0])


def set_meta(conn: Connection, key: str, value: str | int | None) -> None:
    """Set (or with None delete) a value of the ``meta`` table."""
    if value is None:
        conn.exec_driver_sql("DELETE FROM meta WHERE key = ?", (key,))
    else:
        conn.exec_driver_sql(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )


def open_db(path: Path | str | None = None, **kwargs: Any) -> Database:
    """Open the desk's database: ``path``, else ``$FENGQIAO_DB``, else the user data dir.

    ``$FENGQIAO_BUSY_MS`` overrides how long a write waits for another program's lock (default 5000 ms).
    """
    kwargs.setdefault("busy_ms", int(os.environ.get("FENGQIAO_BUSY_MS", DEFAULT_BUSY_MS)))
    return Database(path if path is not None else default_db_path(), **kwargs)
