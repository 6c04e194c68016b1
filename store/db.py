"""The SQLite store: a small pool of sqlite3 connections, explicit transactions, versioned migrations.

* WAL journal, ``synchronous=FULL`` (a committed order survives a power cut), ``foreign_keys=ON`` and a
  busy timeout on every connection.
* The driver's own transaction handling is switched off (``isolation_level=None``); :meth:`Database.write`
  starts every write with ``BEGIN IMMEDIATE`` so two desks writing at once queue instead of silently
  losing an update, and :meth:`Database.read` gives a consistent snapshot.
* The schema version lives in ``PRAGMA user_version``; :mod:`store.migrations` brings an old file up to
  date in one transaction, so a desk that was offline for months upgrades without losing data.
* The store's SQL is written by hand, so it runs on the standard library's ``sqlite3`` through a thin
  :class:`Connection` (``exec_driver_sql`` and the few result methods the store uses; rows read by column name
  too) and :class:`Engine` (a pool: each thread borrows a connection; ``dispose`` closes them). SQLAlchemy costs
  the console a tenth of a second to import and is not needed for that; the sync server keeps it
  (:func:`sqlite_engine`, imported there only).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import platformdirs

from fengqiao.models.errors import StoreError
from fengqiao.models.i18n import t

from . import migrations

if TYPE_CHECKING:
    import sqlalchemy.engine

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


def _sqlite_uri(path: Path | str, readonly: bool) -> str:
    if str(path) == ":memory:":
        return "file::memory:"  # each connection its own empty database
    return f"file:{quote(str(Path(path).absolute()))}{'?mode=ro' if readonly else ''}"


def _configure(dbapi_conn: sqlite3.Connection, busy_ms: int, readonly: bool) -> None:
    """Our settings on a new connection: no implicit transactions, busy timeout, WAL, foreign keys, FULL sync."""
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    if not readonly:
        cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def sqlite_engine(
    path: Path | str, busy_ms: int, *, readonly: bool = False, pool_size: int = 4, max_overflow: int = 8
) -> sqlalchemy.engine.Engine:
    """A SQLAlchemy engine on a SQLite file with the store's settings, for the sync server (server/store.py):
    explicit transactions, ``BEGIN IMMEDIATE`` on connections with the execution option ``fq_write``.

    The path goes to the driver as a URI filename, so that any path works ("?", "#" or "%" in a SQLAlchemy
    URL would cut it short or be decoded). SQLAlchemy is imported here, not by the desk's store.
    """
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import Connection as SAConnection
    from sqlalchemy.pool import QueuePool

    uri = _sqlite_uri(path, readonly)

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=busy_ms / 1000, check_same_thread=False)

    engine = create_engine(
        "sqlite://", creator=connect, poolclass=QueuePool, pool_size=pool_size, max_overflow=max_overflow
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _configure(dbapi_conn, busy_ms, readonly)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: SAConnection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("fq_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


# ---- the desk's store on plain sqlite3 --------------------------------------------------------------------
_ROW_TYPES: dict[tuple[str, ...], Any] = {}
_ROW_LOCK = threading.Lock()


def _row_type(names: tuple[str, ...]) -> Any:
    """A tuple type for rows with these columns: indexed, unpacked and compared as tuples, and read by column
    name (``row.status``, ``row._mapping["status"]``) as SQLAlchemy's rows were."""
    found = _ROW_TYPES.get(names)
    if found is None:
        base = namedtuple("Row", names, rename=True)  # type: ignore[misc]  # "count(*)" becomes _0

        def _mapping(self: tuple[Any, ...]) -> dict[str, Any]:
            return dict(zip(names, self, strict=True))

        found = type("Row", (base,), {"__slots__": (), "_mapping": property(_mapping)})
        with _ROW_LOCK:
            _ROW_TYPES[names] = found
    return found


