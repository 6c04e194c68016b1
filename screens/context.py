"""The desk context: everything a screen needs to know about the desk it runs on, typed and read-only.

Built once by the console (``fengqiao.console.app.desk_context``) from the configuration the command line
parsed, and handed to the app; screens read it as ``self.ctx`` (:class:`DeskMixin`) and never look at the
config file, the environment or untyped app attributes themselves. The read-only dashboard is the same app
with another context (``read_only=True``, its own access-log writer, maybe ``start_unmasked``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import TYPE_CHECKING, Protocol

from fengqiao.models.alerts import DEFAULT_NIGHT
from fengqiao.models.clock import Clock
from fengqiao.models.kpi import DEFAULT_WEIGHTS, Weights
from fengqiao.models.reference import Reference
from fengqiao.models.roles import Desk
from fengqiao.store.db import Database
from fengqiao.store.governance import GovernanceStore
from fengqiao.store.kpi import KpiStore
from fengqiao.store.orders import OrderStore

if TYPE_CHECKING:
    from .base import DeskBar


@dataclass(frozen=True)
class DeskContext:
    """One desk's settings and stores for the whole session."""

    db: Database
    desk: Desk
    ref: Reference
    clock: Clock
    lang: str
    store: OrderStore  # orders: intake, actions, detail
    kpi: KpiStore  # the cockpit's figures, with the configured score weights
    kpi_weights: Weights = DEFAULT_WEIGHTS
    kpi_problem: str | None = None  # the config's [kpi] section was bad: the defaults are used, the cockpit says so
    caller: str | None = None  # a caller's number to fill in on the intake screen at start (screen-pop)
    read_only: bool = False  # the dashboard: the store's connections refuse writes
    start_unmasked: bool = False  # the dashboard's --unmasked: full numbers from the start, each recorded first
    access_db: Database | None = None  # the dashboard's separate writer for the access log (else ``db``)
    bell: str = "on"  # the terminal bell for what needs someone: on | off | day (models.alerts)
    night: tuple[time, time] = DEFAULT_NIGHT  # the night hours for bell = "day"
    sign_in: bool = False  # the console asks who is on shift before anything else (fengqiao run)
    pin_required: bool = False  # ... with a PIN (the config's [desk] pin = true)

    def governance(self) -> GovernanceStore:
        """Risk warnings and cases, as this desk sees them (the same desk, clock and rules as the orders)."""
        return GovernanceStore(self.db, ref=self.ref, desk=self.store.desk, clock=self.clock, rules=self.store.rules)

    @property
    def access_log_db(self) -> Database:
        """Where full-number views are recorded."""
        return self.access_db or self.db


class DeskApp(Protocol):
    """What screens may rely on in their app besides Textual's own: the context and the desk header."""

    @property
    def ctx(self) -> DeskContext: ...

    def make_header(self) -> DeskBar: ...


class DeskMixin:
    """Mix into a Screen (or a widget on one) to reach the desk context as ``self.ctx``."""

    @property
    def desk_app(self) -> DeskApp:
        return self.app  # type: ignore[attr-defined]

    @property
    def ctx(self) -> DeskContext:
        return self.desk_app.ctx
