"""The multi-line field of :mod:`screens.literal` (the intake's description): control characters shown as visible
symbols, a paste over ``max_length`` refused whole. A module of its own: Textual's TextArea is not imported by the
one-line fields (the sign-in, the console's first frame, has only those)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.widgets import TextArea

from fengqiao.models.text import glyphs

from .messages import PasteRefused


class LiteralTextArea(TextArea):
    """A multi-line field whose control characters are shown as visible symbols; ``max_length`` for pastes."""

    def __init__(self, *args: Any, max_length: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_length = max_length

    def get_line(self, line_index: int) -> Text:
        return Text(glyphs(self.document.get_line(line_index), keep_tab=True), end="", no_wrap=True)

    async def _on_paste(self, event: events.Paste) -> None:
        if self.read_only or not self.max_length:
            return
        length = len(self.text) - len(self.selected_text) + len(event.text)
        if length > self.max_length:
            event.prevent_default()
            event.stop()
            self.post_message(PasteRefused(self, len(event.text), self.max_length))
