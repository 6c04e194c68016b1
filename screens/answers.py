"""The knowledge-base reader (Ctrl+R on the intake): the answers that fit the caller's words, each in full with its
source, owner and expiry. Enter answers the call on the spot with the highlighted one (no order is dispatched);
Esc goes back to the call. Returns the chosen answer's id, or None."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from fengqiao.models.answers import Answer
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.reference import Reference
from fengqiao.models.routing import describe_assignee

from .base import LocalizedMixin, safe


class AnswerReader(LocalizedMixin, ModalScreen[str | None]):
    DEFAULT_CSS = """
    AnswerReader { align: center middle; }
    AnswerReader > Vertical {
        width: 92%; max-width: 100; height: auto; max-height: 95%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    AnswerReader OptionList { height: auto; max-height: 4; }
    AnswerReader #kb-text { height: auto; max-height: 12; margin-top: 1; }
    AnswerReader #kb-hint { height: auto; color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [
        Binding("enter", "answer", "kb.spot", id="kb.answer", priority=True),
        Binding("escape", "cancel", "form.cancel", id="kb.cancel"),
    ]

    def __init__(self, ref: Reference, answers: list[Answer], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ref = ref
        self.answers = answers

    def compose(self) -> ComposeResult:
        lang = get_lang()
        with Vertical() as box:
            box.border_title = t("kb.read_title")
            yield OptionList(
                *[
                    Option(
                        Text(f"{a.id}  ")
                        .append_text(safe(a.title))
                        .append(f"  · {describe_assignee(self.ref, a.owner, lang)}"),
                        id=a.id,
                    )
                    for a in self.answers
                ],
                id="kb-list",
                compact=True,
            )
            yield Static("", id="kb-text")
            yield Static(t("kb.read_hint"), id="kb-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()
        self.show(0)

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show(event.option_index)

    def show(self, index: int) -> None:
        if not 0 <= index < len(self.answers):
            return
        a = self.answers[index]
        lang = get_lang()
        text = Text()
        text.append_text(safe(a.title))
        text.append("\n")
        text.append_text(safe(a.text))
        text.append(f"\n\n{t('kb.source')}: ", style="dim")
        text.append_text(safe(a.source or "-"))
        text.append(
            f"\n{t('kb.owner')}: {describe_assignee(self.ref, a.owner, lang)}  {t('kb.expires')}: {a.expires}",
            style="dim",
        )
        self.query_one("#kb-text", Static).update(text)

    def action_answer(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None and 0 <= index < len(self.answers):
            self.dismiss(self.answers[index].id)

    def action_cancel(self) -> None:
        self.dismiss(None)
