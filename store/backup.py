"""Backups and restores with SQLite's online backup API.

* :func:`backup` copies the live database page by page in one step, inside one read transaction: a
  consistent snapshot while the console (or any desk) keeps writing (WAL readers never block writers). The
  copy is written next to its destination, checked (``PRAGMA integrity_check``), switched to a
  self-contained single file (rollback journal), synced and renamed into place, so a half-written backup
  never carries the final name.
* :func:`restore` checks the backup first (integrity, that it is a fengqiao database this version can open,
  and the hash chains and projection as ``fengqiao check`` does) and refuses to overwrite *newer data*: the
  current store is newer when it holds any event or access-log line that the backup lacks (compared by their
  unique ids, so a backup taken from another desk's copy is judged the same way). ``force`` overrides that
  refusal only. Either way the current file is first saved beside itself (``<name>.before-restore-<time>.db``),
  then the backup is copied into the live file with the same API (safe while other connections have it open)
  and the schema is brought up to date.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fengqiao.models.clock import Clock, from_db, local, system_clock
from fengqiao.models.errors import StoreError
from fengqiao.models.i18n import t

from . import migrations
from .audit import CheckReport, verify
from .db import SQLITE_MAGIC, Database, _explain, replace_durably, sync_file


@dataclass(frozen=True)
class Snapshot:
    """What a database file holds, in numbers a person can compare."""

    path: Path
    size: int
    orders: int
    events: int
    access: int
    newest: str | None  # record time of the newest event (stored UTC text)
    version: int


@dataclass(frozen=True)
class BackupResult:
    snapshot: Snapshot
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    snapshot: Snapshot
    saved_as: Path | None  # where the previous file was kept
    lost_events: int  # events of the previous file the backup did not have (only with force)
    lost_access: int
    seconds: float


def _ro_uri(path: Path) -> str:
    return f"file:{quote(str(path.absolute()))}?mode=ro"


@contextlib.contextmanager
def _sqlite(target: str, path: Path, busy_ms: int, *, uri: bool = False) -> Iterator[sqlite3.Connection]:
    try:
        conn = sqlite3.connect(target, uri=uri, timeout=busy_ms / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise _explain(exc, path, busy_ms) from None
    try:
        yield conn
    except sqlite3.Error as exc:
        raise _explain(exc, path, busy_ms) from None
    finally:
        conn.close()


def snapshot(conn: sqlite3.Connection, path: Path) -> Snapshot:
    """Counts from an open connection (events, orders, access-log lines, newest event)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def scalar(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0] or 0)

    newest = conn.execute("SELECT max(recorded_at) FROM events").fetchone()[0] if "events" in tables else None
    return Snapshot(
        path,
        path.stat().st_size if path.exists() else 0,
        scalar("SELECT count(*) FROM orders") if "orders" in tables else 0,
        scalar("SELECT count(*) FROM events") if "events" in tables else 0,
        scalar("SELECT count(*) FROM access_log") if "access_log" in tables else 0,
        newest,
        scalar("PRAGMA user_version"),
    )


def _stamp(clock: Clock) -> str:
    return local(clock()).strftime("%Y%m%d-%H%M%S")


# ---- backup ------------------------------------------------------------------------------------------


