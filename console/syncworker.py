"""The console's background sync: :class:`store.sync.SyncLoop` in a daemon thread, its status in the header.

Started by the app when it was given a :class:`SyncSetup` (the command line builds one when the config file
has a ``[sync]`` section with ``server`` and ``token``); without one the console works exactly as before. The
UI thread never waits on the network: the loop runs in its own thread and hands the header text over through
the ``call_from_thread`` callable it was given. It is a plain daemon thread rather than a Textual worker so
that quitting never waits for a request to a hanging server to time out (an interrupted pull is one
uncommitted SQLite transaction: nothing half-written survives it).

This module knows nothing of the app: it reports through plain callbacks (``show`` for the header text,
``changed`` when the projection changed without new events).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fengqiao.models.clock import Clock
from fengqiao.models.errors import FengqiaoError
from fengqiao.store.db import Database

if TYPE_CHECKING:  # the sync client brings httpx and pydantic: imported only when a [sync] server is configured
    from fengqiao.store.sync import SyncClient, SyncReport, SyncStatus


@dataclass(frozen=True)
class SyncSetup:
    """Background sync as the config asks for it: a client factory and the interval, or the config's problem."""

    client: Callable[[], SyncClient] | None = None
    interval: float = 10.0
    error: str | None = None  # the header text when the [sync] settings are bad (nothing runs then)

    @classmethod
    def failed(cls, problem: str) -> SyncSetup:
        from fengqiao.store.sync import SyncStatus

        return cls(error=f"{SyncStatus('error').text()} {problem}")


class ConsoleSync:
    """One desk's sync loop, reporting to the UI thread through callbacks."""

    def __init__(
        self,
        client: Callable[[], SyncClient],
        db: Database,
        desk_name: str,
        *,
        interval: float,
        clock: Clock,
        show: Callable[[str, str | None], None],
        changed: Callable[[int], None],
        call_from_thread: Callable[..., Any],
    ) -> None:
        self.db = db
        self._show_text, self._changed, self._call_from_thread = show, changed, call_from_thread
        from fengqiao.store.sync import SyncLoop

        self.loop = SyncLoop(client, db, desk_name, interval=interval, on_status=self._on_status, clock=clock)

    def start(self) -> None:
        from fengqiao.store.sync import SyncStatus

        self._show_text(SyncStatus().text(), None)
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def _on_status(self, status: SyncStatus, report: SyncReport | None) -> None:
        """Called in the sync thread after each round."""
        seq = None
        if report is not None and (report.refused or report.epoch_reset):
            try:  # the projection changed without new events: the store watcher would not notice
                seq = self.db.last_event_seq()
            except FengqiaoError:
                seq = None
        try:
            self._call_from_thread(self._show, status.text(), status.detail(), seq)
        except RuntimeError:  # the app is shutting down
            self.loop.stop()

    def _show(self, text: str, detail: str | None, seq: int | None) -> None:
        self._show_text(text, detail)
        if seq is not None:
            self._changed(seq)
