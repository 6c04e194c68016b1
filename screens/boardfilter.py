"""The board's filter dialog (F3) and the one-line summary of the filters in force."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static

from fengqiao.models.grassroots import GRASSROOTS
from fengqiao.models.i18n import name, t
from fengqiao.models.machine import Status
from fengqiao.models.reference import Reference
from fengqiao.models.roles import Desk, Role
from fengqiao.store.board import SORTS, BoardFilter

from .base import LocalizedMixin
from .picker import PickField

ALL = "*"


class MarkedCheckbox(Checkbox):
    """A checkbox whose mark shows its state without colour (monochrome terminals): ▐X▌ ticked, ▐ ▌ not."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802 - Textual's name
        return "X" if self.value else " "


def scope_label(scope: str) -> str:
    return t(f"board.scope_{scope}") if scope in ("open", "all") else t(f"status.{scope}")


def dept_label(ref: Reference, code: str) -> str:
    if code in ("ZZ", "GA"):
        return t(f"board.dept_all_{code.lower()}")
    if code in GRASSROOTS and code not in ref.departments:  # every mediation committee, grid worker, organisation
        return t(f"grassroots.kind_{code}")
    dept = ref.departments.get(code)
    return name(dept) if dept else code


def filter_summary(f: BoardFilter, ref: Reference) -> str:
    """``在办 · 超时 · 黄泽镇`` — the filters in force, in words."""
    if f.is_escalation_queue:
        parts = [t("board.queue_title")]
    else:
        parts = [scope_label(f.scope)]
        if f.overdue:
            parts.append(t("board.only_overdue"))
    if f.dept:
        parts.append(dept_label(ref, f.dept))
    if f.category and f.category in ref.categories:
        parts.append(name(ref.categories[f.category]))
    if f.town and f.town in ref.towns:
        parts.append(name(ref.towns[f.town]))
    if f.village and f.village in ref.villages:
        parts.append(name(ref.villages[f.village]))
    if f.repeat:
        parts.append(t("board.only_repeat"))
    if f.dual:
        parts.append(t("board.only_dual"))
    if f.awaiting_judgement:
        parts.append(t("board.only_judge"))
    if f.awaiting_visit:
        parts.append(t("board.only_visit"))
    return t("board.filter_prefix") + " · ".join(parts)


