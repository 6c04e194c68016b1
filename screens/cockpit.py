"""Cockpit (驾驶舱) for supervisors (issue: cockpit and the five KPIs)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from .base import LocalizedMixin


class CockpitScreen(LocalizedMixin, Screen[None]):
    def compose(self) -> ComposeResult:
        yield self.app.make_header()  # type: ignore[attr-defined]
        yield Static("cockpit", id="placeholder")
        yield Footer()
