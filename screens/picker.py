"""Choosing one value from a list: a field that shows the current choice, and the list it opens.

Textual's ``Select`` draws its list as an overlay over the dialog; where a wide (Chinese) character of the list
meets the edge of a widget under it, the compositor cuts the character and a blank shows instead (at 80x24 in
the board's filter dialog: "ZJJ 住房和城乡建设局" came out as "ZJJ   房和城乡建设局"). :class:`PickField`
opens :class:`PickScreen` instead: a screen of its own (opaque, nothing under the list), with a line that
filters as you type — by code, Chinese, pinyin or initials through :mod:`models.finder` (``sc`` and ``scjg``
find 市场监督管理局).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from fengqiao.models.finder import Finder, make_entry
from fengqiao.models.i18n import t

from .base import LocalizedMixin
from .literal import LiteralInput


class PickScreen(LocalizedMixin, ModalScreen[str | None]):
    """A list to choose from, filtered as you type (``searchable``); Enter picks, Esc keeps the old choice."""

    DEFAULT_CSS = """
    PickScreen { align: center middle; }
    PickScreen > Vertical {
        width: 90%; max-width: 56; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    PickScreen Input { height: 1; padding: 0 1; background: $boost; margin-bottom: 1; }
    PickScreen OptionList { height: auto; max-height: 16; padding: 0; background: $boost; }
    PickScreen .form-hint { height: 1; color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "form.cancel", id="pick.cancel"),
        Binding("enter", "pick", show=False, priority=True, id="pick.pick"),
        Binding("down", "move(1)", show=False, id="pick.down"),
        Binding("up", "move(-1)", show=False, id="pick.up"),
    ]

    def __init__(
        self,
        title: str,
        options: list[tuple[str, str]],
        current: str | None,
        *,
        searchable: bool = False,
        names: dict[str, str] | None = None,
        **kw: Any,
    ) -> None:
        """``options``: (value, label); ``names``: the Chinese name of a value, for pinyin and initials (else
        the label)."""
        super().__init__(**kw)
        self._title = title
        self.options = options
        self.current = current
        self.searchable = searchable
        self.names = names or {}
        self._finder: Finder | None = None

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            if self.searchable:
                yield LiteralInput(placeholder=t("form.pick_filter"), id="pick-filter", compact=True)
            yield OptionList(*self._options(""), id="pick-list", compact=True)
            yield Static(t("form.pick_hint"), classes="form-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        values = [v for v, _ in self.options]
        options.highlighted = values.index(self.current) if self.current in values else 0
        if self.searchable:
            field = self.query_one("#pick-filter", Input)
            field.cursor_blink = False
            field.focus()
        else:
            options.focus()

    def _options(self, query: str) -> list[Option]:
        """The options matching ``query``: every one when empty, else best first (code, Chinese, pinyin, initials)."""
        if not query.strip():
            return [Option(Text(label), id=value) for value, label in self.options]
        if self._finder is None:
            labels = dict(self.options)
            self._finder = Finder(
                make_entry(v, self.names.get(v) or _name(v, labels[v]), labels[v]) for v, _ in self.options
            )
        labels = dict(self.options)
        return [Option(Text(labels[e.code]), id=e.code) for e, _ in self._finder.search(query)]

    @on(Input.Changed, "#pick-filter")
    def _filter(self, event: Input.Changed) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        if options.option_count:
            options.highlighted = 0

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if not options.option_count:
            return
        index = options.highlighted if options.highlighted is not None else -step
        options.highlighted = max(0, min(options.option_count - 1, index + step))

    def action_pick(self) -> None:
        options = self.query_one(OptionList)
        index = options.highlighted
        if index is None or not options.option_count:
            self.app.bell()
            return
        self.dismiss(options.get_option_at_index(index).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _name(value: str, label: str) -> str:
    """The Chinese part of a label such as ``SCJG 市场监督管理局`` (what pinyin and initials are made from)."""
    head, _, rest = label.partition(" ")
    return rest if head == value and rest else label


class PickField(Static, can_focus=True):
    """One line showing the current choice (``▾``); Enter or Space opens the list (:class:`PickScreen`)."""

    DEFAULT_CSS = """
    PickField { width: 1fr; height: 1; padding: 0 1; background: $boost; }
    PickField:focus { background: $primary 30%; }
    """
    BINDINGS = [Binding("enter,space", "open", "form.pick_open", show=False, id="pick.open")]

    class Changed(Message):
        def __init__(self, field: PickField) -> None:
            super().__init__()
            self.field = field

    def __init__(
        self,
        title: str,
        options: list[tuple[str, str]],
        value: str,
        *,
        searchable: bool = False,
        names: dict[str, str] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__("", **kw)
        self.title = title
        self.options = options
        self.value = value
        self.searchable = searchable
        self.names = names

    def on_mount(self) -> None:
        self._show()

    def label(self) -> str:
        return dict(self.options).get(self.value, self.value)

    def _show(self) -> None:
        text = Text(self.label(), no_wrap=True, overflow="ellipsis")
        text.append(" ▾", style="dim")
        self.update(text)

    def action_open(self) -> None:
        def picked(value: str | None) -> None:
            if value is not None and value != self.value:
                self.value = value
                self._show()
                self.post_message(self.Changed(self))

        screen = PickScreen(self.title, self.options, self.value, searchable=self.searchable, names=self.names)
        self.app.push_screen(screen, picked)
