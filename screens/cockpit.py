"""Cockpit (驾驶舱): the supervisors' live picture and the five KPIs.

Layout (80x24 and up; from 140 columns both frequent-caller panels show and tables get more columns)::

    header
    today's counts (2 lines)
    the five KPIs, the return and redo rates, the score: today, 7 and 30 days, change, sparkline
    [open work by department] [frequent callers | frequent addresses]
    feedback status (1 line)
    footer

Data comes from ``store.kpi.KpiStore`` in thread workers: the *live* picture (today's counts, open work,
feedback status, frequent callers, today's KPI counts) on every ``StoreChanged`` (the app sends at most
one a second) and once a minute (deadlines pass without any write); the *trend* (per-day counts of the
previous 60 days and the 30-day scores) on opening, every five minutes and when the day changes. Widgets
are updated only where their text changed, so an idle cockpit writes almost nothing to the terminal.

Callers' numbers are masked here for every role (``models.privacy.phone_view(desk, masked_by_default=True)``).
A supervisor may press ``u`` (or start ``fengqiao dashboard --unmasked``) to see them in full: the live worker
first writes the numbers about to be shown to the access log (``store.audit.record_access``, in the worker
thread) and only a number with its log line is ever shown in full; numbers that join the list later are
recorded the same way before they appear. ``u`` again masks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from fengqiao.models.desk import Role
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.kpi import (
    EXTRA,
    FIVE,
    GRADED,
    LOWER_IS_BETTER,
    Counts,
    PeriodFigures,
    day_rates,
    fmt_rate,
    improved,
    local_date,
    periods,
    score,
    sparkline,
)
from fengqiao.models.privacy import PhoneView, check_unmasked, phone_view
from fengqiao.models.routing import describe_assignee
from fengqiao.models.text import fit_cells
from fengqiao.store.kpi import DeptLoad, Frequent, KpiStore, Live, Trend

from .base import ComposedLater, LocalizedMixin, safe
from .context import DeskMixin
from .messages import StoreChanged

if TYPE_CHECKING:  # the tables' widget is imported when they are mounted, after the first frame
    from textual.widgets import DataTable

WIDE = 140  # columns from which the cockpit shows both frequent panels and wider tables
LIVE_EVERY = 60.0  # seconds: deadlines pass without any write
TALL = 40  # rows from which the two extra rates and the times of the last 30 days show
TREND_EVERY = 300.0
FIRST_WAIT = 0.25  # seconds the dashboard's first frame waits for the figures being read while it started
SORTS = ("overdue", "awaiting", "sign_rate", "score")


class LiveLoaded(Message):
    """A live snapshot; for an unmasked view also the numbers now in the access log (or why they are not)."""

    def __init__(
        self,
        live: Live,
        generation: int,
        session: int | None = None,
        recorded: frozenset[str] = frozenset(),
        record_error: str | None = None,
    ) -> None:
        super().__init__()
        self.live = live
        self.generation = generation
        self.session = session
        self.recorded = recorded
        self.record_error = record_error


class WarningsLoaded(Message):
    """Open risk warnings by level and open cases (the counts line names them once they are read)."""

    def __init__(self, counts: dict[str, int]) -> None:
        super().__init__()
        self.counts = counts


class TrendLoaded(Message):
    def __init__(self, trend: Trend) -> None:
        super().__init__()
        self.trend = trend


class LoadFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal cells with an ellipsis."""
    return fit_cells(text, width)[0]


def delta_text(name: str, change: float | None, style: Callable[[str], str], *, points: bool = True) -> Text:
    """▲1.2 / ▼0.3 (percentage points), green when better, red when worse; blank when unknown.

    The arrow carries the meaning; colour only repeats it (NO_COLOR and 16-colour terminals lose nothing).
    """
    if change is None:
        return Text("")
    amount = abs(change) * (100 if points else 1)
    if round(amount, 1) == 0:
        return Text("=0.0", style="dim")
    arrow = "▲" if change > 0 else "▼"
    better = improved(name, change)
    return Text(f"{arrow}{amount:.1f}", style=style("$success" if better else "$error"))


