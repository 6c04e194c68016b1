"""The three suggested tags under the description, each with its key (F2/F3/F4) and where it would go."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from fengqiao.models.classifier import Suggestion, confident
from fengqiao.models.i18n import name, t
from fengqiao.models.reference import Reference
from fengqiao.models.routing import route

from .orderfmt import tag_label

KEYS = ("F2", "F3", "F4")


def routed_name(ref: Reference, code: str, town: str) -> str:
    """Where an order for ``code`` goes: the routed desk in ``town`` (one-team rule applied), else the owner."""
    if town:
        return name(route(ref, code, town).primary)
    return name(ref.departments[ref.tags[code].department])


class SuggestionBar(Static):
    """Shows up to three suggestions; :meth:`show` redraws it (cheap: three lines of text)."""

    DEFAULT_CSS = """
    SuggestionBar { height: 3; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, ref: Reference, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.ref = ref
        self.items: list[Suggestion] = []
        self.town = ""
        self.chosen = ""

    def show(self, items: list[Suggestion], town: str, chosen: str, *, ready: bool = True) -> None:
        self.items, self.town, self.chosen = items, town, chosen
        text = Text(no_wrap=True, overflow="ellipsis")
        if not items:
            text.append(t("intake.suggest_empty" if ready else "intake.suggest_loading"), style="dim")
            self.update(text)
            return
        sure = confident(items)
        for i, s in enumerate(items[:3]):
            if i:
                text.append("\n")
            tag = self.ref.tags[s.code]
            text.append(f"{KEYS[i]} ", style="bold reverse" if i == 0 and sure else "bold")
            if i == 0 and not sure:  # no confident suggestion: say so, point to the tag picker
                text.append(t("intake.suggest_unsure") + " ", style="bold yellow")
            text.append(
                ("✓ " if s.code == chosen else "") + tag_label(self.ref, s.code),
                style="bold" if i == 0 and sure else "",
            )
            text.append(f" {s.score:.0%}" if s.score >= 0.01 else " <1%", style="dim")
            if tag.dispatch == "dual":
                text.append(" " + t("intake.police_short"), style="yellow")
            text.append(f" → {routed_name(self.ref, s.code, town)}")  # last: cut first on a narrow screen
        self.update(text)
