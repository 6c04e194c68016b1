"""Open orders board (issue: open orders board and order lifecycle)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from .base import LocalizedMixin


class BoardScreen(LocalizedMixin, Screen[None]):
    def compose(self) -> ComposeResult:
        yield self.app.make_header()  # type: ignore[attr-defined]
        yield Static("board", id="placeholder")
        yield Footer()
