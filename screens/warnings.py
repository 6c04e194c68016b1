"""The warnings panel: open risk warnings (预警) most urgent first, and task-force cases (专班).

F11 (or the palette, or ``w`` on the board) opens it over the current screen. The highlighted row's timeline is
shown below the list. On a warning: ``s`` signs for it, ``m`` records a measure, ``c`` closes it, ``e`` opens a
case from it. ``k`` switches to the cases: ``n`` adds a note, ``x`` closes the case (its orders waiting to be
closed are closed with it). Reading and writing run in thread workers; the screen never runs SQL.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from fengqiao.models.clock import fmt_local
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.governance import CaseState, WarningState
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.roles import Role
from fengqiao.models.routing import describe_assignee
from fengqiao.store.governance import CaseOrder, CaseRow, WarningRow

from .base import LocalizedMixin, safe
from .context import DeskMixin
from .forms import ActionForm, FormField
from .gov_banner import LEVEL_STYLE


class WarningsScreen(DeskMixin, LocalizedMixin, Screen[None]):
    DEFAULT_CSS = """
    WarningsScreen #gv-title { height: 1; padding: 0 1; text-style: bold; }
    WarningsScreen DataTable { height: 1fr; min-height: 4; }
    WarningsScreen #gv-detail { height: auto; max-height: 45%; padding: 0 1; border-top: solid $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sign", "gov.key_sign", id="gov.sign"),
        Binding("m", "measure", "gov.key_measure", id="gov.measure"),
        Binding("c", "close_warning", "gov.key_close", id="gov.close"),
        Binding("e", "escalate", "gov.key_escalate", id="gov.escalate"),
        Binding("k", "switch_list", "gov.key_toggle", id="gov.toggle"),
        Binding("n", "note", "gov.key_note", id="gov.note"),
        Binding("x", "close_case", "gov.key_close_case", id="gov.close_case"),
        Binding("ctrl+r", "reload", "gov.key_reload", id="gov.reload", show=False),
        Binding("escape", "back", "gov.key_back", id="gov.back"),
    ]

    class Loaded(Message):
        def __init__(self, warnings: list[WarningRow], cases: list[CaseRow]) -> None:
            super().__init__()
            self.warnings, self.cases = warnings, cases

    class Detail(Message):
        def __init__(self, key: str, subject: WarningState | CaseState, orders: list[CaseOrder]) -> None:
            super().__init__()
            self.key, self.subject, self.orders = key, subject, orders

    class Done(Message):
        def __init__(self, text: str, error: bool = False) -> None:
            super().__init__()
            self.text, self.error = text, error

    def __init__(self, *, show_cases: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.show_cases = show_cases
        self.warnings: list[WarningRow] = []
        self.cases: list[CaseRow] = []

    def compose(self) -> ComposeResult:
        yield self.desk_app.make_header()
        yield Static("", id="gv-title")
        table: DataTable[Any] = DataTable(id="gv-table", cursor_type="row", zebra_stripes=False)
        yield table
        yield Static("", id="gv-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.load()

    # ---- reading ----------------------------------------------------------------------------------
    @work(thread=True, group="gov-load", exclusive=True, exit_on_error=False)
    def load(self) -> None:
        try:
            gov = self.ctx.governance()
            self.post_message(self.Loaded(gov.warnings(), gov.cases()))
        except FengqiaoError as exc:
            self.post_message(self.Done(str(exc), error=True))

    def action_reload(self) -> None:
        self.load()

    def on_warnings_screen_loaded(self, message: Loaded) -> None:
        self.warnings, self.cases = message.warnings, message.cases
        self.draw()

    def draw(self) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear(columns=True)
        lang = get_lang()
        narrow = self.app.size.width < 100
        if self.show_cases:
            title = t("govui.cases_title", count=len(self.cases))
            table.add_columns(t("govcli.col_no"), t("govcli.col_title"), t("govcli.col_unit"), t("govcli.col_orders"))
            for c in self.cases:
                table.add_row(
                    short_no(c.no) if narrow else c.no,
                    safe(c.title, single_line=True),
                    describe_assignee(self.ctx.ref, c.owner, lang),
                    f"{c.open_orders}/{c.orders}",
                    key=c.id,
                )
        else:
            title = t("govui.warnings_title", count=len(self.warnings))
            table.add_columns(t("govcli.col_level"), t("govcli.col_no"), t("govcli.col_status"), t("govcli.col_what"))
            for w in self.warnings:
                level = Text(f" {t(f'gov.level_{w.level}')} ", style=LEVEL_STYLE.get(w.level, ""))
                what = safe(f"{w.summary} · {w.address}" if w.address else w.summary, single_line=True)
                if w.twin_of:  # raised offline on another desk for the same problem: close it as a duplicate
                    what = Text.assemble((t("gov.twin_of", no=w.twin_of) + " ", "bold yellow"), what)
                table.add_row(level, short_no(w.no) if narrow else w.no, t(f"gov.status_{w.status}"), what, key=w.id)
        self.query_one("#gv-title", Static).update(
            title + "  " + t("govui.toggle_hint" if not self.show_cases else "govui.toggle_back")
        )
        rows = len(self.cases if self.show_cases else self.warnings)
        if rows:
            table.move_cursor(row=min(max(keep, 0), rows - 1))
            self.show_detail()
        else:
            self.query_one("#gv-detail", Static).update(
                t("govcli.no_cases" if self.show_cases else "govcli.no_warnings")
            )

    def selected(self) -> WarningRow | CaseRow | None:
        row = self.query_one(DataTable).cursor_row
        items: list[Any] = self.cases if self.show_cases else self.warnings
        return items[row] if 0 <= row < len(items) else None

    @on(DataTable.RowHighlighted)
    def show_detail(self) -> None:
        item = self.selected()
        if item is not None:
            self.read_detail(item.id, self.show_cases)

    @work(thread=True, group="gov-detail", exclusive=True, exit_on_error=False)
    def read_detail(self, key: str, case: bool) -> None:
        try:
            gov = self.ctx.governance()
            if case:
                c = gov.case(key)
                self.post_message(self.Detail(key, c, gov.case_orders(c)))
            else:
                self.post_message(self.Detail(key, gov.warning(key), []))
        except FengqiaoError as exc:
            self.post_message(self.Done(str(exc), error=True))

    def on_warnings_screen_detail(self, message: Detail) -> None:
        item = self.selected()
        if item is None or item.id != message.key:
            return
        self.query_one("#gv-detail", Static).update(detail_text(self.ctx.ref, message.subject, message.orders))

    # ---- writing ----------------------------------------------------------------------------------
    def _need(self, case: bool) -> Any:
        item = self.selected()
        if item is None or self.show_cases != case:
            self.notify(t("govui.pick_case" if case else "govui.pick_warning"), severity="warning", markup=False)
            return None
        return item

    def _ask(self, title: str, subtitle: str, fields: list[FormField], then: Any) -> None:
        def done(values: dict[str, Any] | None) -> None:
            if values is not None:
                then(values)

        self.app.push_screen(ActionForm(title, subtitle, fields), done)

    def action_sign(self) -> None:
        w = self._need(case=False)
        if w is not None:
            self.write("sign", w.no, note="")

    def action_measure(self) -> None:
        w = self._need(case=False)
        if w is not None:
            field = FormField("note", "text", t("govui.f_measure"), required=True)
            self._ask(t("gov.kind_warn_measure"), w.no, [field], lambda v: self.write("measure", w.no, note=v["note"]))

    def action_close_warning(self) -> None:
        w = self._need(case=False)
        if w is not None:
            field = FormField("note", "text", t("govui.f_close"), required=True)
            self._ask(t("gov.kind_warn_close"), w.no, [field], lambda v: self.write("close", w.no, note=v["note"]))

    def action_escalate(self) -> None:
        w = self._need(case=False)
        if w is None:
            return
        fields = [
            FormField("title", "text", t("govui.f_title"), required=True, text_field="reason"),
            FormField("follow_up", "text", t("govui.f_follow_up"), text_field="reason"),
        ]
        self._ask(
            t("gov.kind_warn_escalate"),
            f"{w.no}  {w.summary}",
            fields,
            lambda v: self.write("escalate", w.no, title=v["title"], follow_up=v.get("follow_up") or None),
        )

    def action_note(self) -> None:
        c = self._need(case=True)
        if c is not None:
            field = FormField("text", "text", t("govui.f_note"), required=True)
            self._ask(t("gov.kind_case_note"), c.no, [field], lambda v: self.write("note_case", c.no, text=v["text"]))

    def action_close_case(self) -> None:
        c = self._need(case=True)
        if c is None:
            return
        fields = [
            FormField("resolution", "text", t("govui.f_resolution"), required=True),
            FormField("follow_up", "text", t("govui.f_follow_up"), text_field="reason"),
        ]
        self._ask(
            t("gov.kind_case_close"),
            f"{c.no}  {c.title}",
            fields,
            lambda v: self.write("close_case", c.no, resolution=v["resolution"], follow_up=v.get("follow_up") or None),
        )

    @work(thread=True, group="gov-write", exit_on_error=False)
    def write(self, what: str, no: str, **values: Any) -> None:
        gov = self.ctx.governance()
        try:
            if what == "escalate":
                w, c = gov.escalate(no, title=values["title"], follow_up=values.get("follow_up"))
                text = t("govui.escalated", no=w.no, case=c.no)
            elif what == "close_case":
                c, closed = gov.close_case(no, values["resolution"], follow_up=values.get("follow_up"))
                text = t("govui.case_closed", no=c.no, count=len(closed))
            elif what == "note_case":
                text = t("govui.noted", no=gov.note_case(no, values["text"]).no)
            else:
                w = getattr(gov, what)(no, values.get("note", ""))
                text = f"{w.no}  {t(f'gov.status_{w.status}')}"
        except FengqiaoError as exc:
            self.post_message(self.Done(str(exc), error=True))
        else:
            self.post_message(self.Done(text))

    def on_warnings_screen_done(self, message: Done) -> None:
        self.notify(message.text, severity="error" if message.error else "information", timeout=8, markup=False)
        if not message.error:
            self.load()

    WARNING_ACTIONS = frozenset({"sign", "measure", "close_warning", "escalate"})
    CASE_ACTIONS = frozenset({"note", "close_case"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer shows the keys of the list on screen: a warning's four, or a case's two."""
        if action in self.WARNING_ACTIONS | self.CASE_ACTIONS and self.ctx.desk.role == Role.CALL_TAKER:
            return False  # a call-taker raises warnings by taking calls and adds calls to cases; no more here
        if action in self.WARNING_ACTIONS:
            return not self.show_cases
        if action in self.CASE_ACTIONS:
            return self.show_cases
        return True

    def action_switch_list(self) -> None:
        self.show_cases = not self.show_cases
        self.refresh_bindings()
        self.query_one(DataTable).move_cursor(row=0)
        self.draw()

    def action_back(self) -> None:
        self.app.pop_screen()


def short_no(no: str) -> str:
    """``YJ-SZ-20261202-001`` as ``1202-001`` where the list is narrow."""
    parts = no.split("-")
    if len(parts) == 4 and len(parts[2]) == 8:
        return f"{parts[2][4:]}-{parts[3]}"
    return no


def detail_text(ref: Any, s: WarningState | CaseState, orders: list[CaseOrder]) -> Text:
    """The timeline of a warning or a case (and a case's orders), caller text shown literally."""
    lang = get_lang()
    out = Text()
    if isinstance(s, WarningState):
        out.append(f"{s.no}  ", style="bold")
        out.append(f"{t(f'gov.level_{s.level}_long')} · {t(f'gov.rule_{s.rule}')} · {t(f'gov.status_{s.status}')}")
        town = ref.towns.get(s.town)
        place = (town.name_zh if lang == "zh" else town.name_en) if town else s.town
        out.append(f"\n{place}  ")
        out.append_text(safe(s.address, single_line=True))
    else:
        out.append(f"{s.no}  ", style="bold")
        out.append_text(safe(s.title, single_line=True))
        out.append(f"  {t(f'gov.case_status_{s.status}')}")
        members = "、".join(describe_assignee(ref, m, lang) for m in s.members) or "-"
        out.append(
            f"\n{t('govcli.owner')}: {describe_assignee(ref, s.owner, lang)}  {t('govcli.members')}: {members}  "
            f"{t('govcli.follow_up')}: {s.follow_up or '-'}"
        )
        if orders:
            out.append("\n" + "  ".join(f"{o.order_no} {t(f'status.{o.status}')}" for o in orders[:6]))
            if len(orders) > 6:
                out.append(f"  …{len(orders) - 6}")
    for e in s.timeline[-6:]:
        out.append(f"\n{fmt_local(e.at)}  {t(f'gov.kind_{e.kind}')}  ")
        out.append_text(safe(e.actor, single_line=True))
        if e.text:
            out.append("  ")
            out.append_text(safe(e.text, single_line=True))
    return out
