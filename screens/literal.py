"""Text fields that show what is in them literally, and refuse a paste that would not fit with one message.

Textual's own ``Input`` and ``TextArea`` write their value to the terminal as it is, stripping only BEL, BS,
VT, FF and CR. A terminal paste brings bidirectional overrides (which reorder what is shown) and DEL into a
field, and a value set by the program (a screen-pop, a default taken from stored text) can hold ESC or a
one-byte CSI (U+009B) that would clear the screen or retitle the window. These subclasses draw each control
character as one visible symbol (``models.text.glyphs``: ``␛``, ``␀``, ``�``), so positions and the cursor
stay where they were; the value — what is validated and stored — is exactly what was typed or pasted.

A paste that would take the field over its limit is refused whole: the field keeps what it had and the
widget posts :class:`PasteRefused` (the screen says how long the paste was and what the limit is). Textual's
Input would otherwise refuse it silently with a bell, and a TextArea would take 100 KB without a word.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import Input

from fengqiao.models.text import glyphs

from .messages import PasteRefused

__all__ = ["LiteralInput", "PasteRefused"]  # LiteralTextArea: screens/literal_area.py


class LiteralInput(Input):
    """A one-line field whose control characters are shown as visible symbols, never sent to the terminal.

    Alt+Backspace (and Ctrl+Backspace, where the terminal tells it apart) deletes the word to the left of the
    cursor, as in a shell and in Textual's TextArea; Textual's Input binds them to the word on the right.
    Alt+D and Ctrl+Delete delete the word on the right."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+backspace,alt+backspace", "delete_left_word", "Delete left to start of word", show=False),
        Binding("ctrl+delete,alt+d", "delete_right_word", "Delete right to start of word", show=False),
    ]

    @property
    def _value(self) -> Text:  # Textual's Input draws this
        if self.password:
            return super()._value
        text = Text(glyphs(self.value), no_wrap=True, overflow="ignore", end="")
        return self.highlighter(text) if self.highlighter is not None else text

    def _position_to_cell(self, position: int) -> int:
        return cell_len(glyphs(self.value[:position]))

    def _cell_offset_to_index(self, offset: int) -> int:
        scroll_x, _ = self.scroll_offset
        offset += scroll_x
        cells = 0
        for index, char in enumerate(glyphs(self.value)):
            width = get_character_cell_size(char)
            if cells <= offset < cells + width:
                return index
            cells += width
        return max(0, min(offset, len(self.value)))

    def _on_paste(self, event: events.Paste) -> None:
        if not event.text or not self.max_length:
            return  # Input's own handler pastes it
        line = event.text.splitlines()[0] if event.text.splitlines() else ""
        start, end = sorted(self.selection)
        length = len(self.value) - (end - start) + len(line)
        if length > self.max_length:
            event.prevent_default()  # Input's handler does not run: nothing is pasted
            event.stop()
            self.post_message(PasteRefused(self, len(line), self.max_length))
