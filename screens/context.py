"""The desk context: everything a screen needs to know about the desk it runs on, typed and read-only.

Built once by the console (``fengqiao.console.app.desk_context``) from the configuration the command line
parsed, and handed to the app; screens read it as ``self.ctx`` (:class:`DeskMixin`) and never look at the
config file, the environment or untyped app attributes themselves. The read-only dashboard is the same app
with another context (``read_only=True``, its own access-log writer, maybe ``start_unmasked``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import time
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from fengqiao.models.alerts import DEFAULT_NIGHT
from fengqiao.models.clock import Clock
from fengqiao.models.desk import Desk
from fengqiao.models.reference import Reference
from fengqiao.store.db import Database

if TYPE_CHECKING:
    from fengqiao.models.governance import WarningRules
    from fengqiao.models.kpi import Weights
    from fengqiao.store.governance import GovernanceStore
    from fengqiao.store.kpi import KpiStore, Live
    from fengqiao.store.orders import OrderStore

    from .base import DeskBar

T = TypeVar("T")


class Lazy(Generic[T]):
    """A value made on first use (once, also when two worker threads ask at the same moment) and then kept: the
    context's stores, whose modules the console's first frame does without."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make: Callable[[], T] | None = make
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        if self._make is not None:
            with self._lock:
                if self._make is not None:
                    self._value, self._make = self._make(), None
        return self._value  # type: ignore[return-value]  # made above


@dataclass(frozen=True)
class DeskContext:
    """One desk's settings and stores for the whole session. The stores (and the KPI weights, read from the
    config) are made when a screen first needs them, and shared by every copy of the context."""

    db: Database
    desk: Desk
    ref: Reference
    clock: Clock
    lang: str
    rules: Lazy[WarningRules]  # the risk-warning rules (the config's [warnings]), for orders and governance alike
    orders: Lazy[OrderStore]  # orders: intake, actions, detail (``store``)
    kpis: Lazy[tuple[KpiStore, str | None]]  # the cockpit's figures, with the configured score weights, and the
    # config's [kpi] problem (bad: the defaults are used, the cockpit says so)
    caller: str | None = None  # a caller's number to fill in on the intake screen at start (screen-pop)
    read_only: bool = False  # the dashboard: the store's connections refuse writes
    start_unmasked: bool = False  # the dashboard's --unmasked: full numbers from the start, each recorded first
    access_db: Database | None = None  # the dashboard's separate writer for the access log (else ``db``)
    bell: str = "on"  # the terminal bell for what needs someone: on | off | day (models.alerts)
    night: tuple[time, time] = DEFAULT_NIGHT  # the night hours for bell = "day"
    sign_in: bool = False  # the console asks who is on shift before anything else (fengqiao run)
    pin_required: bool = False  # ... with a PIN (the config's [desk] pin = true)
    live_ahead: Future[Live] | None = None  # the dashboard's first live figures, read while the app starts

    @property
    def store(self) -> OrderStore:
        return self.orders.get()

    @property
    def kpi(self) -> KpiStore:
        return self.kpis.get()[0]

    @property
    def kpi_weights(self) -> Weights:
        return self.kpi.weights

    @property
    def kpi_problem(self) -> str | None:
        return self.kpis.get()[1]

    def governance(self) -> GovernanceStore:
        """Risk warnings and cases, as this desk sees them (the same desk, clock and rules as the orders)."""
        from fengqiao.store.governance import GovernanceStore

        return GovernanceStore(self.db, ref=self.ref, desk=self.desk, clock=self.clock, rules=self.rules.get())

    @property
    def access_log_db(self) -> Database:
        """Where full-number views are recorded."""
        return self.access_db or self.db


class DeskApp(Protocol):
    """What screens may rely on in their app besides Textual's own: the context and the desk header."""

    @property
    def ctx(self) -> DeskContext: ...

    def make_header(self) -> DeskBar: ...

    @property
    def painted(self) -> bool: ...

    def after_first_paint(self, callback: Callable[[], object]) -> None: ...


class DeskMixin:
    """Mix into a Screen (or a widget on one) to reach the desk context as ``self.ctx``."""

    @property
    def desk_app(self) -> DeskApp:
        return self.app  # type: ignore[attr-defined]

    @property
    def ctx(self) -> DeskContext:
        return self.desk_app.ctx