@dataclass
class _Figures:
    """What the KPI panel shows: the periods and the daily series."""

    periods: list[PeriodFigures]
    daily: dict[date, Counts]
    today: date


def text_grid(heads: list[Text], rows: list[list[Text]], *, right: range, gap: int = 2) -> Text:
    """A table of one-line cells laid out as one Text: the heads bold, each column as wide as its widest cell,
    the columns in ``right`` aligned right, ``gap`` spaces between columns (its Static crops, never wraps, a line).
    What a borderless rich Table gives when it fits, for a fraction of its cost (Textual measures and renders a
    Table again for each layout pass, and the panel is laid out at every figure change)."""
    widths = [max(cell_len(row[i].plain) for row in (heads, *rows)) for i in range(len(heads))]
    out = Text(end="")
    for n, row in enumerate((heads, *rows)):
        if n:
            out.append("\n")
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - cell_len(cell.plain))
            if i:
                out.append(" " * gap)
            if i in right:
                out.append(pad)
            out.append_text(Text(cell.plain, style="bold") if n == 0 else cell)
            if i not in right and i < len(row) - 1:
                out.append(pad)
    return out


class CockpitScreen(ComposedLater, DeskMixin, LocalizedMixin, Screen[None]):
    """The supervisor's home screen (F7); also what ``fengqiao dashboard`` opens, read-only."""

    DEFAULT_CSS = """
    CockpitScreen { layout: vertical; }
    #cp-counts { height: 2; padding: 0 1; }
    #cp-kpis { height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: clip; }
    #cp-panels { height: 1fr; }
    #cp-panels > DataTable {
        width: 1fr; height: 1fr; border-top: solid $primary; overflow-x: hidden; scrollbar-size-vertical: 1;
    }
    #cp-panels > #cp-depts { margin-right: 1; }
    #cp-panels > #cp-addresses { display: none; margin-left: 1; }
    CockpitScreen.-addresses #cp-panels > #cp-callers { display: none; }
    CockpitScreen.-addresses #cp-panels > #cp-addresses { display: block; margin-left: 0; }
    CockpitScreen.-wide #cp-panels > #cp-callers { display: block; }
    CockpitScreen.-wide #cp-panels > #cp-addresses { display: block; margin-left: 1; }
    #cp-times { height: 1; padding: 0 1; display: none; }
    CockpitScreen.-tall #cp-times { display: block; }
    #cp-feedback { height: 1; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh_now", "cockpit.refresh", id="cockpit.refresh"),
        Binding("s", "cycle_sort", "cockpit.sort", id="cockpit.sort"),
        Binding("a", "toggle_addresses", "cockpit.toggle_addresses", id="cockpit.toggle_addresses"),
        Binding("u", "toggle_unmasked", "cockpit.unmask", id="cockpit.unmask", show=False),  # supervisors only
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._live: Live | None = None
        self._trend: Trend | None = None
        self._generation = 0
        self._shown_generation = 0
        self._sort = 0
        self._texts: dict[str, Any] = {}
        self._cells: dict[str, dict[str, tuple[Any, ...]]] = {}
        self._layout: dict[str, str] = {}
        self._error: str | None = None
        self._kpi_store: KpiStore | None = None
        self._warnings: dict[str, int] = {}  # open warnings by level and open cases (read after the figures)
        self._away = False  # another screen was on top (a mode switch, help): the figures may be behind
        self._trend_stale = False
        # Full numbers: asked for (``u`` or --unmasked), the asking's session, the numbers recorded in it.
        self._want_full = False
        self._session = 0
        self._full: frozenset[str] = frozenset()
        self._rendered_size: Size | None = None  # the size the figures were last laid out for
        self._panels = True  # the tables are mounted (compose decides)

    # ---- composition ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield self.desk_app.make_header()
        if self.deferred:  # the dashboard composes the rest after its first frame (ComposedLater)
            return
        yield Static(t("cockpit.loading"), id="cp-counts")
        yield Static("", id="cp-kpis")
        yield Static("", id="cp-times")
        # The first screen of `fengqiao dashboard` draws the counts and the KPIs in its first frame and mounts the
        # tables just after it (Textual's styling of three DataTables is most of what that frame would cost more).
        self._panels = self.desk_app.painted
        with Horizontal(id="cp-panels"):
            if self._panels:
                yield from self._panel_tables()
        yield Static("", id="cp-feedback")
        yield Footer()

    def _panel_tables(self) -> list[DataTable[Any]]:
        from textual.widgets import DataTable

        tables: list[DataTable[Any]] = []
        for name in ("depts", "callers", "addresses"):
            table: DataTable[Any] = DataTable(id=f"cp-{name}", cursor_type="row", zebra_stripes=False)
            table.border_title = t(f"cockpit.{name}_title")
            tables.append(table)
        return tables

    async def _mount_panels(self) -> None:
        """The department and frequent-caller tables, once the first frame (counts and KPIs) is on the screen."""
        if self._panels:
            return
        await self.query_one("#cp-panels", Horizontal).mount_all(self._panel_tables())
        self._panels = True
        if self.focused is None:  # as Textual focuses the first focusable widget of a screen composed whole
            self.set_focus(self.query_one("#cp-depts"))
        self._render_panels()

    @property
    def kpi_store(self) -> KpiStore:
        if self._kpi_store is None:
            if self.ctx.kpi_problem:  # the config's [kpi] section was bad: said once, the defaults are used
                self.notify(self.ctx.kpi_problem, severity="warning", timeout=10)
            self._kpi_store = self.ctx.kpi
        return self._kpi_store

    @property
    def wide(self) -> bool:
        return self.size.width >= WIDE

    @property
    def tall(self) -> bool:
        return self.size.height >= TALL

    def on_mount(self) -> None:
        self.set_class(self.wide, "-wide")
        self.set_class(self.tall, "-tall")
        if self.ctx.start_unmasked and self._may_unmask():
            self._want_full, self._session = True, 1  # `fengqiao dashboard --unmasked`: recorded before shown
        if not self._panels:
            self.desk_app.after_first_paint(lambda: self.call_later(self._mount_panels))
        if not self.deferred:
            self.start_content()

    def start_content(self) -> None:
        if not self._live_ahead():
            self._load_live()  # then the warnings and the trend: today's figures show first
        self.set_interval(LIVE_EVERY, self._tick_live)
        self.set_interval(TREND_EVERY, self._tick_trend)
        self.content_started()

    def _live_ahead(self) -> bool:
        """The dashboard's first figures, read while the app started (``ctx.live_ahead``): shown now, so in the
        first frame, if they come within FIRST_WAIT (else, or on an error, the live worker reads them again)."""
        ahead = self.ctx.live_ahead
        if ahead is None or self._want_full:  # full numbers are recorded in the access log before they show
            return False
        try:
            live = ahead.result(timeout=FIRST_WAIT)
        except Exception:  # noqa: BLE001 - too slow, or a store error the worker will say
            return False
        self._generation += 1
        self.on_live_loaded(LiveLoaded(live, self._generation))
        return True

    def _tick_live(self) -> None:
        if self.is_current:  # another mode is on screen: catch up when the cockpit comes back
            self._load_live()

    def _tick_trend(self) -> None:
        if self.is_current:
            self._load_trend()
        else:
            self._trend_stale = True

    def on_screen_suspend(self) -> None:
        self._away = True

    def on_screen_resume(self) -> None:
        if self._live is not None and self._away:  # back from another screen: catch up (not at the start)
            self._load_live()
        self._away = False
        if self._trend_stale:
            self._trend_stale = False
            self._load_trend()

    def on_resize(self) -> None:
        if self.size == self._rendered_size:
            return  # Textual sends a resize or two while it starts: the figures are already laid out for it
        self.set_class(self.wide, "-wide")
        self.set_class(self.tall, "-tall")
        self._render_all()

    # ---- loading (thread workers; never touch widgets there) ------------------------------------
    def _load_live(self) -> None:
        self._generation += 1
        self._fetch_live(self._generation, self._session if self._want_full else None, self._full)

    @work(thread=True, group="cockpit-live", exit_on_error=False)
    def _fetch_live(self, generation: int, session: int | None, recorded: frozenset[str]) -> None:
        try:
            live = self.kpi_store.live()
        except FengqiaoError as exc:
            self.post_message(LoadFailed(str(exc)))
            return
        error = None
        if session is not None:  # full numbers wanted: the ones not yet in the access log go there first
            new = sorted({f.key for f in live.callers} - recorded)
            try:
                if new:
                    self._record_access(new)
                recorded = recorded | frozenset(new)
            except FengqiaoError as exc:
                error = str(exc)
        self.post_message(LiveLoaded(live, generation, session, recorded, error))

    @work(thread=True, group="cockpit-warnings", exclusive=True, exit_on_error=False)
    def _fetch_warnings(self) -> None:
        try:
            counts = self.ctx.governance().counts()  # open warnings by level, open cases
        except FengqiaoError as exc:
            self.post_message(LoadFailed(str(exc)))
            return
        self.post_message(WarningsLoaded(counts))

    def _record_access(self, phones: list[str]) -> None:
        """Write who sees which numbers in full to the access log (worker thread; before they are shown)."""
        from fengqiao.store.audit import record_access

        ctx = self.ctx  # the read-only dashboard keeps a separate writer for the access log
        record_access(
            ctx.access_log_db,
            ctx.desk,
            target="cockpit",
            detail={"screen": "cockpit", "phones": phones},
            clock=ctx.clock,
        )

    @work(thread=True, group="cockpit-trend", exclusive=True, exit_on_error=False)
    def _load_trend(self) -> None:
        try:
            trend = self.kpi_store.trend()
        except FengqiaoError as exc:
            self.post_message(LoadFailed(str(exc)))
            return
        self.post_message(TrendLoaded(trend))

    def on_store_changed(self, _message: StoreChanged) -> None:
        """The store changed (:class:`~.messages.StoreChanged`; the app sends at most one a second)."""
        self._load_live()

    def on_live_loaded(self, message: LiveLoaded) -> None:
        if message.session is not None and message.session == self._session and self._want_full:
            if message.record_error is not None:
                self._want_full, self._full = False, frozenset()
                self.notify(t("cockpit.unmask_failed", error=message.record_error), severity="error", timeout=10)
            else:
                first = not self._full
                self._full |= message.recorded
                if first:
                    self.notify(t("cockpit.unmasked_on"), timeout=4)
        if message.generation < self._shown_generation:
            return  # an older snapshot that finished late
        self._shown_generation = message.generation
        first = self._live is None
        self._live = message.live
        self._error = None
        if self._trend is not None and local_date(self._trend.computed_at) != local_date(message.live.now):
            self._load_trend()  # a new day: yesterday becomes part of the trend
        self._render_all()
        if first:  # the trend and the warnings once today's figures are on the screen (their threads would slow it)
            self.call_after_refresh(self._after_first_figures)
        else:
            self._fetch_warnings()

    def _after_first_figures(self) -> None:
        self._load_trend()
        self._fetch_warnings()

    def on_warnings_loaded(self, message: WarningsLoaded) -> None:
        self._warnings = message.counts
        if self._live is not None and not self.deferred:
            self._set("cp-counts", self._counts_text(self._live))

    def on_trend_loaded(self, message: TrendLoaded) -> None:
        self._trend = message.trend
        self._render_all()

    def on_load_failed(self, message: LoadFailed) -> None:
        if message.error != self._error:
            self._error = message.error
            self.notify(message.error, severity="error", timeout=10)

    # ---- actions --------------------------------------------------------------------------------
    def action_refresh_now(self) -> None:
        self._load_live()
        self._load_trend()

    def action_cycle_sort(self) -> None:
        self._sort = (self._sort + 1) % len(SORTS)
        self.notify(t("cockpit.sorted_by", order=t(f"cockpit.sort_{SORTS[self._sort]}")), timeout=2)
        self._render_depts()

    def action_toggle_addresses(self) -> None:
        self.toggle_class("-addresses")

    def _may_unmask(self) -> bool:
        return self.ctx.desk.role == Role.SUPERVISOR

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_unmasked":
            return self._may_unmask()  # other desks never see the key
        return True

    def action_toggle_unmasked(self) -> None:
        """Full numbers (recorded in the access log by the live worker before they show) or masked again."""
        self._session += 1  # answers of an earlier asking no longer count
        if self._want_full:
            self._want_full, self._full = False, frozenset()
            self.notify(t("cockpit.unmasked_off"), timeout=3)
            self._render_all()
            return
        try:
            check_unmasked(self.ctx.desk)
        except FengqiaoError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return
        self._want_full, self._full = True, frozenset()
        self._load_live()

    def _phone(self, phone: str) -> str:
        """A caller's number as shown here: in full only when asked for and already in the access log."""
        view: PhoneView = phone_view(
            self.ctx.desk, unmasked=self._want_full and phone in self._full, masked_by_default=True
        )
        return view(phone)

    # ---- rendering ------------------------------------------------------------------------------
    def style(self, spec: str) -> str:
        """A Rich style from one with theme variables (``bold $error``)."""
        variables = getattr(self.app, "theme_variables", None) or self.app.get_css_variables()
        return " ".join(variables.get(word[1:], "") if word.startswith("$") else word for word in spec.split())

    def _set(self, widget_id: str, content: Any) -> None:
        """Update a Static only when what it shows has changed (quiet over SSH)."""
        key = content.plain + repr(content.spans) if isinstance(content, Text) else repr(content)
        if self._texts.get(widget_id) == key:
            return
        self._texts[widget_id] = key
        self.query_one(f"#{widget_id}", Static).update(content)

    def _render_all(self) -> None:
        if self._live is None or self.deferred:
            return
        self._rendered_size = self.size
        self._set("cp-counts", self._counts_text(self._live))
        self._render_kpis()
        self._render_panels()
        self._set("cp-feedback", self._feedback_text(self._live))
        if self.tall and self._trend is not None and self._trend.month is not None:
            self._set("cp-times", self._times_text(self._trend.month.to_json()))

    def _render_panels(self) -> None:
        if self._live is None or not self._panels:
            return
        self._render_depts()
        self._render_frequent("callers", self._live.callers)
        self._render_frequent("addresses", self._live.addresses)

    def _counts_text(self, live: Live) -> Text:
        d = live.today
        line1 = [
            ("cockpit.calls", d.calls, ""),
            ("cockpit.orders", d.orders, ""),
            ("cockpit.dispatched", d.dispatched, ""),
            ("cockpit.closed", d.closed, ""),
        ]
        line2 = [
            ("cockpit.awaiting_sign", d.awaiting_sign, "$warning" if d.awaiting_sign else ""),
            ("cockpit.awaiting_feedback", d.awaiting_feedback, ""),
            ("cockpit.on_scene", d.on_scene, ""),
            ("cockpit.overdue", d.overdue, "bold $error" if d.overdue else ""),
            ("cockpit.returned", d.returned, "$warning" if d.returned else ""),
        ]
        text = Text()
        for label, items in ((t("cockpit.today"), line1), (t("cockpit.open"), line2)):
            if text:
                text.append("\n")
            text.append(label, style="bold")
            for key, value, style in items:
                text.append(f"  {t(key)} ")
                mark = "!" if style.startswith("bold") else ""
                text.append(f"{value}{mark}", style=self.style(style or "bold"))
            if items is line1 and self._warnings:
                w = self._warnings  # open risk warnings by level, and open cases (F11 lists them)
                text.append(f"  {t('cockpit.warnings')} ")
                for level, style in (("red", "bold $error"), ("orange", "bold $warning"), ("yellow", "bold")):
                    text.append(t(f"gov.level_{level}_short"))
                    text.append(f"{w.get(level, 0)} ", style=self.style(style) if w.get(level) else "")
                text.append(f"{t('cockpit.cases')} ")
                text.append(str(w.get("cases", 0)), style=self.style("bold"))
        return text

    def _figures(self) -> _Figures | None:
        if self._live is None:
            return None
        today = local_date(self._live.now)
        daily = dict(self._trend.daily) if self._trend is not None else {}
        daily[today] = self._live.today_counts
        spans = (1, 7, 30) if self._trend is not None else (1,)
        return _Figures(periods(daily, today, self.kpi_store.weights, spans), daily, today)

    def _render_kpis(self) -> None:
        fig = self._figures()
        if fig is None:
            return
        width = self.size.width - 2
        spark_days = max(7, min(30, width - 70))
        by_days = {p.days: p for p in fig.periods}
        weights = self.kpi_store.weights
        rows: list[list[Text]] = []
        daily = day_rates(fig.daily, fig.today, spark_days, weights)  # each day's rates once, for every sparkline
        for name in (*FIVE, *GRADED, *(EXTRA if self.tall else ()), "score"):
            label = t("kpi.col.score") if name == "score" else t(f"kpi.short.{name}")
            cells = [
                Text(
                    label + ("↓" if name in LOWER_IS_BETTER else ""),
                    style="bold" if name == "score" else "dim" if name in EXTRA else "",
                )
            ]
            for days in (1, 7, 30):
                p = by_days.get(days)
                if p is None:
                    cells += [Text("…", style="dim"), Text("")]
                elif name == "score":
                    change = None if p.score is None or p.previous_score is None else p.score - p.previous_score
                    cells += [
                        Text("—" if p.score is None else f"{p.score:.1f}", style="bold"),
                        delta_text(name, change, self.style, points=False),
                    ]
                else:
                    cells += [Text(fmt_rate(p.rates[name])), delta_text(name, p.change[name], self.style)]
            if name == "score":
                values = [score(r, weights) for r in daily]
                line = sparkline([None if v is None else v / 100 for v in values])
            else:
                line = sparkline([r[name] for r in daily])
            cells.append(Text(line, style=self.style("$accent")))
            rows.append(cells)
        key = repr([[(c.plain, str(c.style)) for c in row] for row in rows])
        if self._texts.get("cp-kpis") == key:
            return
        self._texts["cp-kpis"] = key
        heads = [Text(t("cockpit.kpi"))]
        for value_head, delta_head in (
            ("cockpit.p_today", "cockpit.vs_yesterday"),
            ("cockpit.p_7", "cockpit.vs_prev7"),
            ("cockpit.p_30", "cockpit.vs_prev30"),
        ):
            heads += [Text(t(value_head)), Text(t(delta_head))]
        heads.append(Text(t("cockpit.trend", days=spark_days)))
        table = text_grid(heads, rows, right=range(1, 7))
        self.query_one("#cp-kpis", Static).update(table)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a department row: the board, filtered to that unit's orders."""
        if event.data_table.id != "cp-depts":
            return
        event.stop()
        code = str(event.row_key.value)
        from textual.app import UnknownModeError

        from .board import BoardScreen

        try:
            self.app.switch_mode("board")
        except UnknownModeError:  # the read-only dashboard has no board
            return

        def show() -> None:
            board = next((s for s in reversed(self.app.screen_stack) if isinstance(s, BoardScreen)), None)
            if board is not None:
                board.show_dept(code)

        self.app.call_after_refresh(show)

    def _dept_rows(self) -> list[DeptLoad]:
        assert self._live is not None
        rows = [d for d in self._live.depts if d.open or d.sign_base]
        scores = self._trend.scores if self._trend is not None else {}
        order = SORTS[self._sort]

        def key(d: DeptLoad) -> tuple[Any, ...]:
            if order == "overdue":
                return (-d.overdue, -d.awaiting_sign, -d.open, d.code)
            if order == "awaiting":
                return (-d.awaiting_sign, -d.overdue, -d.open, d.code)
            if order == "sign_rate":
                return (d.sign_rate is None, d.sign_rate or 0.0, d.code)
            s = scores.get(d.code, (None, None))[0]
            return (s is None, s or 0.0, d.code)

        return sorted(rows, key=key)

    def _render_depts(self) -> None:
        if self._live is None or not self._panels:
            return
        lang = get_lang()
        wide = self.wide
        scores = self._trend.scores if self._trend is not None else {}
        # Past 160 columns the unit's name takes half the extra room (up to 30 cells: "人力资源和社会保障局" needs 20).
        name_width = min(30, 16 + max(0, self.size.width - 160) // 2) if wide else 14 if lang == "zh" else 12
        columns = [
            ("name", t("cockpit.col_unit"), name_width),
            ("awaiting", t("cockpit.col_awaiting"), 4),
            ("overdue", t("cockpit.col_overdue"), 5),
            ("sign", t("cockpit.col_sign_today"), 6),
        ]
        if wide:
            columns += [
                ("open", t("cockpit.col_open"), 5),
                ("score", t("cockpit.col_score30"), 6),
                ("rank", t("cockpit.col_rank"), 4),
            ]
        rows = []
        for d in self._dept_rows():
            name = describe_assignee(self.kpi_store.ref, d.code, lang)
            cells: list[Any] = [
                fit(name, name_width),
                _num(d.awaiting_sign, self.style("$warning")),
                _num(d.overdue, self.style("bold $error"), mark="!"),
                fmt_rate(d.sign_rate),
            ]
            if wide:
                s, r = scores.get(d.code, (None, None))
                cells += [str(d.open), "—" if s is None else f"{s:.1f}", "—" if r is None else str(r)]
            rows.append((d.code, tuple(cells)))
        self._sync("depts", columns, rows)
        self.query_one("#cp-depts").styles.width = self._dept_width()

    def _dept_width(self) -> int:
        """The department table is as wide as its columns (padding and scrollbar included)."""
        layout = self._layout.get("depts_widths")
        return int(layout) if layout else 40

    def _render_frequent(self, name: str, items: list[Frequent]) -> None:
        ref = self.kpi_store.ref
        lang = get_lang()
        wide = self.wide
        rest = self.size.width - self._dept_width() - 1
        table_width = (rest - 1) // 2 if wide else rest
        who_width = 11 if name == "callers" else 14
        columns = [
            ("who", t("cockpit.col_phone" if name == "callers" else "cockpit.col_address"), who_width),
            ("calls", t("cockpit.col_calls"), 4),
        ]
        if wide:  # an address that names a village shows the village (grassroots), else the town
            columns.append(("town", t("cockpit.col_town" if name == "callers" else "grassroots.col_place"), 8))
        used = sum(w + 2 for _, _, w in columns) + 3  # cell padding and the scrollbar
        tags_width = max(8, table_width - used)
        columns.append(("tags", t("cockpit.col_tags"), tags_width))
        rows = []
        for f in items:
            who: Any = self._phone(f.key) if name == "callers" else safe(fit(f.key, who_width), single_line=True)
            cells: list[Any] = [who, str(f.calls)]
            if wide:
                from fengqiao.models.villages import village_in  # loaded with the villages' data

                town = ref.towns.get(f.town)
                place = village_in(ref.villages, f.town, f.key) if name != "callers" else None
                where = place or town
                cells.append(fit((where.name_zh if lang == "zh" else where.name_en) if where else f.town, 8))
            tags = [ref.tags[c].name_zh if lang == "zh" else ref.tags[c].name_en for c in f.tags if c in ref.tags]
            cells.append(fit("、".join(tags) if lang == "zh" else ", ".join(tags), tags_width))
            rows.append((f.key + "|" + f.town, tuple(cells)))
        self._sync(name, columns, rows)
        if name == "callers":
            title = t("cockpit.callers_title") + (t("cockpit.full_mark") if self._want_full and self._full else "")
            table = self._table("callers")
            if table.border_title != title:
                table.border_title = title

    def _sync(self, name: str, columns: list[tuple[str, str, int]], rows: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Show ``rows`` in a table with fixed column widths, touching only the cells that changed."""
        table = self._table(name)
        rows = [(key, tuple(c if isinstance(c, Text) else Text(str(c)) for c in cells)) for key, cells in rows]
        layout = repr(columns) + repr([k for k, _ in rows])
        self._layout[f"{name}_widths"] = str(sum(max(w, cell_len(label)) + 2 for _, label, w in columns) + 1)
        old = self._cells.get(name, {})
        if self._layout.get(name) != layout:
            self._layout[name] = layout
            cursor = table.cursor_row
            table.clear(columns=True)
            for key, label, width in columns:
                table.add_column(Text(label), key=key, width=max(width, cell_len(label)))
            for key, cells in rows:
                table.add_row(*cells, key=key)
            if rows:
                table.move_cursor(row=min(cursor, len(rows) - 1), animate=False)
        else:
            for key, cells in rows:
                before = old.get(key) or (None,) * len(cells)
                for (col, _, _), value, was in zip(columns, cells, before, strict=True):
                    if _plain(value) != _plain(was):
                        table.update_cell(key, col, value)
        self._cells[name] = {key: tuple(cells) for key, cells in rows}

    def _table(self, name: str) -> DataTable[Any]:
        from textual.widgets import DataTable

        return self.query_one(f"#cp-{name}", DataTable)

    def _times_text(self, month: dict[str, Any]) -> Text:
        """The last 30 days' times: median and 90th percentile of each step, and the dual-order arrival gap."""

        def pair(name: str, unit: float) -> str:
            p50, p90 = month[f"{name}_p50"], month[f"{name}_p90"]
            return "—" if p50 is None else f"{p50 / unit:.1f}/{p90 / unit:.1f}"

        text = Text(t("cockpit.times"), style="bold")
        for key, name, unit in (
            ("cockpit.t_sign", "sign_minutes", 1),
            ("cockpit.t_arrive", "arrive_minutes", 1),
            ("cockpit.t_feedback", "feedback_minutes", 60),
            ("cockpit.t_gap", "dual_gap_minutes", 1),
        ):
            text.append(f"  {t(key, value=pair(name, unit))}")
        return text

    def _feedback_text(self, live: Live) -> Text:
        """One line at 80 columns: labels and numbers separated by two spaces."""
        f = live.feedback
        items = [
            ("cockpit.awaiting_visit", f.awaiting_visit, ""),
            ("cockpit.awaiting_close", f.awaiting_close, ""),
            ("cockpit.feedback_overdue", f.feedback_overdue, "bold $error" if f.feedback_overdue else ""),
            ("cockpit.extension_pending", f.extension_pending, "$warning" if f.extension_pending else ""),
            ("cockpit.returns_to_judge", f.returns_to_judge, "$warning" if f.returns_to_judge else ""),
            ("cockpit.reworking", f.reworking, ""),
        ]
        text = Text(t("cockpit.feedback"), style="bold")
        for key, value, style in items:
            text.append(f"  {t(key)} ")
            text.append(str(value), style=self.style(style or "bold"))
        return text


def _num(value: int, style: str, mark: str = "") -> Text:
    return Text(f"{value}{mark if value else ''}", style=style if value else "")


def _plain(value: Any) -> Any:
    return value.plain + str(value.style) if isinstance(value, Text) else value
