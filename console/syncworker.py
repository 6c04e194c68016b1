"""The console's background sync: :class:`store.sync.SyncLoop` in a daemon thread, its status in the header.

Started by the app when the config file has a ``[sync]`` section with ``server`` and ``token``; without one
the console works exactly as before. The UI thread never waits on the network: the loop runs in its own
thread and hands the header text over with ``call_from_thread``. It is a plain daemon thread rather than a
Textual worker so that quitting never waits for a request to a hanging server to time out (an interrupted
pull is one uncommitted SQLite transaction: nothing half-written survives it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fengqiao.models.errors import FengqiaoError
from fengqiao.store.sync import SyncClient, SyncLoop, SyncReport, SyncStatus

from .commands.sync import make_client, sync_settings
from .config import load_config

if TYPE_CHECKING:
    from .app import FengqiaoApp


class ConsoleSync:
    """One desk's sync loop bound to the running app."""

    def __init__(self, app: FengqiaoApp, settings: dict[str, Any]) -> None:
        self.app = app
        self.settings = settings
        self.loop = SyncLoop(self._client, app.db, app.desk.name, interval=settings["interval"],
                             on_status=self._on_status, clock=app.clock)

    @classmethod
    def from_config(cls, app: FengqiaoApp) -> ConsoleSync | None:
        """Start syncing if the config asks for it; None (and nothing running) otherwise."""
        try:
            settings = sync_settings(load_config())
        except FengqiaoError as exc:
            app.set_sync_text(f"{SyncStatus('error').text()} {exc}")
            return None
        if not settings["server"] or not settings["token"]:
            return None
        sync = cls(app, settings)
        app.set_sync_text(SyncStatus().text())
        sync.loop.start()
        return sync

    def stop(self) -> None:
        self.loop.stop()

    def _client(self) -> SyncClient:
        return make_client(self.app.db, self.app.desk, self.app.clock, self.settings)

    def _on_status(self, status: SyncStatus, report: SyncReport | None) -> None:
        """Called in the sync thread after each round."""
        seq = None
        if report is not None and (report.refused or report.epoch_reset):
            try:  # the projection changed without new events: the store watcher would not notice
                seq = self.app.db.last_event_seq()
            except FengqiaoError:
                seq = None
        try:
            self.app.call_from_thread(self._show, status.text(), status.detail(), seq)
        except RuntimeError:  # the app is shutting down
            self.loop.stop()

    def _show(self, text: str, detail: str | None, seq: int | None) -> None:
        self.app.set_sync_text(text, tooltip=detail)
        if seq is not None:
            from .app import StoreChanged

            self.app.screen.post_message(StoreChanged(seq))