class Result:
    """What :meth:`Connection.exec_driver_sql` returns: the rows of one statement (the subset of SQLAlchemy's
    ``CursorResult`` the store uses)."""

    __slots__ = ("_cur", "_make")

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur
        desc = cur.description
        self._make: Callable[..., Any] | None = _row_type(tuple(d[0] for d in desc))._make if desc else None

    def _row(self, raw: Any) -> Any:
        return raw if raw is None or self._make is None else self._make(raw)

    def __iter__(self) -> Iterator[Any]:
        make = self._make
        if make is None:
            return iter(())
        return (make(r) for r in self._cur)

    def fetchone(self) -> Any:
        return self._row(self._cur.fetchone())

    def fetchmany(self, size: int) -> list[Any]:
        return [self._row(r) for r in self._cur.fetchmany(size)]

    def all(self) -> list[Any]:
        make = self._make
        return [] if make is None else [make(r) for r in self._cur.fetchall()]

    fetchall = all

    def first(self) -> Any:
        """The first row, or None; the rest are discarded."""
        row = self.fetchone() if self._make is not None else None
        self._cur.close()
        return row

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        row = self._cur.fetchone() if self._make is not None else None
        self._cur.close()
        return None if row is None else row[0]

    def one(self) -> Any:
        rows = self.all()
        if len(rows) != 1:
            raise sqlite3.ProgrammingError(f"expected exactly one row, got {len(rows)}")
        return rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]

    def keys(self) -> list[str]:
        return [d[0] for d in self._cur.description or ()]

    def mappings(self) -> MappingResult:
        names = self.keys()
        return MappingResult([dict(zip(names, r, strict=True)) for r in self._cur.fetchall()] if names else [])

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class MappingResult(list[dict[str, Any]]):
    """Rows as dicts (``Result.mappings()``)."""

    def all(self) -> list[dict[str, Any]]:
        return list(self)

    def first(self) -> dict[str, Any] | None:
        return self[0] if self else None


class _Raw:
    """A borrowed driver connection (``conn.connection.driver_connection``, ``engine.raw_connection()``)."""

    __slots__ = ("_close", "driver_connection")

    def __init__(self, driver: sqlite3.Connection, close: Callable[[], None]) -> None:
        self.driver_connection = driver
        self._close = close

    def close(self) -> None:
        self._close()