class FilterScreen(LocalizedMixin, ModalScreen[BoardFilter | None]):
    DEFAULT_CSS = """
    FilterScreen { align: center middle; }
    FilterScreen > Vertical {
        width: 90%; max-width: 64; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    FilterScreen .row { height: 1; margin: 0; }
    FilterScreen .row Label { width: 12; height: 1; }
    FilterScreen Checkbox { height: 1; padding: 0; background: transparent; }
    FilterScreen Checkbox:focus { background: $primary 30%; }
    FilterScreen #filter-buttons { height: 1; margin-top: 1; }
    FilterScreen Button { border: none; height: 1; min-width: 10; margin-right: 2; }
    FilterScreen .form-hint { height: 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("f3", "apply", "board.filter_apply", id="board.filter_apply"),
        Binding("escape", "cancel", "form.cancel", id="form.cancel"),
    ]

    def __init__(self, current: BoardFilter, desk: Desk, ref: Reference, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.current = current
        self.desk = desk
        self.ref = ref

    def compose(self) -> ComposeResult:
        f, ref = self.current, self.ref
        with Vertical() as box:
            box.border_title = t("board.filters")
            scopes = [(scope_label(s), s) for s in ("open", "all", *(x.value for x in Status))]
            yield from self._row("scope", t("board.scope"), scopes, f.scope)
            if self.desk.role != Role.DEPARTMENT:
                depts = [(t("board.any"), ALL), (dept_label(ref, "ZZ"), "ZZ"), (dept_label(ref, "GA"), "GA")]
                if ref.villages:
                    depts += [(dept_label(ref, k), k) for k in GRASSROOTS]
                depts += [
                    (f"{d.code} {name(d)}", d.code) for d in ref.departments.values() if d.code not in ("ZZ", "GA")
                ]
                names = {d.code: d.name_zh for d in ref.departments.values()}
                yield from self._row("dept", t("field.dept"), depts, f.dept or ALL, searchable=True, names=names)
            cats = [(t("board.any"), ALL)] + [(f"{c.code} {name(c)}", c.code) for c in ref.categories.values()]
            yield from self._row("category", t("cli.category"), cats, f.category or ALL)
            if self.desk.role != Role.TOWNSHIP:
                towns = [(t("board.any"), ALL)] + [(name(tw), tw.code) for tw in ref.towns.values()]
                names = {tw.code: tw.name_zh for tw in ref.towns.values()}
                yield from self._row("town", t("field.town"), towns, f.town or ALL, searchable=True, names=names)
            if ref.villages:  # the villages and communities (a township desk: its own town's)
                own = self.desk.town if self.desk.role == Role.TOWNSHIP else None
                places = [v for v in ref.villages.values() if own is None or v.town == own]
                villages = [(t("board.any"), ALL)] + [
                    (f"{name(v)} · {name(ref.towns[v.town])}", v.code) for v in places
                ]
                names = {v.code: v.name_zh for v in places}
                label = t("grassroots.pv_village")
                yield from self._row("village", label, villages, f.village or ALL, searchable=True, names=names)
            sorts = [(t(f"board.sort_{s}"), s) for s in SORTS]
            yield from self._row("sort", t("board.sort"), sorts, f.sort)
            yield MarkedCheckbox(t("board.only_overdue"), f.overdue, id="filter-overdue", compact=True)
            yield MarkedCheckbox(t("board.only_repeat"), f.repeat, id="filter-repeat", compact=True)
            yield MarkedCheckbox(t("board.only_dual"), f.dual, id="filter-dual", compact=True)
            yield MarkedCheckbox(t("board.only_judge"), f.awaiting_judgement, id="filter-judge", compact=True)
            yield MarkedCheckbox(t("board.only_visit"), f.awaiting_visit, id="filter-visit", compact=True)
            with Horizontal(id="filter-buttons"):
                yield Button(t("board.filter_apply"), id="filter-apply", variant="primary", compact=True)
                yield Button(t("board.filter_clear"), id="filter-clear", compact=True)
            yield Static(t("board.filter_hint"), classes="form-hint")

    @staticmethod
    def _row(
        key: str,
        label: str,
        options: list[tuple[str, str]],
        value: str,
        *,
        searchable: bool = False,
        names: dict[str, str] | None = None,
    ) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(label)
            pairs = [(v, lab) for lab, v in options]
            yield PickField(label, pairs, value, searchable=searchable, names=names, id=f"filter-{key}")

    def _value(self, key: str) -> str | None:
        found = self.query(f"#filter-{key}")
        if not found:
            return None
        value = found.first(PickField).value
        return None if value == ALL else str(value)

    def result(self) -> BoardFilter:
        return replace(
            self.current,
            scope=self._value("scope") or "open",
            dept=self._value("dept") if self.desk.role != Role.DEPARTMENT else self.current.dept,
            category=self._value("category"),
            town=self._value("town") if self.desk.role != Role.TOWNSHIP else self.current.town,
            village=self._value("village"),
            sort=self._value("sort") or "due",
            overdue=self.query_one("#filter-overdue", Checkbox).value,
            repeat=self.query_one("#filter-repeat", Checkbox).value,
            dual=self.query_one("#filter-dual", Checkbox).value,
            awaiting_judgement=self.query_one("#filter-judge", Checkbox).value,
            awaiting_visit=self.query_one("#filter-visit", Checkbox).value,
        )

    def action_apply(self) -> None:
        self.dismiss(self.result())

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#filter-apply")
    def _apply(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#filter-clear")
    def _clear(self) -> None:
        self.dismiss(BoardFilter(search=self.current.search))
