"""Choosing a tag by hand: type to filter the 75 tags, or browse the 4 categories as a tree.

Typing filters by code (``B01``), Chinese (``消费``), full pinyin (``xiaofei``), initials (``xfjf``), English
(``consumer``) or a keyword (``假货``); ↓ moves into the list, Enter takes the highlighted tag (Enter in the
filter takes the first match). With an empty filter the categories show as a tree. Esc goes back; the
screen is dismissed with the chosen tag code, or ``None``.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, Tree
from textual.widgets.option_list import Option

from fengqiao.models.finder import tag_finder
from fengqiao.models.i18n import get_lang, name, t
from fengqiao.models.reference import Reference
from fengqiao.models.text import fit_cells

from .base import LocalizedMixin
from .literal import LiteralInput


def _pad(text: str, width: int) -> str:
    """``text`` cut or padded to ``width`` cells, then one space."""
    cut, used = fit_cells(text, width)
    return cut + " " * (width - used + 1)


def column_widths(ref: Reference, width: int) -> tuple[int, int]:
    """The tag-name and department columns of :func:`tag_line` in ``width`` cells (in the current language)."""
    names = [name(x) for x in ref.tags.values()]
    depts = [name(x) for x in ref.departments.values()]
    mode_w = max(cell_len(t("intake.short_single")), cell_len(t("intake.short_dual")))
    room = max(20, width - 4 - mode_w - 2)  # after the code and the mode
    name_w = min(max(map(cell_len, names)), room * 11 // 20)
    return name_w, min(max(map(cell_len, depts)), room - name_w)


def tag_line(ref: Reference, code: str, widths: tuple[int, int]) -> Text:
    """``B01 消费纠纷          市场监督管理局        单派``: aligned columns (``widths`` from :func:`column_widths`)."""
    tag = ref.tags[code]
    dept = ref.departments[tag.department]
    name_w, dept_w = widths
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{code} ", style="bold")
    text.append(_pad(name(tag), name_w))
    text.append(_pad(name(dept), dept_w), style="dim")
    text.append(t(f"intake.short_{tag.dispatch}"), style="yellow" if tag.dispatch == "dual" else "dim")
    return text


class FilterInput(LiteralInput):
    """The filter: ↓ moves into the results."""

    BINDINGS = [Binding("down", "screen.into_list", show=False)]


class TagPicker(LocalizedMixin, ModalScreen[str | None]):
    DEFAULT_CSS = """
    TagPicker { align: center middle; }
    TagPicker > Vertical {
        width: 90%; max-width: 90; height: 90%; max-height: 30;
        border: round $accent; background: $surface; padding: 0 1;
    }
    TagPicker FilterInput { margin-bottom: 1; }
    TagPicker OptionList, TagPicker Tree { height: 1fr; border: none; padding: 0; }
    TagPicker #picker-keys { height: 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "intake.back", id="intake.picker_back"),
    ]

    def __init__(self, ref: Reference, query: str = "", suggested: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ref = ref
        self.query_text = query
        self.suggested = suggested or []
        self.finder = tag_finder(ref)
        self._widths: tuple[tuple[str, int], tuple[int, int]] = (("", 0), (0, 0))

    def line(self, code: str) -> Text:
        width = min(90, self.app.size.width * 9 // 10) - 6  # the box's width inside its border and padding
        key = (get_lang(), width)
        if self._widths[0] != key:  # measured once per language and width, not on every keystroke
            self._widths = (key, column_widths(self.ref, width))
        return tag_line(self.ref, code, self._widths[1])

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = t("intake.picker_title")
            yield FilterInput(
                self.query_text,
                placeholder=t("intake.picker_placeholder"),
                compact=True,
                select_on_focus=False,
                id="tag-query",
            )
            yield OptionList(id="tag-results")
            tree: Tree[str] = Tree(t("intake.picker_tree_root"), id="tag-tree")
            tree.show_root = False
            for cat in self.ref.categories.values():
                node = tree.root.add(f"{cat.code} {name(cat)}", data="", expand=False)
                for tag in self.ref.tags_in(cat.code):
                    node.add_leaf(self.line(tag.code), data=tag.code)
            yield tree
            yield Static(t("intake.picker_keys"), id="picker-keys")

    def on_mount(self) -> None:
        self.query_one(FilterInput).cursor_blink = False
        self._refresh(self.query_text)
        self.query_one(FilterInput).focus()

    @on(Input.Changed, "#tag-query")
    def _changed(self, event: Input.Changed) -> None:
        self._refresh(event.value)

    def _refresh(self, query: str) -> None:
        results = self.query_one("#tag-results", OptionList)
        tree = self.query_one("#tag-tree", Tree)
        if not query.strip():
            results.display = False
            tree.display = True
            return
        tree.display = False
        results.display = True
        results.clear_options()
        hits = self.finder.search(query)
        if hits:
            results.add_options([Option(self.line(e.code), id=e.code) for e, _ in hits])
            results.highlighted = 0
        else:
            results.add_option(Option(Text(t("intake.picker_none"), style="dim"), id="", disabled=True))

    def action_into_list(self) -> None:
        results = self.query_one("#tag-results", OptionList)
        if results.display:
            self.set_focus(results)
            return
        tree = self.query_one("#tag-tree", Tree)
        if tree.cursor_line < 0:
            tree.cursor_line = 0
        self.set_focus(tree)

    @on(Input.Submitted, "#tag-query")
    def _submitted(self, event: Input.Submitted) -> None:
        results = self.query_one("#tag-results", OptionList)
        if results.display and results.highlighted is not None:
            option = results.get_option_at_index(results.highlighted)
            if option.id:
                self.dismiss(option.id)
        elif not event.value.strip():
            self.set_focus(self.query_one("#tag-tree", Tree))

    @on(OptionList.OptionSelected, "#tag-results")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)

    @on(Tree.NodeSelected, "#tag-tree")
    def _node(self, event: Tree.NodeSelected[str]) -> None:
        if event.node.data:
            self.dismiss(event.node.data)

    def action_cancel(self) -> None:
        self.dismiss(None)
