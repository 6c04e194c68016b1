"""Small modal screens for order actions: each asks only for what its action needs.

* :class:`ActionForm` — a few fields (a choice, a text, hours, a department); Enter on the last field
  submits, Tab moves on, Esc cancels. Returns a dict of values (``None`` when cancelled).
* :class:`ConfirmScreen` — "really?" for destructive actions (return, cancel): Enter or y confirms.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from fengqiao.models.errors import ValidationError
from fengqiao.models.i18n import t
from fengqiao.models.machine import MAX_EXTENSION_HOURS
from fengqiao.models.text import check_text

from .base import LocalizedMixin, safe
from .literal import LiteralInput

_MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90%; max-width: 72; height: auto; max-height: 95%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{name} .form-sub {{ height: auto; color: $text-muted; margin-bottom: 1; }}
{name} Label {{ height: 1; margin-top: 1; text-style: bold; }}
{name} Input {{ height: 1; padding: 0 1; background: $boost; }}
{name} Input:focus {{ background: $primary 30%; }}
{name} OptionList {{ height: auto; max-height: 8; padding: 0; background: $boost; }}
{name} OptionList:focus {{ background: $primary 15%; }}
{name} #form-error {{ height: auto; color: $error; text-style: bold; margin-top: 1; display: none; }}
{name} #form-error.-shown {{ display: block; }}
{name} .form-hint {{ height: 1; color: $text-muted; margin-top: 1; }}
"""


CHOSEN, OTHER = "● ", "○ "


@dataclass
class FormField:
    """One thing an action asks for."""

    name: str  # the key in the returned dict
    kind: str  # choice | text | hours | dept
    label: str
    required: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    default: str | None = None
    text_field: str = "note"  # models.text.LIMITS key for text
    preselect: bool = True  # choice: start on the default (or the first); False: nothing until the person picks


