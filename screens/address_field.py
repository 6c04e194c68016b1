"""The address field knows the chosen town's villages and communities (villages.csv).

While the first word of the address is typed (no digits, no space yet), the town's villages and communities
matching it by Chinese, pinyin or initials (``qy``, ``qianyan``, ``前岩`` → 前岩村) are listed in the hint beside
the town; ↑/↓ choose, Enter writes the highlighted name into the field and stays there for the rest of the address
(``5号``); Enter again moves on. An address that contains a village's full name (typed, pasted, restored from a
draft) is that village's: the hint shows ``✓ HZ · 前岩村``. The order's village is found from the address text
when it is stored (models/intake.py), so what the field shows is what the order gets.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Input

from fengqiao.models.finder import Entry, village_finder
from fengqiao.models.i18n import get_lang
from fengqiao.models.reference import Reference
from fengqiao.models.villages import village_in

from .base import LocalizedMixin
from .form_field import FormInput
from .literal import LiteralInput
from .town_field import CANDIDATES, TownField, TownHint


class VillageCompletion(LocalizedMixin, LiteralInput):
    """An Input completing the villages of the town chosen in ``town_field``; :attr:`village` is the village code
    its text names (empty for none)."""

    BINDINGS = [
        Binding("down", "village_move(1)", "grassroots.village_next", id="intake.village_next", show=False),
        Binding("up", "village_move(-1)", "grassroots.village_prev", id="intake.village_prev", show=False),
    ]

    def __init__(self, ref: Reference, hint: TownHint, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ref = ref
        self.hint = hint
        self.village = ""
        self.village_matches: list[Entry] = []
        self.village_index = 0

    @property
    def town_field(self) -> TownField:
        return self.screen.query_one(TownField)

    def village_name(self, code: str) -> str:
        v = self.ref.villages[code]
        return v.name_en if get_lang() == "en" else v.name_zh

    def recheck(self) -> None:
        """Find the village again (the text or the town changed)."""
        town = self.town_field.code
        value = self.value
        self.village_matches, self.village_index = [], 0
        found = village_in(self.ref.villages, town, value) if town else None
        self.village = found.code if found else ""
        word = value.strip()
        if town and not found and word and " " not in word and not any(c.isdigit() for c in word):
            self.village_matches = [e for e, _ in village_finder(self.ref, town).search(word, limit=CANDIDATES)]
        if self.has_focus or self.village:
            self.show_villages()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self and event.value == self.value:
            self.recheck()

    def on_focus(self) -> None:
        self.recheck()

    def on_blur(self) -> None:
        self.village_matches = []
        if not self.village:
            self.town_field.show_hint()

    def action_village_move(self, step: int) -> None:
        if self.village_matches:
            self.village_index = (self.village_index + step) % len(self.village_matches)
            self.show_villages()

    def show_villages(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.village:
            town = self.town_field.code
            text.append(f"✓ {town} · ", style="bold green")
            text.append(self.village_name(self.village), style="bold green")
        elif self.village_matches:
            for i, e in enumerate(self.village_matches):
                name = e.en if get_lang() == "en" else e.zh
                chosen = i == self.village_index
                text.append(("▸" if chosen else " ") + name + " ", style="bold reverse" if chosen else "")
        else:
            self.town_field.show_hint()
            return
        self.hint.update(text)

    def complete(self) -> bool:
        """Enter: write the highlighted village's name into the field (True), or nothing to complete (False).

        Decided on the field's value now, not on what the last Input.Changed found: keys typed in a burst may
        reach the field before their Changed messages are handled (a full village name then moves on)."""
        shown, chosen = self.village_matches, self.village_index
        self.recheck()
        if self.village_matches == shown:
            self.village_index = chosen  # the same list: the person's ↑/↓ choice stands
        if self.village or not self.village_matches:
            return False
        code = self.village_matches[self.village_index].code
        self.value = self.ref.villages[code].name_zh
        self.cursor_position = len(self.value)
        self.recheck()
        return True


class AddressInput(VillageCompletion, FormInput):
    """The intake's address field: completes the chosen town's villages and communities."""