class Connection:
    """One borrowed sqlite3 connection: ``exec_driver_sql`` (a list of parameter tuples runs the statement for
    each), ``begin()`` (``BEGIN IMMEDIATE`` with the option ``fq_write``, else ``BEGIN DEFERRED``)."""

    def __init__(self, engine: Engine, raw: sqlite3.Connection) -> None:
        self._engine = engine
        self._raw: sqlite3.Connection | None = raw
        self._options: dict[str, Any] = {}
        # What the store remembers about this sqlite3 connection (a schema looked at once): kept while it lives.
        self.info: dict[str, Any] = engine._infos.setdefault(id(raw), {})

    @property
    def driver(self) -> sqlite3.Connection:
        if self._raw is None:
            raise sqlite3.ProgrammingError("the connection was closed")
        return self._raw

    @property
    def connection(self) -> _Raw:
        return _Raw(self.driver, lambda: None)

    def exec_driver_sql(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> Result:
        raw = self.driver
        if parameters is None:
            return Result(raw.execute(sql))
        if isinstance(parameters, list):
            return Result(raw.executemany(sql, parameters))
        return Result(raw.execute(sql, parameters))

    def execution_options(self, **options: Any) -> Connection:
        self._options.update(options)
        return self

    def get_execution_options(self) -> dict[str, Any]:
        return dict(self._options)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        raw = self.driver
        raw.execute("BEGIN IMMEDIATE" if self._options.get("fq_write") else "BEGIN DEFERRED")
        try:
            yield self
        except BaseException:
            if raw.in_transaction:
                raw.rollback()
            raise
        raw.execute("COMMIT")

    def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            self._engine._give_back(raw)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Engine:
    """The connections of one SQLite file: each ``connect()`` borrows one (a new one when none is free), and up to
    ``pool_size`` are kept open for the next. ``dispose()`` closes the kept ones; those lent out are closed when
    given back. ``on_connect(fn)`` runs ``fn(sqlite3_connection)`` on every connection opened from then on."""

    def __init__(self, path: Path | str, busy_ms: int, *, readonly: bool = False, pool_size: int = 4) -> None:
        self.uri = _sqlite_uri(path, readonly)
        self.busy_ms = busy_ms
        self.readonly = readonly
        self.pool_size = pool_size
        self._free: list[sqlite3.Connection] = []
        self._lent: dict[int, int] = {}  # id(connection) -> the generation it was opened in
        self._infos: dict[int, dict[str, Any]] = {}  # id(connection) -> its Connection.info
        self._generation = 0
        self._hooks: list[Callable[[sqlite3.Connection], None]] = []
        self._lock = threading.Lock()

    def on_connect(self, fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
        self._hooks.append(fn)
        return fn

    def _open(self) -> sqlite3.Connection:
        raw = sqlite3.connect(self.uri, uri=True, timeout=self.busy_ms / 1000, check_same_thread=False)
        try:
            _configure(raw, self.busy_ms, self.readonly)
            for hook in self._hooks:
                hook(raw)
        except BaseException:
            raw.close()
            raise
        return raw

    def _borrow(self) -> sqlite3.Connection:
        with self._lock:
            raw = self._free.pop() if self._free else None
            generation = self._generation
        if raw is None:
            raw = self._open()
        with self._lock:
            self._lent[id(raw)] = generation
        return raw

    def _give_back(self, raw: sqlite3.Connection) -> None:
        try:
            if raw.in_transaction:
                raw.rollback()
        except sqlite3.Error:
            self._close(raw)
            return
        with self._lock:
            generation = self._lent.pop(id(raw), None)
            keep = generation == self._generation and len(self._free) < self.pool_size
            if keep:
                self._free.append(raw)
        if not keep:
            self._close(raw)

    def _close(self, raw: sqlite3.Connection) -> None:
        with self._lock:
            self._lent.pop(id(raw), None)
            self._infos.pop(id(raw), None)
        raw.close()

    def connect(self) -> Connection:
        return Connection(self, self._borrow())

    def raw_connection(self) -> _Raw:
        raw = self._borrow()
        return _Raw(raw, lambda: self._give_back(raw))

    def dispose(self) -> None:
        with self._lock:
            free, self._free = self._free, []
            self._generation += 1
        for raw in free:
            self._close(raw)


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
        return Engine(self.path, self.busy_ms, readonly=self.readonly)

    # ---- transactions --------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any error)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(fq_write=True)
                with conn.begin():
                    yield conn
        except sqlite3.Error as exc:
            raise _explain(exc, self.path, self.busy_ms) from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot of the file."""
        try:
            with self.engine.connect() as conn:
                with conn.begin():
                    yield conn
        except sqlite3.Error as exc:
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
    """The sqlite3 connection under a store connection: plain tuples for bulk reads, PRAGMAs outside a
    transaction."""
    return conn.driver


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


def sync_file(path: Path) -> None:
    """Flush a file's data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(partial: Path, target: Path) -> None:
    """``partial``, synced to disk, renamed over ``target``; the rename made durable too where the platform allows
    it (a backup, a bulk-built store)."""
    sync_file(partial)
    os.replace(partial, target)
    try:
        sync_file(target.parent)
    except OSError:
        pass


def open_db(path: Path | str | None = None, **kwargs: Any) -> Database:
    """Open the desk's database: ``path``, else ``$FENGQIAO_DB``, else the user data dir.

    ``$FENGQIAO_BUSY_MS`` overrides how long a write waits for another program's lock (default 5000 ms).
    """
    kwargs.setdefault("busy_ms", int(os.environ.get("FENGQIAO_BUSY_MS", DEFAULT_BUSY_MS)))
    return Database(path if path is not None else default_db_path(), **kwargs)