def backup(db: Database, dest: Path, *, force: bool = False, clock: Clock = system_clock) -> BackupResult:
    """Copy ``db`` to ``dest`` (a file, or a directory to put ``fengqiao-<time>.db`` in) while it is in use."""
    started = time.perf_counter()
    dest = Path(dest).expanduser()
    if dest.is_dir():
        dest = dest / f"fengqiao-{_stamp(clock)}.db"
    if dest.absolute() == db.path.absolute() or (dest.exists() and dest.samefile(db.path)):
        raise StoreError(t("audit.backup_onto_itself", path=dest))
    if dest.exists() and not force:
        raise StoreError(t("audit.backup_exists", path=dest))
    if not dest.parent.is_dir():
        raise StoreError(t("audit.backup_no_folder", path=dest.parent))
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        with _sqlite(str(db.path), db.path, db.busy_ms) as src, _sqlite(str(partial), dest, db.busy_ms) as dst:
            src.backup(dst)  # one step: one read transaction over the whole file, writers carry on
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            problems = [r[0] for r in dst.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise StoreError(t("audit.backup_bad_copy", path=dest, detail="; ".join(problems[:3])))
            snap = snapshot(dst, partial)
        replace_durably(partial, dest)
    except OSError as exc:
        raise StoreError(t("audit.backup_failed", path=dest, error=exc.strerror or exc)) from None
    finally:
        for leftover in (partial, partial.with_name(partial.name + "-journal")):
            with contextlib.suppress(OSError):
                leftover.unlink()
    return BackupResult(
        Snapshot(dest, dest.stat().st_size, snap.orders, snap.events, snap.access, snap.newest, snap.version),
        time.perf_counter() - started,
    )


# ---- restore -----------------------------------------------------------------------------------------


def check_backup(path: Path, busy_ms: int = 5000) -> CheckReport:
    """Everything ``fengqiao check`` verifies, on a backup file, without changing it; raises if unusable."""
    path = Path(path).expanduser()
    if not path.exists():
        raise StoreError(t("store.missing", path=path))
    if path.is_dir():
        raise StoreError(t("store.is_dir", path=path))
    with path.open("rb") as fh:
        if fh.read(16) != SQLITE_MAGIC:
            raise StoreError(t("store.not_sqlite", path=path))
    try:
        with _sqlite(_ro_uri(path), path, busy_ms, uri=True) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = int(conn.execute("PRAGMA user_version").fetchone()[0] or 0)
            app = conn.execute("SELECT value FROM meta WHERE key = 'app'").fetchone() if "meta" in tables else None
    except StoreError as exc:  # e.g. damaged beyond reading its schema
        raise StoreError(t("audit.restore_bad_backup", path=path, count=1, first=str(exc))) from None
    if app is None or app[0] != migrations.APP_ID:
        raise StoreError(t("store.not_ours", path=path))
    if version > migrations.head():
        raise StoreError(t("store.too_new", path=path, version=version, supported=migrations.head()))
    source = Database(path, readonly=True, busy_ms=busy_ms)
    try:
        return verify(source)
    finally:
        source.close()


@dataclass(frozen=True)
class _Missing:
    events: int
    access: int
    newest: str | None
    order_no: str | None


def _missing_from(current: Path, source: Path, busy_ms: int) -> _Missing:
    """What ``current`` holds that ``source`` lacks (by event and access-log ids)."""
    with _sqlite(_ro_uri(current), current, busy_ms, uri=True) as conn:
        conn.execute("ATTACH DATABASE ? AS b", (_ro_uri(source),))
        tables = {r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")}
        b_tables = {r[0] for r in conn.execute("SELECT name FROM b.sqlite_master WHERE type = 'table'")}
        events, newest, order_no = 0, None, None
        if "events" in tables:
            row = conn.execute(
                "SELECT count(*), max(e.recorded_at) FROM main.events e "
                "WHERE NOT EXISTS (SELECT 1 FROM b.events x WHERE x.id = e.id)"
            ).fetchone()
            events, newest = int(row[0]), row[1]
            if events:
                hit = conn.execute(
                    "SELECT o.order_no FROM main.events e LEFT JOIN main.orders o ON o.id = e.order_id "
                    "WHERE NOT EXISTS (SELECT 1 FROM b.events x WHERE x.id = e.id) "
                    "ORDER BY e.recorded_at DESC LIMIT 1"
                ).fetchone()
                order_no = hit[0] if hit else None
        access = 0
        if "access_log" in tables:
            sql = "SELECT count(*) FROM main.access_log a"
            if "access_log" in b_tables:
                sql += " WHERE NOT EXISTS (SELECT 1 FROM b.access_log x WHERE x.id = a.id)"
            access = int(conn.execute(sql).fetchone()[0])
    return _Missing(events, access, newest, order_no)


def _readable(path: Path, busy_ms: int) -> str | None:
    """None if ``path`` is a sound fengqiao database; else why not (in words)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
        if head and head != SQLITE_MAGIC:
            return t("store.not_sqlite", path=path)
        if not head:
            return None
        with _sqlite(_ro_uri(path), path, busy_ms, uri=True) as conn:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        return None if rows == ["ok"] else t("store.corrupt", path=path)
    except (OSError, StoreError) as exc:
        return str(exc)


def restore(
    db_path: Path, source: Path, *, force: bool = False, busy_ms: int = 5000, clock: Clock = system_clock
) -> RestoreResult:
    """Replace the database at ``db_path`` with the backup ``source`` (see the module docstring)."""
    started = time.perf_counter()
    db_path, source = Path(db_path).expanduser(), Path(source).expanduser()
    if db_path.exists() and source.exists() and db_path.samefile(source):
        raise StoreError(t("audit.restore_onto_itself", path=source))
    report = check_backup(source, busy_ms)
    if not report.ok:
        raise StoreError(
            t("audit.restore_bad_backup", path=source, count=len(report.faults), first=report.faults[0].message)
        )
    saved_as: Path | None = None
    missing = _Missing(0, 0, None, None)
    has_data = db_path.exists() and db_path.stat().st_size > 0
    if has_data:
        saved_as = db_path.with_name(f"{db_path.name}.before-restore-{_stamp(clock)}.db")
        problem = _readable(db_path, busy_ms)
        if problem is not None:
            if not force:
                raise StoreError(t("audit.restore_current_unreadable", problem=problem, saved=saved_as))
        else:
            missing = _missing_from(db_path, source, busy_ms)
            if (missing.events or missing.access) and not force:
                newest = local(from_db(missing.newest)).strftime("%Y-%m-%d %H:%M") if missing.newest else "-"
                what = [t("audit.n_events", count=missing.events)] if missing.events else []
                what += [t("audit.n_access", count=missing.access)] if missing.access else []
                newest_part = t("audit.newest", at=newest, order_no=missing.order_no or "-") if missing.events else ""
                raise StoreError(
                    t("audit.restore_newer", what=t("audit.and").join(what), newest=newest_part, saved=saved_as)
                )
        _save_aside(db_path, saved_as, busy_ms, readable=problem is None)
        if problem is not None:  # nothing in it can be read: start from an empty file (it is saved aside)
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(str(db_path) + suffix).unlink()
    with _sqlite(_ro_uri(source), source, busy_ms, uri=True) as src, _sqlite(str(db_path), db_path, busy_ms) as dst:
        src.backup(dst)
    restored = Database(db_path, busy_ms=busy_ms)  # brings an older backup's schema up to date
    try:
        with _sqlite(_ro_uri(db_path), db_path, busy_ms, uri=True) as conn:
            snap = snapshot(conn, db_path)
    finally:
        restored.close()
    return RestoreResult(snap, saved_as, missing.events, missing.access, time.perf_counter() - started)


def _save_aside(db_path: Path, saved_as: Path, busy_ms: int, *, readable: bool) -> None:
    """Keep the file about to be replaced: an online copy if it is sound, its bytes (and WAL) if not."""
    try:
        if readable:
            with _sqlite(str(db_path), db_path, busy_ms) as src, _sqlite(str(saved_as), saved_as, busy_ms) as dst:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")
        else:
            for suffix in ("", "-wal"):
                part = Path(str(db_path) + suffix)
                if part.exists():
                    shutil.copyfile(part, Path(str(saved_as) + suffix))
        sync_file(saved_as)
    except OSError as exc:
        raise StoreError(t("audit.backup_failed", path=saved_as, error=exc.strerror or exc)) from None
