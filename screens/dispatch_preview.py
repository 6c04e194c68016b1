"""Where the order will go, before it goes: routed department (or township centre), police station, deadlines.

The tag's default mode is preselected; ``m`` toggles single/dual. ``o`` opens the override: type a department
(code, Chinese, pinyin or initials), Enter, then the reason (required, stored on the order); Enter in the
reason sends. ``w`` adds a co-handling unit (协办: type, Enter; at most three with the police station of a dual
dispatch), Backspace takes the last one off. Enter anywhere else sends; Esc goes back to the form with nothing lost. The screen is dismissed
with a :class:`DispatchChoice`, or ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from fengqiao.models.clock import fmt_local
from fengqiao.models.errors import ValidationError
from fengqiao.models.finder import department_finder
from fengqiao.models.i18n import get_lang, name, t
from fengqiao.models.intake import IntakeForm
from fengqiao.models.phone import show_no_number
from fengqiao.models.reference import Reference
from fengqiao.models.routing import Assignee, Route
from fengqiao.models.text import check_text
from fengqiao.store.orders import OrderStore, Repeat

from .base import LocalizedMixin, safe
from .literal import LiteralInput


@dataclass(frozen=True)
class DispatchChoice:
    mode: str
    override_dept: str | None = None
    override_reason: str | None = None
    co: tuple[str, ...] = ()  # co-handling units' department codes (协办), in the order they were added


class Body(Static, can_focus=True):
    """The preview text; it holds the focus so Enter, m and o act on the preview."""


class DeptInput(LiteralInput):
    BINDINGS = [Binding("down", "screen.dept_move(1)", show=False), Binding("up", "screen.dept_move(-1)", show=False)]


class CoInput(LiteralInput):
    BINDINGS = [Binding("down", "screen.co_move(1)", show=False), Binding("up", "screen.co_move(-1)", show=False)]


class DispatchPreview(LocalizedMixin, ModalScreen[DispatchChoice | None]):
    DEFAULT_CSS = """
    DispatchPreview { align: center middle; }
    DispatchPreview > Vertical {
        width: 100%; max-width: 100; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    DispatchPreview VerticalScroll { height: auto; max-height: 1fr; }
    DispatchPreview Body { height: auto; }
    DispatchPreview Body:focus { background-tint: $foreground 3%; }
    DispatchPreview #override { height: auto; display: none; }
    DispatchPreview.-override #override { display: block; }
    DispatchPreview #override Input { margin: 0 0; }
    DispatchPreview #override OptionList { height: auto; max-height: 4; border: none; padding: 0; }
    DispatchPreview #co { height: auto; display: none; }
    DispatchPreview.-co #co { display: block; }
    DispatchPreview #co OptionList { height: auto; max-height: 4; border: none; padding: 0; }
    DispatchPreview #preview-msg { height: auto; color: $error; display: none; }
    DispatchPreview #preview-msg.-shown { display: block; }
    DispatchPreview #preview-keys { height: 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("enter", "confirm", "intake.confirm", id="intake.confirm"),
        Binding("m", "toggle_mode", "intake.toggle_mode", id="intake.toggle_mode"),
        Binding("o", "override", "intake.override", id="intake.override"),
        Binding("w", "add_co", "intake.add_co", id="intake.add_co"),
        Binding("backspace", "drop_co", "intake.drop_co", show=False, id="intake.drop_co"),
        Binding("escape", "back", "intake.back", id="intake.preview_back"),
    ]

    def __init__(
        self,
        store: OrderStore,
        form: IntakeForm,
        tag: str,
        *,
        now: datetime,
        repeat: Repeat | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.ref: Reference = store.ref
        self.form = form
        self.tag = tag
        self.now = now
        self.repeat = repeat
        self.mode = self.ref.tags[tag].dispatch
        self.override_dept: str | None = None
        self.co: list[str] = []  # co-handling units chosen so far (department codes)
        self.dept_matches: list[str] = []
        self.summary = ""  # the preview as plain text (what the grid shows)

    # ---- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = t("intake.preview_title")
            with VerticalScroll():
                yield Body(id="preview-body")
                with Vertical(id="override"):
                    yield DeptInput(
                        placeholder=t("intake.override_dept_placeholder"),
                        compact=True,
                        select_on_focus=False,
                        id="override-dept",
                    )
                    yield OptionList(id="override-list")
                    yield LiteralInput(
                        placeholder=t("intake.override_reason_placeholder"),
                        compact=True,
                        select_on_focus=False,
                        max_length=2000,
                        id="override-reason",
                    )
                with Vertical(id="co"):
                    yield CoInput(
                        placeholder=t("intake.co_placeholder"), compact=True, select_on_focus=False, id="co-dept"
                    )
                    yield OptionList(id="co-list")
                yield Static("", id="preview-msg")
            keys = Text(no_wrap=True, overflow="ellipsis")
            first, _, rest = t("intake.preview_keys").partition(" · ")
            keys.append(f" {first} ", style="bold reverse")
            keys.append(" · " + rest)
            yield Static(keys, id="preview-keys")

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = False
        self.redraw()
        self.set_focus(self.query_one(Body))

    def route(self, co: list[str] | None = None) -> Route:
        return self.store.preview(
            self.tag,
            self.form.town,
            mode=self.mode,
            override_dept=self.override_dept,
            village=self.form.village or None,
            grid=self.form.grid or None,
            co=self.co if co is None else co,
        )

    def _who(self, a: Assignee) -> str:
        return name(a)

    def redraw(self) -> None:
        ref = self.ref
        tag = ref.tags[self.tag]
        cat = ref.categories[tag.category]
        town = ref.towns[self.form.town]
        try:
            plan = self.route()
        except ValidationError as exc:  # dual after three co-units, or an override onto a co-unit: drop the last
            self.co = self.co[:-1]
            self.say(str(exc))
            plan = self.route()
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(ratio=1, overflow="fold")  # Chinese has no spaces to wrap at: fold it
        lines: list[str] = []

        def row(label: str, value: Text) -> None:
            grid.add_row(t(label), value)
            lines.append(f"{t(label)} {value.plain}")

        row("intake.pv_tag", Text.assemble((f"{tag.code} {name(tag)}", "bold"), f" · {name(cat)}"))
        caller = Text(show_no_number(self.form.phone), style="" if self.form.phone else "bold")
        if self.form.name:
            caller.append(" ")
            caller.append_text(safe(self.form.name, single_line=True))
        caller.append(f" · {name(town)} ")
        caller.append_text(safe(self.form.address, single_line=True))
        row("intake.pv_caller", caller)
        if plan.village:
            row("grassroots.pv_village", self._village(plan))
        desc = safe(self.form.description, single_line=True)
        desc.truncate(200, overflow="ellipsis")
        row("intake.pv_text", desc)
        other = t(f"mode.{'single' if self.mode == 'dual' else 'dual'}")
        row(
            "intake.pv_mode",
            Text.assemble(
                (f"[{t(f'mode.{self.mode}')}]", "bold yellow" if self.mode == "dual" else "bold"),
                ("  " + t("intake.pv_toggle", other=other), "dim"),
            ),
        )
        target = Text(self._who(plan.primary), style="bold green")
        if plan.one_team:
            owner = ref.departments[tag.department]
            target.append("  " + t("intake.pv_one_team", dept=name(owner)), style="italic")
        if plan.overridden:
            target.append("  " + t("intake.pv_overridden"), style="bold red")
        if plan.rule is not None:  # who and why: the grassroots routing row that fired
            target.append("  " + t("grassroots.pv_rule", rule=plan.rule.key, line=plan.rule.line), style="italic")
        row("intake.pv_route", target)
        if plan.informed:
            row("grassroots.pv_informed", Text("、".join(self._who(a) for a in plan.informed)))
        if plan.police is not None:
            row("intake.pv_police", Text(self._who(plan.police), style="bold yellow"))
        if plan.co:
            row("intake.pv_co", Text("、".join(self._who(a) for a in plan.co), style="bold cyan"))
        else:
            row("intake.pv_co", Text(t("intake.pv_no_co"), style="dim"))
        row("intake.pv_deadlines", self._deadlines())
        if self.override_dept is None:
            row("intake.pv_override", Text(t("intake.pv_no_override"), style="dim"))
        if self.repeat is not None:
            warning = t("intake.pv_repeat", order_no=self.repeat.order_no, status=t(f"status.{self.repeat.status}"))
            grid.add_row("!", Text(warning, style="bold yellow"))
            lines.append(warning)
        self.summary = "\n".join(lines)
        self.query_one(Body).update(grid)

    def _village(self, plan: Route) -> Text:
        """The call's village or community and its grid (with the grid worker), as found from the address."""
        assert plan.village is not None
        out = Text(name(self.ref.villages[plan.village]), style="bold")
        if plan.grid and plan.grid in self.ref.grids:
            g = self.ref.grids[plan.grid]
            out.append(" · " + t("grassroots.pv_grid", grid=name(g), worker=g.worker))
        return out

    def _deadlines(self) -> Text:
        tag = self.ref.tags[self.tag]
        now = self.now
        out = Text()
        out.append(
            t("intake.pv_sign", at=fmt_local(now + timedelta(minutes=tag.sign_min), date=False), minutes=tag.sign_min)
        )
        if tag.arrive_min:
            out.append(
                " · "
                + t(
                    "intake.pv_arrive",
                    at=fmt_local(now + timedelta(minutes=tag.arrive_min), date=False),
                    minutes=tag.arrive_min,
                )
            )
        due = now + timedelta(hours=tag.feedback_h)
        out.append(" · " + t("intake.pv_feedback", at=fmt_local(due)[5:], hours=tag.feedback_h))
        return out

    def say(self, message: str) -> None:
        msg = self.query_one("#preview-msg", Static)
        msg.update(Text(message))
        msg.set_class(bool(message), "-shown")

    # ---- actions -------------------------------------------------------------------------------
    def action_toggle_mode(self) -> None:
        self.mode = "single" if self.mode == "dual" else "dual"
        self.redraw()

    def action_override(self) -> None:
        self.add_class("-override")
        self.set_focus(self.query_one("#override-dept", DeptInput))
        self._dept_search(self.query_one("#override-dept", DeptInput).value)

    def action_back(self) -> None:
        if self.has_class("-co"):
            self._close_co()
            return
        if self.has_class("-override"):
            self.remove_class("-override")
            self.override_dept = None
            self.say("")
            self.redraw()
            self.set_focus(self.query_one(Body))
            return
        self.dismiss(None)

    def action_confirm(self) -> None:
        reason = None
        if self.override_dept is not None:
            try:
                reason = check_text(
                    "override_reason", self.query_one("#override-reason", Input).value, required=True, limit=2000
                )
            except ValidationError as exc:
                self.say(str(exc))
                self.set_focus(self.query_one("#override-reason", Input))
                return
        elif self.has_class("-override"):
            self.say(t("intake.pick_dept_first"))
            self.set_focus(self.query_one("#override-dept", DeptInput))
            return
        if self.has_class("-co"):
            self._close_co()
        self.dismiss(DispatchChoice(self.mode, self.override_dept, reason, tuple(self.co)))

    # ---- co-handling units ------------------------------------------------------------------------
    def action_add_co(self) -> None:
        self.add_class("-co")
        field = self.query_one("#co-dept", CoInput)
        field.value = ""
        self.set_focus(field)
        self._co_search("")

    def action_drop_co(self) -> None:
        if self.co:
            self.co.pop()
            self.say("")
            self.redraw()

    def _close_co(self) -> None:
        self.remove_class("-co")
        self.query_one("#co-list", OptionList).clear_options()
        self.set_focus(self.query_one(Body))

    @on(Input.Changed, "#co-dept")
    def _co_changed(self, event: Input.Changed) -> None:
        self._co_search(event.value)

    def _co_search(self, query: str) -> None:
        self._list_depts("#co-list", query, skip=("GA",))  # a police station comes with a dual dispatch

    def action_co_move(self, step: int) -> None:
        _move(self.query_one("#co-list", OptionList), step)

    @on(Input.Submitted, "#co-dept")
    def _co_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        code = _highlighted(self.query_one("#co-list", OptionList))
        if code is None:
            self.say(t("intake.pick_co_first"))
            return
        self._choose_co(code)

    @on(OptionList.OptionSelected, "#co-list")
    def _co_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose_co(event.option.id or "")

    def _choose_co(self, code: str) -> None:
        try:
            self.route([*self.co, code])
        except ValidationError as exc:
            self.say(str(exc))
            return
        self.co.append(code)
        self.say("")
        self._close_co()
        self.redraw()

    # ---- override ------------------------------------------------------------------------------
    @on(Input.Changed, "#override-dept")
    def _dept_changed(self, event: Input.Changed) -> None:
        self._dept_search(event.value)

    def _dept_search(self, query: str) -> None:
        self.dept_matches = self._list_depts("#override-list", query)

    def _list_depts(self, selector: str, query: str, skip: tuple[str, ...] = ()) -> list[str]:
        """Fill the option list ``selector`` with the departments matching ``query`` (all of them when it is empty,
        else the best six), the first highlighted; returns their codes."""
        options = self.query_one(selector, OptionList)
        options.clear_options()
        en = get_lang() == "en"
        hits = [e for e, _ in department_finder(self.ref).search(query, limit=None) if e.code not in skip]
        if query.strip():
            hits = hits[:6]
        options.add_options(
            [Option(Text(f"{e.code:<5} {e.en if en else e.zh}", no_wrap=True), id=e.code) for e in hits]
        )
        if hits:
            options.highlighted = 0
        return [e.code for e in hits]

    def action_dept_move(self, step: int) -> None:
        _move(self.query_one("#override-list", OptionList), step)

    @on(Input.Submitted, "#override-dept")
    def _dept_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        code = _highlighted(self.query_one("#override-list", OptionList))
        if code is None:
            self.say(t("intake.pick_dept_first"))
            return
        self._choose_dept(code)

    @on(OptionList.OptionSelected, "#override-list")
    def _dept_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose_dept(event.option.id or "")

    def _choose_dept(self, code: str) -> None:
        try:
            self.store.preview(
                self.tag,
                self.form.town,
                mode=self.mode,
                override_dept=code,
                village=self.form.village or None,
                grid=self.form.grid or None,
            )
        except ValidationError as exc:
            self.say(str(exc))
            return
        self.override_dept = code
        dept = self.ref.departments[code]
        self.query_one("#override-dept", DeptInput).value = f"{code} {name(dept)}"
        self.query_one("#override-list", OptionList).clear_options()
        self.say("")
        self.redraw()
        self.set_focus(self.query_one("#override-reason", Input))

    @on(Input.Submitted, "#override-reason")
    def _reason_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()


def _move(options: OptionList, step: int) -> None:
    if options.option_count:
        options.highlighted = ((options.highlighted or 0) + step) % options.option_count


def _highlighted(options: OptionList) -> str | None:
    if options.highlighted is None:
        return None
    return options.get_option_at_index(options.highlighted).id or ""
