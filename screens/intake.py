"""Call intake: the call-taker's home screen (issue: call intake)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from models.i18n import t

from .base import LocalizedMixin


class IntakeScreen(LocalizedMixin, Screen[None]):
    def compose(self) -> ComposeResult:
        yield self.app.make_header()  # type: ignore[attr-defined]
        yield Static(t("home.placeholder"), id="placeholder")
        yield Footer()