class ActionForm(LocalizedMixin, ModalScreen[dict[str, Any] | None]):
    DEFAULT_CSS = _MODAL_CSS.format(name="ActionForm")
    BINDINGS = [
        Binding("escape", "cancel", "form.cancel", id="form.cancel"),
        # Enter is taken by the form before the field sees it, so what is typed right after it lands in the
        # next field (moving the focus from the field's own message would let quick keys hit the old one).
        Binding("enter", "next_field", show=False, priority=True, id="form.next_field"),
    ]

    def __init__(self, title: str, subtitle: Text | str, fields: list[FormField], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._title = title
        self._subtitle = subtitle
        self.fields = fields

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            sub = self._subtitle if isinstance(self._subtitle, Text) else safe(self._subtitle)
            yield Static(sub, classes="form-sub")
            for f in self.fields:
                yield Label(
                    f.label + ("" if f.required or f.kind == "choice" else t("form.optional")), id=f"label-{f.name}"
                )
                if f.kind == "choice":
                    mark = "" if f.preselect else OTHER  # nothing chosen yet: every option shows the empty mark
                    options = OptionList(
                        *[Option(mark + label, id=value) for value, label in f.choices],
                        id=f"field-{f.name}",
                        compact=True,
                    )
                    yield options
                elif f.kind == "dept":
                    yield LiteralInput(
                        placeholder=t("form.dept_filter"), id=f"filter-{f.name}", select_on_focus=False, compact=True
                    )
                    yield OptionList(*self._dept_options(f, ""), id=f"field-{f.name}", compact=True)
                elif f.kind == "hours":
                    yield Input(value=f.default or "", type="integer", max_length=4, id=f"field-{f.name}", compact=True)
                else:
                    yield LiteralInput(value=f.default or "", id=f"field-{f.name}", select_on_focus=False, compact=True)
            yield Static("", id="form-error")
            yield Static(t("form.hint"), classes="form-hint")

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = False
        for f in self.fields:
            if f.kind == "choice":
                options = self.query_one(f"#field-{f.name}", OptionList)
                values = [v for v, _ in f.choices]
                if not f.preselect:
                    options.highlighted = None  # the person must choose (a visit's satisfaction)
                    continue
                options.highlighted = values.index(f.default) if f.default in values else 0
        first = self.fields[0]
        self.query_one(f"#filter-{first.name}" if first.kind == "dept" else f"#field-{first.name}").focus()

    # ---- departments ---------------------------------------------------------------------------
    @staticmethod
    def _dept_options(f: FormField, text: str) -> list[Option]:
        needle = text.strip().lower()
        return [
            Option(label, id=value)
            for value, label in f.choices
            if not needle or needle in value.lower() or needle in label.lower()
        ]

    @on(Input.Changed)
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith("filter-"):
            name = event.input.id.removeprefix("filter-")
            f = next(x for x in self.fields if x.name == name)
            options = self.query_one(f"#field-{name}", OptionList)
            options.clear_options()
            options.add_options(self._dept_options(f, event.value))
            if options.option_count:
                options.highlighted = 0

    # ---- moving on and submitting --------------------------------------------------------------
    def _after(self, name: str) -> None:
        """Enter on field ``name``: next field, or submit after the last one."""
        names = [f.name for f in self.fields]
        index = names.index(name)
        if index + 1 < len(names):
            nxt = self.fields[index + 1]
            self.query_one(f"#filter-{nxt.name}" if nxt.kind == "dept" else f"#field-{nxt.name}").focus()
        else:
            self.submit()

    async def action_next_field(self) -> None:
        field = self.focused
        ident = (field.id or "") if field is not None else ""
        if field is None or not ident.startswith(("field-", "filter-")):
            return
        # Keys typed just before this Enter may still wait in the field's queue (a fast burst, a paste): a
        # priority binding runs ahead of them, so let the field take them first (as the intake does).
        done = asyncio.Event()
        field.call_later(done.set)
        try:
            await asyncio.wait_for(done.wait(), 0.5)
        except TimeoutError:
            pass
        if self.focused is field:
            self._after(ident.split("-", 1)[1])

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        ident = event.input.id or ""
        self._after(ident.split("-", 1)[1])

    @on(OptionList.OptionHighlighted)
    def _mark_choice(self, event: OptionList.OptionHighlighted) -> None:
        """The chosen option carries a mark, not only a colour (monochrome terminals)."""
        options = event.option_list
        chosen = options.highlighted  # now (a message from before the form cleared a choice may arrive late)
        for index in range(options.option_count):
            option = options.get_option_at_index(index)
            label = str(option.prompt)[2:] if str(option.prompt)[:2] in (CHOSEN, OTHER) else str(option.prompt)
            options.replace_option_prompt_at_index(index, (CHOSEN if index == chosen else OTHER) + label)

    @on(OptionList.OptionSelected)
    def _option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._after((event.option_list.id or "").split("-", 1)[1])

    def values(self) -> dict[str, Any]:
        """The form's values, checked. Raises :class:`ValidationError` naming the first bad field."""
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.kind in ("choice", "dept"):
                options = self.query_one(f"#field-{f.name}", OptionList)
                index = options.highlighted
                if index is None or not options.option_count:
                    raise ValidationError(t("form.choose", field=f.label), field=f.name)
                out[f.name] = options.get_option_at_index(index).id
            elif f.kind == "hours":
                raw = self.query_one(f"#field-{f.name}", Input).value.strip()
                try:
                    hours = int(raw)
                except ValueError:
                    raise ValidationError(t("form.bad_hours", limit=MAX_EXTENSION_HOURS), field=f.name) from None
                if not 1 <= hours <= MAX_EXTENSION_HOURS:
                    raise ValidationError(t("form.bad_hours", limit=MAX_EXTENSION_HOURS), field=f.name)
                out[f.name] = hours
            else:
                raw = self.query_one(f"#field-{f.name}", Input).value
                text = check_text(f.text_field, raw)
                if f.required and not text:
                    raise ValidationError(t("form.required", field=f.label), field=f.name)
                out[f.name] = text
        return out

    def submit(self) -> None:
        try:
            values = self.values()
        except ValidationError as exc:
            error = self.query_one("#form-error", Static)
            error.update(Text(str(exc)))
            error.add_class("-shown")
            if exc.field:
                f = next((x for x in self.fields if x.name == exc.field), None)
                if f is not None:
                    self.query_one(f"#filter-{f.name}" if f.kind == "dept" else f"#field-{f.name}").focus()
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(LocalizedMixin, ModalScreen[bool]):
    """Asks once before a destructive action."""

    DEFAULT_CSS = (
        _MODAL_CSS.format(name="ConfirmScreen")
        + """
    ConfirmScreen #confirm-text { height: auto; margin: 1 0; }
    """
    )
    BINDINGS = [
        Binding("enter,y", "confirm", "form.confirm", id="form.confirm"),
        Binding("escape,n", "cancel", "form.cancel", id="form.cancel"),
    ]

    def __init__(self, title: str, message: Text | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._title = title
        self._message = message

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            yield Static(self._message if isinstance(self._message, Text) else safe(self._message), id="confirm-text")
            yield Static(t("form.confirm_hint"), classes="form-hint")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
