"""Open orders board (F6; the home screen of department desks).

Every open order this desk sees, one page at a time straight from SQL (:mod:`store.board`): the table holds
exactly the rows that fit on screen. Moving past the last row, PageDown/PageUp, Home and End fetch the next
slice by its sort key (keyset paging), so the board behaves the same with a hundred orders or a million.

* A live countdown to each order's next deadline; near-due (under 20% of the window left) and overdue rows
  are marked with a symbol and a word as well as colour. The once-a-second tick rewrites only the countdown
  (and age) cells whose text changed.
* When the store changes (``StoreChanged``) the page is read again and only changed cells are rewritten.
* Search (``/``): order number, phone, address, words of the description. Filters (F3): state, department,
  category, town, overdue only, repeat calls only, dual only; sort (F4): deadline, age, newest, town.
  F8 is the supervisor's escalation queue: open overdue orders, the longest overdue first.
* Single-letter actions on the focused row (see :mod:`screens.actions`), Enter for the detail; ``g`` merges other
  orders into the focused one, ``z`` undoes that, ``l`` splits it into child orders (:mod:`screens.merging`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.widgets.data_table import ColumnKey, RowKey

from fengqiao.models.errors import FengqiaoError, NotFound
from fengqiao.models.i18n import name, t
from fengqiao.models.text import ELLIPSIS, cut_point
from fengqiao.models.urgency import Urgency
from fengqiao.store.board import BoardCounts, BoardFilter, BoardQuery, BoardRow

from .actions import ACTION_BINDINGS, ActionsMixin, Offer
from .base import LocalizedMixin, safe
from .boardfilter import FilterScreen, filter_summary
from .literal import LiteralInput
from .merging import MERGE_BINDINGS, MergeMixin
from .messages import StoreChanged
from .orderfmt import age_text, assignee_label, countdown_cell, flags_text, short_no, status_label, tag_label
from .palette import ScreenKeys

log = logging.getLogger("fengqiao.board")

WIDE = 110  # from this width on: full order numbers, full town names and the call's address and words
SEARCH_DELAY = 0.3


def fit(text: str | Text, width: int) -> Text:
    """One cell of the board: a leading space, then ``text`` cut to ``width - 1`` cells with an ellipsis."""
    body = text.copy() if isinstance(text, Text) else Text(text)
    body.end = ""
    room = width - 1
    if body.cell_len > room:
        body = body[: cut_point(body.plain, room - 1)[0]]
        body.append(ELLIPSIS)
    out = Text(" ", end="")
    out.append_text(body)
    return out


def short_town(ref: Any, code: str) -> str:
    town = ref.towns.get(code)
    if town is None:
        return code
    label = name(town)
    for suffix in ("街道", "镇", "乡", " Subdistrict", " Township", " Town"):
        if label.endswith(suffix) and len(label) > len(suffix):
            return label[: -len(suffix)]
    return label


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


class BoardTable(LocalizedMixin, DataTable[Text]):
    """A DataTable that shows one page and asks the board for more at its edges."""

    BINDINGS: ClassVar = [
        Binding("enter", "select_cursor", "board.detail", show=True, id="board.detail"),
        Binding("pagedown", "edge('next')", "builtin.page_down", show=False),
        Binding("pageup", "edge('prev')", "builtin.page_up", show=False),
        Binding("home,ctrl+home", "edge('first')", "builtin.scroll_home", show=False),
        Binding("end,ctrl+end", "edge('last')", "builtin.scroll_end", show=False),
    ]

    class Edge(Message):
        """The cursor wants to leave the page: ``down``/``up`` one row, ``next``/``prev`` page, ``first``/``last``."""

        def __init__(self, move: str) -> None:
            super().__init__()
            self.move = move

    class Resized(Message):
        """The table's size changed: the page may hold more or fewer rows."""

    def on_resize(self) -> None:
        self.post_message(self.Resized())

    def action_edge(self, move: str) -> None:
        """PgDn/PgUp first move to the last/first row on screen, then a page on; Home/End to the very ends."""
        if move == "next" and self.row_count and self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.row_count - 1, animate=False)
            return
        if move == "prev" and self.row_count and self.cursor_row > 0:
            self.move_cursor(row=0, animate=False)
            return
        self.post_message(self.Edge(move))

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.Edge("down"))
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0:
            self.post_message(self.Edge("up"))
        else:
            super().action_cursor_up()

    def set_cells(self, changes: list[tuple[str, str, Text]]) -> None:
        """Change a few cells and repaint only those cells (the countdown tick: quiet over SSH)."""
        if not changes:
            return
        coords = []
        for row_key, column_key, value in changes:
            rk, ck = RowKey(row_key), ColumnKey(column_key)
            if rk not in self._row_locations or ck not in self._column_locations:
                continue
            self._data[rk][ck] = value
            coords.append(Coordinate(self.get_row_index(rk), self.get_column_index(ck)))
        self._update_count += 1  # the render caches are keyed by this
        for coord in coords:
            self.refresh_coordinate(coord)


