"""The town field: type Chinese, pinyin, initials or the code (``hz`` → 黄泽镇); ↑/↓ choose among the matches.

The best matches are listed beside the field as you type; Enter (or leaving the field) takes the highlighted
one, whatever else the text would also match (``gl`` is 甘霖镇's code and 谷来镇's initials), and writes its name
into the field. The chosen town code is :attr:`TownField.code` (empty until chosen).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, Static

from fengqiao.models.finder import Entry, town_finder
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.reference import Reference

from .base import LocalizedMixin
from .form_field import FormInput

CANDIDATES = 3


class TownHint(Static):
    """The matches for what is typed in the town field, the highlighted one first in bold."""

    DEFAULT_CSS = """
    TownHint { width: 1fr; height: 1; color: $text-muted; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """


class TownField(LocalizedMixin, FormInput):  # Enter: IntakeScreen.action_advance_field
    """An Input that resolves what is typed to a town of the reference data."""

    BINDINGS = [
        Binding("down", "move(1)", "intake.town_next", id="intake.town_next", show=False),
        Binding("up", "move(-1)", "intake.town_prev", id="intake.town_prev", show=False),
    ]

    class Resolved(Message):
        """A town was chosen (``code`` empty when the field was cleared)."""

        def __init__(self, field: TownField, code: str) -> None:
            super().__init__()
            self.field = field
            self.code = code

    def __init__(self, ref: Reference, hint: TownHint, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ref = ref
        self.hint = hint
        self.finder = town_finder(ref)
        self.code = ""
        self.matches: list[Entry] = []
        self.matched = ""  # the value the matches are for
        self.index = 0

    def display_name(self, code: str) -> str:
        town = self.ref.towns[code]
        return town.name_en.split()[0] if get_lang() == "en" else town.name_zh  # "Lushan", not "Lushan Subdistrict"

    # ---- typing --------------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is not self or event.value != self.value:
            return  # another field's, or a value already typed over (keys typed faster than shown)
        if self.code and event.value == self.display_name(self.code):
            return  # our own write after choosing
        self.code = ""
        self._match()
        self.show_hint()

    def _match(self) -> None:
        self.matched = self.value
        self.matches = [e for e, _ in self.finder.search(self.value, limit=CANDIDATES)] if self.value.strip() else []
        self.index = 0

    def action_move(self, step: int) -> None:
        if self.matches:
            self.index = (self.index + step) % len(self.matches)
            self.show_hint()

    def show_hint(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.code:
            town = self.ref.towns[self.code]
            text.append(f"✓ {self.code}", style="bold green")
            if town.one_team_pilot:
                text.append(" " + t("intake.one_team_short"), style="italic")
        elif self.matches:
            for i, e in enumerate(self.matches):
                name = e.en.split()[0] if get_lang() == "en" else e.zh
                text.append(
                    ("▸" if i == self.index else " ") + name + " ", style="bold reverse" if i == self.index else ""
                )
        elif self.value.strip():
            text.append(t("intake.town_none"), style="red")
        self.hint.update(text)

    # ---- choosing ------------------------------------------------------------------------------
    def resolve(self) -> bool:
        """Take the highlighted match; True if a town is chosen (or the field is empty)."""
        if self.code:
            return True
        if not self.value.strip():
            self.hint.update("")
            return True
        if self.matched != self.value:  # Enter came before the field saw its own change (a fast burst of keys)
            self._match()
        # The highlighted match wins, always: `gl` is 甘霖镇's code and 谷来镇's initials, and ↓ onto 谷来镇 must
        # send the order to 谷来镇 (and its police station). A code typed exactly is ranked first anyway.
        entry_code = self.matches[self.index].code if self.matches else ""
        if not entry_code:
            self.show_hint()
            return False
        self.choose(entry_code)
        return True

    def choose(self, code: str) -> None:
        self.code = code
        self.matches = []
        self.value = self.matched = self.display_name(code)
        self.cursor_position = len(self.value)
        self.show_hint()
        self.post_message(self.Resolved(self, code))

    def clear_town(self) -> None:
        self.code = ""
        self.matches = []
        self.value = self.matched = ""
        self.hint.update("")
