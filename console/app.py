"""The Textual application: desk header, modes (one screen module each), F1 help, command palette."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from models.clock import Clock, system_clock
from models.i18n import get_lang, set_lang, t
from models.reference import Reference, default_reference
from models.roles import Desk
from screens.base import DeskBar, localize_bindings
from screens.help import HelpScreen
from screens.home import HomeScreen
from store.db import Database
from store.orders import OrderStore


class FengqiaoApp(App[None]):
    """One desk's console over its SQLite store."""

    TITLE = "fengqiao"
    ENABLE_COMMAND_PALETTE = True
    CSS = """
    Screen { background: $background; }
    """

    BINDINGS = [
        Binding("f1", "help", "app.help", id="app.help", priority=True),
        Binding("ctrl+q", "quit", "app.quit", id="app.quit", priority=True),
    ]

    MODES = {"home": HomeScreen}
    DEFAULT_MODE = "home"

    def __init__(self, *, db: Database, desk: Desk, lang: str | None = None, clock: Clock = system_clock,
                 ref: Reference | None = None, caller: str | None = None, **kwargs: Any) -> None:
        if lang:
            set_lang(lang)
        super().__init__(**kwargs)
        localize_bindings(self)
        self.db = db
        self.desk = desk
        self.clock = clock
        self.ref = ref or default_reference()
        self.caller = caller
        self.store = OrderStore(db, ref=self.ref, desk=desk, clock=clock)
        self.lang = get_lang()

    # ---- chrome --------------------------------------------------------------------------------
    def desk_text(self) -> str:
        role = t(f"role.{self.desk.role}") if self.desk.role else t("app.role_none")
        where = self.desk.dept or self.desk.town or ""
        return f"{t('app.desk')}: {self.desk.name} · {role}{(' · ' + where) if where else ''}"

    def make_header(self) -> DeskBar:
        return DeskBar(self.desk_text(), self.clock, id="deskbar")

    def compose(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.title = t("app.title")
        self.sub_title = t("app.subtitle")

    # ---- help and palette ----------------------------------------------------------------------
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        rows: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for key, (_node, binding, enabled, _tip) in self.screen.active_bindings.items():
            if not binding.description or not enabled:
                continue
            row = (self.get_key_display(binding), binding.description)
            if row not in seen:
                seen.add(row)
                rows.append(row)
        self.push_screen(HelpScreen(rows))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand(t("app.help"), t("help.intro"), self.action_help)
        yield from super().get_system_commands(screen)
