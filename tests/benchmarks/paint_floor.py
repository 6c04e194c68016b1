"""The floor of the first-paint benchmark: a bare Textual app with a Header, an Input and a Footer.

``python tests/benchmarks/paint_floor.py TEXT`` shows TEXT in the Input (as the console shows a caller's number in
its phone field) and runs until killed. Nothing else is imported: this is what any Textual console costs.
"""

from __future__ import annotations

import sys

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Input


class Floor(App[None]):
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(value=sys.argv[1] if len(sys.argv) > 1 else "13857512345")
        yield Footer()


if __name__ == "__main__":
    Floor().run()
