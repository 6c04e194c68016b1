"""``fengqiao dashboard``: the console opened straight into the cockpit, read-only.

For supervisors watching the big screen or over SSH. The app is the normal one with only the cockpit mode
(F5/F6 and their palette commands are gone) and its database connections are read-only
(``PRAGMA query_only``): a bug or a stray key cannot change the store from here.

Callers' numbers are masked. A supervisor desk (``--role supervisor`` or the config file's desk) may show them
in full (``--unmasked`` at start, or ``u``); the cockpit records every number it shows in full to the access
log first, through a second connection that is used for nothing else (``access_db``).

The differences are the desk context's (``read_only``, ``start_unmasked``, ``access_db``, the weights given on
the command line), not attributes the screens look for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import SystemCommand
from textual.screen import Screen

from fengqiao.models.clock import Clock, system_clock
from fengqiao.models.desk import Desk
from fengqiao.models.i18n import t
from fengqiao.models.kpi import DEFAULT_WEIGHTS, Weights
from fengqiao.models.reference import Reference
from fengqiao.screens.cockpit import CockpitScreen
from fengqiao.screens.context import DeskContext
from fengqiao.store.db import Database
from fengqiao.store.kpi import Live

from .app import FengqiaoApp, desk_context

if TYPE_CHECKING:
    from .syncworker import SyncSetup


def make_read_only(db: Database) -> None:
    """Every connection of ``db`` refuses writes from now on."""

    @db.engine.on_connect
    def _query_only(dbapi_conn: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=ON")

    db.engine.dispose()  # connections opened before (migrations) are closed and reopened read-only


class DashboardApp(FengqiaoApp):
    """The cockpit alone, read-only."""

    MODES: ClassVar[dict[str, Any]] = {"cockpit": CockpitScreen}

    def __init__(
        self,
        ctx: DeskContext | None = None,
        *,
        db: Database | None = None,
        desk: Desk | None = None,
        lang: str | None = None,
        clock: Clock = system_clock,
        ref: Reference | None = None,
        weights: Weights = DEFAULT_WEIGHTS,
        unmasked: bool = False,
        access_db: Database | None = None,
        **kwargs: Any,
    ) -> None:
        """``ctx`` from :func:`dashboard_context`; or ``db``, ``desk`` and the rest to build it here."""
        if ctx is None:
            if db is None or desk is None:
                raise TypeError("DashboardApp needs a DeskContext or db and desk")
            ctx = dashboard_context(
                db, desk, lang=lang, clock=clock, ref=ref, weights=weights, unmasked=unmasked, access_db=access_db
            )
        super().__init__(ctx, **kwargs)  # whatever the desk's role, the cockpit (the only mode here) opens

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch_mode" and parameters and parameters[0] != "cockpit":
            return False
        return super().check_action(action, parameters)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title in {t("app.mode_intake"), t("app.mode_board")}:
                continue
            yield command


def dashboard_context(
    db: Database,
    desk: Desk,
    *,
    lang: str | None = None,
    clock: Clock = system_clock,
    ref: Reference | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
    unmasked: bool = False,
    access_db: Database | None = None,
) -> DeskContext:
    """The dashboard's desk context: read-only, its weights given, full numbers from the start if asked for."""
    return desk_context(
        db,
        desk,
        clock=clock,
        ref=ref,
        lang=lang,
        weights=weights,
        read_only=True,
        unmasked=unmasked,
        access_db=access_db,
    )  # access_db writes the access log only


def read_ahead(ctx: DeskContext) -> Future[Live]:
    """Today's figures, read in a thread from now on: SQLite lets the query run while Textual starts, and the
    cockpit draws them in its first frame (screens/cockpit.py, ``live_ahead``)."""
    ahead: Future[Live] = Future()

    def read() -> None:
        try:
            ahead.set_result(ctx.kpi.live())
        except BaseException as exc:  # noqa: BLE001 - handed to the cockpit, which reads again and says it
            ahead.set_exception(exc)

    threading.Thread(target=read, name="cockpit-first-live", daemon=True).start()
    return ahead


def run_dashboard(
    db: Database,
    desk: Desk,
    *,
    lang: str,
    weights: Weights,
    unmasked: bool = False,
    access_db: Database | None = None,
    sync: SyncSetup | None = None,
) -> None:
    """Open the read-only cockpit on ``db``; ``access_db`` (a supervisor's) records full-number views."""
    make_read_only(db)
    try:
        ctx = dashboard_context(db, desk, lang=lang, weights=weights, unmasked=unmasked, access_db=access_db)
        DashboardApp(replace(ctx, live_ahead=read_ahead(ctx)), sync=sync).run()
    finally:
        db.close()
        if access_db is not None:
            access_db.close()
