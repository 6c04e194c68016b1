"""Sync on a timer in a thread, and the status line the console's header shows."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fengqiao.models.backoff import Backoff
from fengqiao.models.clock import Clock, fmt_local, from_db_opt, system_clock
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import t

from ..db import Database
from .client import SyncClient, SyncReport
from .errors import SyncError, SyncUnavailable
from .log import META_LAST_OK, DeskLog

log = logging.getLogger("fengqiao.sync")


@dataclass
class SyncStatus:
    """What the header shows: online or not, how many events wait, when the last sync succeeded."""

    state: str = "idle"  # idle | online | offline | error
    waiting: int = 0
    last_ok: datetime | None = None
    error: str | None = None
    conflicts: int = 0
    refused: int = 0
    retry_in: float | None = None

    def detail(self) -> str:
        """The header's tooltip: the error if any, else when the last sync succeeded."""
        when = fmt_local(self.last_ok, seconds=True) if self.last_ok else "--"
        return self.error or t("sync.last_ok_full", time=when)

    def text(self) -> str:
        """The header's few cells: state, events waiting, and the last good sync when not online."""
        parts = [t(f"sync.state_{self.state}"), t("sync.waiting_n", n=self.waiting)]
        if self.state != "online":  # online, it is the minute the clock beside it shows
            parts.append(t("sync.last_ok", time=fmt_local(self.last_ok, date=False) if self.last_ok else "--:--"))
        if self.conflicts:
            parts.append(t("sync.conflicts_n", n=self.conflicts))
        if self.refused:
            parts.append(t("sync.refused_n", n=self.refused))
        return " ".join(parts)


class SyncLoop:
    """Sync on a timer until stopped: every ``interval`` seconds, sooner when this desk has written, later
    (backoff) while the server is unreachable. Runs in its own thread; reports through ``on_status``."""

    def __init__(
        self,
        make_client: Callable[[], SyncClient],
        db: Database,
        me: str,
        *,
        interval: float = 10.0,
        on_status: Callable[[SyncStatus, SyncReport | None], None] | None = None,
        backoff: Backoff | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.make_client = make_client
        self.log = DeskLog(db)
        self.me = me
        self.interval = interval
        self.on_status = on_status
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.stop_event = threading.Event()
        self.status = SyncStatus()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="fengqiao-sync", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 0.0) -> None:
        self.stop_event.set()
        if self._thread is not None and wait:
            self._thread.join(timeout=wait)

    def run_once(self, client: SyncClient) -> float:
        """One round; returns how long to wait before the next."""
        report = None
        try:
            report = client.sync_once()
            self.backoff.reset()
            self.status = SyncStatus("online", report.waiting, self.clock(), "; ".join(report.problems) or None)
            delay = self.interval
        except SyncUnavailable as exc:
            delay = self.backoff.next()
            self.status = SyncStatus("offline", self._waiting(), self._last_ok(), str(exc), retry_in=delay)
        except SyncError as exc:
            delay = max(self.interval, self.backoff.next())
            self.status = SyncStatus("error", self._waiting(), self._last_ok(), str(exc), retry_in=delay)
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the loop; it is logged
            log.exception("sync round failed")
            delay = max(self.interval, self.backoff.next())
            self.status = SyncStatus(
                "error", self._waiting(), self._last_ok(), f"{type(exc).__name__}: {exc}", retry_in=delay
            )
        try:
            counts = self.log.counts()
            self.status.conflicts = counts.get("conflict", 0) + counts.get("quarantined", 0)  # both for a person
            self.status.refused = counts.get("refused", 0)
        except FengqiaoError:
            pass
        if self.on_status:
            self.on_status(self.status, report)
        return delay

    def _waiting(self) -> int:
        try:
            return self.log.waiting(self.me)
        except FengqiaoError:
            return self.status.waiting

    def _last_ok(self) -> datetime | None:
        try:
            return from_db_opt(self.log.meta(META_LAST_OK))
        except FengqiaoError:
            return None

    def run(self) -> None:
        client = self.make_client()
        try:
            while not self.stop_event.is_set():
                delay = self.run_once(client)
                waited, seen = 0.0, self._waiting()
                while waited < delay and not self.stop_event.is_set():
                    self.stop_event.wait(min(1.0, delay - waited))
                    waited += 1.0
                    if self.status.state == "online" and self._waiting() > seen:
                        break  # this desk wrote something: push it now
        finally:
            try:
                client.transport.close()
            except Exception:  # noqa: BLE001
                pass