class BoardScreen(MergeMixin, ActionsMixin, LocalizedMixin, Screen[None]):
    COMMANDS: ClassVar = {ScreenKeys}

    DEFAULT_CSS = """
    BoardScreen #board-top { height: 1; }
    BoardScreen #board-search { width: 1fr; max-width: 48; height: 1; padding: 0 1; background: $boost; }
    BoardScreen #board-search:focus { background: $primary 30%; }
    BoardScreen #board-filters { width: 1fr; height: 1; padding: 0 1; color: $text-muted; }
    BoardScreen #board-filters.-filtered { color: $warning; text-style: bold; }
    BoardScreen BoardTable { height: 1fr; scrollbar-size: 0 0; }
    BoardScreen #board-status { height: 1; padding: 0 1; background: $panel; }
    """

    BINDINGS: ClassVar = [
        *ACTION_BINDINGS,
        *MERGE_BINDINGS,  # g merge, z undo a merge, l split (screens/merging.py)
        Binding("slash,f2", "search", "board.search", show=True, id="board.search"),
        Binding("f3", "filters", "board.filters", show=True, id="board.filters"),
        Binding("f4", "sort", "board.sort_next", show=False, id="board.sort_next"),
        Binding("f8", "queue", "board.queue", show=False, id="board.queue"),
        Binding("w", "app.warnings", "govui.open_panel", show=False, id="board.warnings"),
        Binding("escape", "reset", "board.reset", show=False, id="board.reset"),
        Binding("ctrl+r", "reload", "board.reload", show=False, id="board.reload"),
    ]

    class PageReady(Message):
        def __init__(self, gen: int, rows: list[BoardRow], offset: int, cursor: int | None) -> None:
            super().__init__()
            self.gen, self.rows, self.offset, self.cursor = gen, rows, offset, cursor

    class CountReady(Message):
        def __init__(self, gen: int, counts: BoardCounts, crossing: datetime | None) -> None:
            super().__init__()
            self.gen, self.counts, self.crossing = gen, counts, crossing

    class OfferReady(Message):
        def __init__(self, order_id: str, offer: Offer | None) -> None:
            super().__init__()
            self.order_id, self.offer = order_id, offer

    class LoadFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filter = BoardFilter()
        self._saved_filter: BoardFilter | None = None  # the filter to return to from the escalation queue
        self.rows: list[BoardRow] = []
        self.start_index = 0
        self.counts: BoardCounts | None = None
        self._crossing: datetime | None = None
        self._gen = 0
        self._count_gen = 0
        self._columns: list[Column] = []
        self._page_size = 0
        self._shown: dict[tuple[str, str], str] = {}  # (order id, column) -> what the cell shows now
        self._levels: dict[str, Urgency] = {}
        self._offer: Offer | None = None
        self._offer_wanted: tuple[str, datetime] | None = None
        self._search_timer: Any = None

    # ---- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield self.desk_app.make_header()
        with Horizontal(id="board-top"):
            yield LiteralInput(
                placeholder=t("board.search_placeholder"), id="board-search", select_on_focus=False, compact=True
            )
            yield Static("", id="board-filters")
        yield BoardTable(id="board-table", cursor_type="row", cell_padding=0, zebra_stripes=False)
        yield Static("", id="board-status")
        yield Footer()

    @property
    def table(self) -> BoardTable:
        return self.query_one(BoardTable)

    def on_mount(self) -> None:
        ctx = self.ctx
        self.board = BoardQuery(ctx.db, desk=ctx.desk, ref=ctx.ref, clock=ctx.clock)
        self.query_one("#board-search", Input).cursor_blink = False
        self._show_filters()
        self.table.focus()
        self.set_interval(1.0, self._tick)
        self.call_after_refresh(self._layout_and_load)

    def _layout_and_load(self) -> None:
        self._fit_columns(force=True)
        self.reload("first")

    @on(BoardTable.Resized)
    def _table_resized(self) -> None:
        self.call_after_refresh(self._after_resize)

    def _after_resize(self) -> None:
        if not self._columns:
            return
        changed = self._fit_columns()
        size = self._visible_rows()
        if changed or size != self._page_size:
            self.reload("same")

    def _visible_rows(self) -> int:
        return max(1, self.table.size.height - 1)

    def _make_columns(self, width: int) -> list[Column]:
        ref = self.ctx.ref
        wide = width >= WIDE
        status_w = 1 + max(
            cell_len(status_label(s, short=True))
            for s in ("dispatched", "signed", "arrived", "fed_back", "visited", "returned", "closed", "cancelled")
        )
        due_w = 1 + max(
            cell_len(t("board.late", step=t(f"board.step_{k}"), time="99m59s")) + 1
            for k in ("sign", "arrive", "feedback")
        )
        due_w = max(
            due_w, 1 + max(cell_len(t(k)) for k in ("board.wait_visit", "board.wait_close", "board.wait_reassign"))
        )
        if wide:
            town_w = 1 + max(cell_len(name(tw)) for tw in ref.towns.values())
        else:
            town_w = 1 + max(cell_len(short_town(ref, c)) for c in ref.towns)
        town_w = min(town_w, 12)
        no_w = 1 + (16 if wide else 12)
        fixed = [
            ("no", no_w),
            ("status", status_w),
            ("due", due_w),
            ("town", town_w),
            ("age", 7),
            ("flags", 1 + (6 if wide else 4)),
        ]
        room = width - sum(w for _, w in fixed) - 1
        if wide:
            tag_w, asg_w = 24, 20
            text_w = max(room - tag_w - asg_w, 10)
        else:
            tag_w = max(room // 2, 6)
            asg_w = max(room - tag_w, 6)
            text_w = 0
        widths = dict(fixed) | {"tag": tag_w, "assignee": asg_w, "text": text_w}
        order = ["no", "status", "due", "tag", "assignee", "town", "age", "flags"] + (["text"] if wide else [])
        return [Column(k, t(f"board.col_{k}"), widths[k]) for k in order]

    def _fit_columns(self, force: bool = False) -> bool:
        width = self.table.size.width or self.size.width
        columns = self._make_columns(width)
        if not force and columns == self._columns:
            return False
        self._columns = columns
        table = self.table
        table.clear(columns=True)
        for col in columns:
            table.add_column(fit(col.label, col.width), width=col.width, key=col.key)
        self._shown.clear()
        self._fill(self.rows, cursor=None)
        return True

    # ---- cells ---------------------------------------------------------------------------------
    def _cells(self, row: BoardRow, now: datetime) -> dict[str, Text]:
        ref, lang = self.ctx.ref, self.ctx.lang
        widths = {c.key: c.width for c in self._columns}
        wide = "text" in widths
        due, level = countdown_cell(row.status, row.next_due_kind, row.next_due, row.next_due_start, now)
        self._levels[row.id] = level
        assignee = assignee_label(ref, row.primary_assignee, lang)
        cells = {
            "no": Text(
                row.order_no if wide else short_no(row.order_no), style="bold" if level == Urgency.OVERDUE else ""
            ),
            "status": Text(status_label(row.status, short=True)),
            "due": due,
            "tag": Text(tag_label(ref, row.tag)),
            "assignee": Text(assignee),
            "town": Text(name(ref.towns[row.town]) if wide and row.town in ref.towns else short_town(ref, row.town)),
            "age": Text(age_text(row.call_at, now)),
            "flags": Text(flags_text(row.mode, row.repeat, row.escalations)),
        }
        if row.attention:  # waiting for someone on this desk: floats to the top until looked at
            cells["no"].stylize("bold reverse")
            cells["flags"] = Text(t(f"alert.flag_{row.attention}"), style="bold").append_text(cells["flags"])
        if wide:
            text = safe(row.address, single_line=True)
            if row.address:
                text.append(" · ")
            text.append_text(safe(row.description, single_line=True))
            cells["text"] = text
        return {k: fit(v, widths[k]) for k, v in cells.items() if k in widths}

    @staticmethod
    def _sig(cell: Text) -> str:
        return f"{cell.plain}\x00{cell.style}\x00{[(s.start, s.end, str(s.style)) for s in cell.spans]}"

    def _changed(self, row_id: str, cells: Iterable[tuple[str, Text]]) -> list[tuple[str, str, Text]]:
        """The cells of row ``row_id`` that differ from what is shown (remembered as shown from now on)."""
        changes = []
        for key, cell in cells:
            sig = self._sig(cell)
            if self._shown.get((row_id, key)) != sig:
                self._shown[(row_id, key)] = sig
                changes.append((row_id, key, cell))
        return changes

    def _fill(self, rows: list[BoardRow], cursor: int | None, keep_id: str | None = None) -> None:
        """Show ``rows``: rewrite only changed cells when the same orders are on the page, else rebuild."""
        table = self.table
        now = self.ctx.clock()
        same = [r.id for r in rows] == [str(k.value) for k in table.rows]
        if same:
            table.set_cells([c for row in rows for c in self._changed(row.id, self._cells(row, now).items())])
            if rows and cursor is not None and cursor != table.cursor_row:  # Home/End on a page that stays
                table.move_cursor(row=max(0, min(cursor, len(rows) - 1)), animate=False)
        else:
            old_row = table.cursor_row
            table.clear()
            self._shown.clear()
            self._levels.clear()
            for row in rows:
                cells = self._cells(row, now)
                for key, cell in cells.items():
                    self._shown[(row.id, key)] = self._sig(cell)
                table.add_row(*[cells[c.key] for c in self._columns], key=row.id)
            if rows:
                index = cursor if cursor is not None else old_row
                if keep_id is not None:
                    ids = [r.id for r in rows]
                    if keep_id in ids:
                        index = ids.index(keep_id)
                table.move_cursor(row=max(0, min(index, len(rows) - 1)), animate=False)
        self.rows = rows
        self._focus_changed()

    def _tick(self) -> None:
        """Once a second: rewrite the countdown and age cells whose text changed; notice deadlines passing."""
        if not self.rows or not self._columns:
            return
        now = self.ctx.clock()
        widths = {c.key: c.width for c in self._columns}
        changes = []
        crossed = False
        for row in self.rows:
            due, level = countdown_cell(row.status, row.next_due_kind, row.next_due, row.next_due_start, now)
            if level != self._levels.get(row.id):
                crossed = crossed or level == Urgency.OVERDUE
                self._levels[row.id] = level
            changes += self._changed(
                row.id, (("due", fit(due, widths["due"])), ("age", fit(age_text(row.call_at, now), widths["age"])))
            )
        self.table.set_cells(changes)
        if crossed:
            self._offer = None  # escalation may have become possible: ask the store again
            self._offer_wanted = None
            self._focus_changed()
        if crossed or (self._crossing is not None and now >= self._crossing):
            self._crossing = None
            self.reload("same")

    # ---- loading -------------------------------------------------------------------------------
    def reload(self, move: str = "same") -> None:
        """Read the page again (``same``), or move: ``first``, ``last``, ``next``, ``prev``, ``down``, ``up``."""
        if not self._columns:
            return
        self._page_size = self._visible_rows()
        self._gen += 1
        self._fetch(
            self._gen, move, self.filter, list(self.rows), self.start_index, self._page_size, self.table.cursor_row
        )
        if move in ("same", "first", "last"):
            self._count_gen += 1
            self._count(self._count_gen, self.filter)

    @work(thread=True, group="board-page", exclusive=True, exit_on_error=False)
    def _fetch(
        self, gen: int, move: str, f: BoardFilter, rows: list[BoardRow], offset: int, size: int, cursor: int
    ) -> None:
        try:
            result = self._page(move, f, rows, offset, size, cursor)
        except FengqiaoError as exc:
            self.post_message(self.LoadFailed(str(exc)))
            return
        if result is not None:
            self.post_message(self.PageReady(gen, *result))

    def _page(
        self, move: str, f: BoardFilter, rows: list[BoardRow], offset: int, size: int, cursor: int
    ) -> tuple[list[BoardRow], int, int | None] | None:
        """The rows after ``move`` (runs in a worker thread). ``None``: nothing to do."""
        board = self.board
        if move == "first" or (move == "same" and (offset == 0 or not rows)):
            return board.page(f, limit=size), 0, None if move == "same" else 0
        if move == "same":
            page = board.page(f, start=rows[0].key, limit=size)
            if len(page) < size:  # rows went away at the end: show a full page that ends at the last row
                page = board.page(f, last=True, limit=size)
                return page, max(offset - (size - len(page)), 0), None
            return page, offset, None
        if move == "last":
            page = board.page(f, last=True, limit=size)
            total = board.count(f).total
            return page, max(total - len(page), 0), len(page) - 1
        if not rows:
            return None
        if move == "down":
            more = board.page(f, after=rows[-1].key, limit=1)
            if not more:
                return None
            return (rows + more)[-size:], offset + 1, size - 1
        if move == "up":
            more = board.page(f, before=rows[0].key, limit=1)
            if not more:
                return None
            return (more + rows)[:size], max(offset - 1, 0), 0
        if move == "next":
            page = board.page(f, after=rows[-1].key, limit=size)
            if not page:
                return rows, offset, len(rows) - 1
            if len(page) < size:  # the end: a full last page
                tail = board.page(f, last=True, limit=size)
                return tail, offset + len(rows) + len(page) - len(tail), len(tail) - 1
            return page, offset + len(rows), min(cursor, len(page) - 1)
        if move == "prev":
            page = board.page(f, before=rows[0].key, limit=size)
            if len(page) < size:
                return board.page(f, limit=size), 0, 0
            return page, max(offset - len(page), 0), min(cursor, len(page) - 1)
        return None

    @work(thread=True, group="board-count", exclusive=True, exit_on_error=False)
    def _count(self, gen: int, f: BoardFilter) -> None:
        try:
            counts = self.board.count(f)
            crossing = self.board.next_crossing(f)
        except FengqiaoError as exc:
            self.post_message(self.LoadFailed(str(exc)))
            return
        self.post_message(self.CountReady(gen, counts, crossing))

    @on(PageReady)
    def _page_ready(self, message: PageReady) -> None:
        if message.gen != self._gen:
            return
        keep = self.rows[self.table.cursor_row].id if self.rows and message.cursor is None else None
        self.start_index = message.offset
        self._fill(message.rows, message.cursor, keep_id=keep)
        self._show_status()

    @on(CountReady)
    def _count_ready(self, message: CountReady) -> None:
        if message.gen != self._count_gen:
            return
        self.counts = message.counts
        self._crossing = message.crossing
        self._show_status()

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        self._offer_wanted = None
        self.notify(message.error, severity="error", markup=False, timeout=8)

    @on(BoardTable.Edge)
    def _edge(self, message: BoardTable.Edge) -> None:
        self.reload(message.move)

    def on_store_changed(self, _message: StoreChanged) -> None:
        self.reload("same")

    def on_screen_resume(self) -> None:
        if self._columns:
            self._offer = None
            self._offer_wanted = None
            self.reload("same")

    # ---- status lines --------------------------------------------------------------------------
    def _show_status(self) -> None:
        parts = []
        if self.rows:
            first, last = self.start_index + 1, self.start_index + len(self.rows)
            if self.counts is not None:
                total = f"{self.counts.total:,}" + ("+" if self.counts.capped else "")
                parts.append(t("board.rows_of", first=first, last=last, total=total))
            else:
                parts.append(t("board.rows", first=first, last=last))
        elif self.counts is not None:
            parts.append(t("board.empty"))
        if self.counts is not None and self.counts.overdue:
            parts.append(t("board.overdue_count", count=f"{self.counts.overdue:,}"))
        parts.append(t("board.sorted_by", sort=t(f"board.sort_{self.filter.sort}")))
        self.query_one("#board-status", Static).update(Text(" · ".join(parts)))

    def _show_filters(self) -> None:
        widget = self.query_one("#board-filters", Static)
        summary = filter_summary(self.filter, self.ctx.ref)
        widget.update(Text(summary))
        widget.set_class(not self.filter.is_default() or bool(self.filter.search), "-filtered")

    # ---- the focused order ---------------------------------------------------------------------
    def focused_row(self) -> BoardRow | None:
        if not self.rows:
            return None
        index = self.table.cursor_row
        return self.rows[index] if 0 <= index < len(self.rows) else None

    def current_offer(self) -> Offer | None:
        row = self.focused_row()
        offer = self._offer
        if row is None or offer is None or offer.state.id != row.id:
            return None
        return offer

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._focus_changed()

    def _focus_changed(self) -> None:
        row = self.focused_row()
        if row is None:
            self._offer = None
            self.refresh_bindings()
            return
        offer = self._offer
        if offer is not None and offer.state.id == row.id and offer.state.updated_at == row.updated_at:
            return
        wanted = (row.id, row.updated_at)
        if self._offer_wanted == wanted:
            return  # already on its way
        self._offer_wanted = wanted
        self._load_offer(row.order_no, row.id)

    @work(thread=True, group="board-focus", exclusive=True, exit_on_error=False)
    def _load_offer(self, order_no: str, order_id: str) -> None:
        store = self.ctx.store
        try:
            state = store.order(order_no)
            offer = Offer(state, store.allowed(state))
        except NotFound:
            offer = None
        except FengqiaoError as exc:
            self.post_message(self.LoadFailed(str(exc)))
            return
        self.post_message(self.OfferReady(order_id, offer))

    @on(OfferReady)
    def _offer_ready(self, message: OfferReady) -> None:
        if self._offer_wanted is not None and self._offer_wanted[0] == message.order_id:
            self._offer_wanted = None
        row = self.focused_row()
        if row is None or row.id != message.order_id:
            return
        self._offer = message.offer
        self.refresh_bindings()

    def after_action(self, state: Any) -> None:
        self._offer = None
        self._offer_wanted = None
        self.reload("same")

    # ---- keys ----------------------------------------------------------------------------------
    @on(DataTable.RowSelected)
    def _open_detail(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = self.focused_row()
        if row is not None:
            from .detail import DetailScreen

            self.app.push_screen(DetailScreen(row.order_no))

    def action_search(self) -> None:
        self.query_one("#board-search", Input).focus()

    @on(Input.Changed, "#board-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY, lambda: self._apply_search(event.value))

    def _apply_search(self, text: str) -> None:
        if text != self.filter.search:
            self.set_filter(replace(self.filter, search=text))

    @on(Input.Submitted, "#board-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply_search(event.value)
        self.table.focus()

    def set_filter(self, f: BoardFilter) -> None:
        self.filter = f
        self._show_filters()
        self.rows = []
        self.start_index = 0
        self.counts = None
        self.reload("first")

    def show_dept(self, code: str) -> None:
        """Every open order of one unit (the cockpit's Enter on a department row)."""
        self._saved_filter = None
        self.query_one("#board-search", Input).value = ""
        self.set_filter(BoardFilter(dept=code))

    def action_filters(self) -> None:
        def done(result: BoardFilter | None) -> None:
            if result is not None:
                self.set_filter(replace(result, search=self.filter.search))

        self.app.push_screen(FilterScreen(self.filter, self.ctx.desk, self.ctx.ref), done)

    def action_sort(self) -> None:
        from fengqiao.store.board import SORTS

        nxt = SORTS[(SORTS.index(self.filter.sort) + 1) % len(SORTS)]
        self.set_filter(replace(self.filter, sort=nxt))
        self.notify(t("board.sorted_by", sort=t(f"board.sort_{nxt}")), timeout=2)

    def action_queue(self) -> None:
        if self.filter.is_escalation_queue and self._saved_filter is not None:
            restored, self._saved_filter = self._saved_filter, None
            self.set_filter(restored)
            return
        self._saved_filter = self.filter
        self.set_filter(self.filter.escalation_queue())
        self.notify(t("board.queue_on"), timeout=3)

    def action_reset(self) -> None:
        search = self.query_one("#board-search", Input)
        if search.has_focus and search.value:
            search.value = ""
            self._apply_search("")
            return
        if search.has_focus:
            self.table.focus()
            return
        if not self.filter.is_default() or self.filter.search or self.filter.sort != "due":
            search.value = ""
            self._saved_filter = None
            self.set_filter(BoardFilter())

    def action_reload(self) -> None:
        self._offer = None
        self._offer_wanted = None
        self.reload("same")
