"""F1 help: every key that works where you are, with what it does, in the desk's language."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from fengqiao.models.i18n import t

from .base import LocalizedMixin


class HelpScreen(LocalizedMixin, ModalScreen[None]):
    """Lists the active bindings of the screen it was opened from (including hidden ones)."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90%; max-width: 100; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen #help-intro { height: auto; margin-bottom: 1; }
    HelpScreen DataTable { height: 1fr; }
    HelpScreen #help-close { height: 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape,f1,q", "dismiss", "help.close", id="help.close"),
    ]

    def __init__(
        self,
        bindings: list[tuple[str, str]],
        widget: list[tuple[str, str]] | None = None,
        extra: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._rows = bindings
        self._widget_rows = widget or []
        self._extra = extra

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = t("help.title")
            yield Static(Text(t("help.intro") + ("\n" + self._extra if self._extra else "")), id="help-intro")
            table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_column(t("help.key"), key="key")
            table.add_column(t("help.action"), key="action")
            for title, rows in ((t("help.section_screen"), self._rows), (t("help.section_widget"), self._widget_rows)):
                if not rows:
                    continue
                table.add_row(Text(""), Text(title, style="bold underline"))
                for key, description in rows:
                    table.add_row(Text(key, style="bold"), Text(description))
            yield table
            yield Static(t("help.close"), id="help-close")
