"""The Textual application: desk header, modes (one screen module each), F1 help, command palette.

Modes: ``intake`` (call-takers and township centres start here), ``board`` (departments start here) and
``cockpit`` (supervisors start here); F5, F6 and F7 switch between them from anywhere.

The app watches the store once a second from a thread worker (a cheap look at the newest event number) and
posts :class:`StoreChanged` to the active screen when another desk or process has written, so boards and the
cockpit refresh without polling the database themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from fengqiao.models.clock import Clock, system_clock
from fengqiao.models.i18n import get_lang, set_lang, t
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.roles import Desk, Role
from fengqiao.screens.base import DeskBar, describe_binding, localize_bindings
from fengqiao.screens.caller_pop import CallerPopProvider
from fengqiao.screens.board import BoardScreen
from fengqiao.screens.cockpit import CockpitScreen
from fengqiao.screens.help import HelpScreen
from fengqiao.screens.intake import IntakeScreen
from fengqiao.screens.literal import PasteRefused
from fengqiao.store.board import mark_overdue
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore


class StoreChanged(Message):
    """Another write reached the store (this desk's or anyone's). ``seq`` is the newest event number."""

    def __init__(self, seq: int) -> None:
        super().__init__()
        self.seq = seq


OVERDUE_EVERY = 30.0  # seconds between recording first overdue moments (the board flags them live anyway)
HOME_MODE = {None: "intake", Role.CALL_TAKER: "intake", Role.TOWNSHIP: "intake", Role.DEPARTMENT: "board",
             Role.SUPERVISOR: "cockpit"}


class FengqiaoApp(App[None]):
    """One desk's console over its SQLite store."""

    TITLE = "fengqiao"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {CallerPopProvider}  # screen-pop: Ctrl+P, the caller's number, Enter
    CSS = """
    Screen { background: $background; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("f1", "help", "app.help", id="app.help", priority=True),
        Binding("f5", "switch_mode('intake')", "app.mode_intake", id="app.mode_intake", show=False),
        Binding("f6", "switch_mode('board')", "app.mode_board", id="app.mode_board", show=False),
        Binding("f7", "switch_mode('cockpit')", "app.mode_cockpit", id="app.mode_cockpit", show=False),
        Binding("ctrl+q", "quit", "app.quit", id="app.quit", priority=True),
    ]

    MODES: ClassVar[dict[str, Any]] = {"intake": IntakeScreen, "board": BoardScreen, "cockpit": CockpitScreen}
    DEFAULT_MODE = "intake"

    def __init__(self, *, db: Database, desk: Desk, lang: str | None = None, clock: Clock = system_clock,
                 ref: Reference | None = None, caller: str | None = None, watch_store: bool = True,
                 **kwargs: Any) -> None:
        if lang:
            set_lang(lang)
        home = HOME_MODE.get(desk.role, "intake")  # the desk's home screen opens first (if this app has it)
        self.DEFAULT_MODE = home if home in self.MODES else next(iter(self.MODES))
        super().__init__(**kwargs)
        localize_bindings(self)
        self.db = db
        self.desk = desk
        self.clock = clock
        self.ref = ref or default_reference()
        self.caller = caller
        self.store = OrderStore(db, ref=self.ref, desk=desk, clock=clock)
        self.lang = get_lang()
        self._watch_store = watch_store
        self._last_seq: int | None = None
        self.sync_text = ""  # the header's sync status ("" when no sync server is configured)
        self.sync: Any = None  # console.syncworker.ConsoleSync while syncing

    # ---- chrome --------------------------------------------------------------------------------
    def desk_text(self) -> str:
        role = t(f"role.{self.desk.role}") if self.desk.role else t("app.role_none")
        where = self.desk.dept or self.desk.town or ""
        return f"{self.desk.name} · {role}{(' · ' + where) if where else ''}"

    def make_header(self) -> DeskBar:
        bar = DeskBar(self.desk_text(), self.clock, id="deskbar")
        bar.set_reactive(DeskBar.sync_text, self.sync_text)
        return bar

    def set_sync_text(self, text: str, tooltip: str | None = None) -> None:
        self.sync_text = text
        for bar in self.screen.query(DeskBar):
            bar.sync_text = text
            bar.tooltip = tooltip

    def compose(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.title = t("app.title")
        self.sub_title = t("app.subtitle")
        if self._watch_store:
            self.set_interval(1.0, self._poll_store)
            self.set_interval(OVERDUE_EVERY, self._mark_overdue)
            from .syncworker import ConsoleSync

            self.sync = ConsoleSync.from_config(self)  # only with a [sync] server in the config

    def on_unmount(self) -> None:
        if self.sync is not None:
            self.sync.stop()

    # ---- store changes -------------------------------------------------------------------------
    def _poll_store(self) -> None:
        self._check_store()

    @work(thread=True, group="store-watch", exclusive=True, exit_on_error=False)
    def _check_store(self) -> None:
        seq = self.db.last_event_seq()
        if seq != self._last_seq:
            first = self._last_seq is None
            self._last_seq = seq
            if not first:
                self.call_from_thread(self._announce, seq)

    @work(thread=True, group="overdue", exclusive=True, exit_on_error=False)
    def _mark_overdue(self) -> None:
        """Record the first overdue moment of orders whose deadline passed (a projection field, for the KPIs)."""
        mark_overdue(self.db, self.clock())

    def _announce(self, seq: int) -> None:
        self.screen.post_message(StoreChanged(seq))

    def on_paste_refused(self, message: PasteRefused) -> None:
        """A paste too long for its field, on a screen that does not say so itself."""
        self.notify(t("app.paste_too_long", length=message.length, limit=message.limit), severity="warning",
                    timeout=8)

    # ---- help and palette ----------------------------------------------------------------------
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        screen = self.screen
        ours: list[tuple[str, str]] = []  # the screen's and the app's keys first: those are the work
        widget: list[tuple[str, str]] = []  # then the editing and scrolling keys of the widget in focus
        keys: dict[tuple[bool, str], list[str]] = {}  # (ours?, description) -> its keys, in binding order
        for _key, (node, binding, enabled, _tip) in screen.active_bindings.items():
            description = describe_binding(binding)
            if description and enabled:
                shown = keys.setdefault((node is self or node is screen, description), [])
                display = self.get_key_display(binding)
                if display not in shown:
                    shown.append(display)
        for (mine, description), shown in keys.items():
            (ours if mine else widget).append((" / ".join(shown), description))
        self.push_screen(HelpScreen(ours, widget))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand(t("app.help"), t("help.intro"), self.action_help)
        for mode in ("intake", "board", "cockpit"):
            yield SystemCommand(t(f"app.mode_{mode}"), t(f"app.mode_{mode}_help"),
                                lambda m=mode: self.switch_mode(m))
        yield from super().get_system_commands(screen)
