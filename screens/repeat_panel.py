"""Recent calls from this phone and this address (last 30 days), with their orders' states.

A call from the same phone within 72 hours of an earlier order is a repeat call (重复报警) and is marked "!".
The highlighted row is what F10 links the new call to; it starts on the newest open order (the 72-hour repeat
first). The rows are loaded by the intake screen's thread worker; this widget only draws them.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from fengqiao.models.clock import local
from fengqiao.models.i18n import get_lang, name, t
from fengqiao.models.reference import Reference
from fengqiao.models.text import compact_address
from fengqiao.store.orders import REPEAT_WINDOW, CallSummary, Repeat

from .base import safe
from .messages import UrgeRequested

OPEN = frozenset({"dispatched", "signed", "arrived", "returned", "fed_back", "visited"})
COMPACT_BELOW = 110  # columns: below this the list shows short order numbers and tag codes only


def short_order_no(order_no: str | None) -> str:
    """``SZ-20261128-0042`` as ``1128-0042`` (month, day and number: enough to tell this caller's orders apart)."""
    if not order_no:
        return "—"
    parts = order_no.split("-")
    if len(parts) == 3 and len(parts[1]) == 8:
        return f"{parts[1][4:]}-{parts[2]}"
    return order_no


class RepeatPanel(Vertical):
    # The one binding of the desk branch here: urge (催办) the highlighted call's order (the app handles it).
    BINDINGS: ClassVar[list[BindingType]] = [Binding("u", "urge", "intake.urge", id="intake.urge")]

    def action_urge(self) -> None:
        row = self.table.cursor_row
        order_no = self.rows[row].order_no if 0 <= row < len(self.rows) else None
        self.post_message(UrgeRequested(order_no or ""))

    DEFAULT_CSS = """
    RepeatPanel { height: auto; padding: 0 1; }
    RepeatPanel #recent-title { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    RepeatPanel DataTable { height: auto; max-height: 5; scrollbar-size-horizontal: 0; }
    RepeatPanel.-empty DataTable { display: none; }
    RepeatPanel.-repeat #recent-title { color: $warning; text-style: bold; }
    """

    def __init__(self, ref: Reference, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.ref = ref
        self.rows: list[CallSummary] = []
        self.repeat: Repeat | None = None
        self.phone = ""
        self.address = ""
        self._compact = False
        self._now: datetime | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(t("intake.recent_empty"), style="dim"), id="recent-title")
        yield DataTable(cursor_type="row", zebra_stripes=True, show_cursor=True)

    def on_mount(self) -> None:
        self.add_class("-empty")
        self._columns(self._iscompact_address())

    def _iscompact_address(self) -> bool:
        """Narrow screens (80 columns): short order numbers and tag codes, so the caller's words have room."""
        width = self.size.width or self.app.size.width
        return width < COMPACT_BELOW

    def _columns(self, compact: bool) -> None:
        self._compact = compact
        en = get_lang() == "en"
        table = self.table
        table.clear(columns=True)
        table.add_column(t("intake.col_time"), key="time", width=12)
        table.add_column(t("intake.col_rel"), key="rel", width=(5 if en else 4) if compact else (7 if en else 8))
        table.add_column(t("intake.col_order"), key="order", width=9 if compact else 16)
        table.add_column(t("intake.col_tag"), key="tag", width=4 if compact else (20 if en else 16))
        table.add_column(t("intake.col_status"), key="status", width=(10 if en else 6))
        table.add_column(t("intake.col_text"), key="text")

    def on_resize(self) -> None:
        if self._iscompact_address() != self._compact:
            self._columns(not self._compact)
            if self.rows and self._now is not None:
                self.show(self.rows, self.repeat, self.phone, self.address, self._now)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one(DataTable)

    def clear_rows(self) -> None:
        self.rows, self.repeat, self.phone, self.address = [], None, "", ""
        self.table.clear()
        self.add_class("-empty")
        self.remove_class("-repeat")
        self.query_one("#recent-title", Static).update(Text(t("intake.recent_empty"), style="dim"))

    def show(self, rows: list[CallSummary], repeat: Repeat | None, phone: str, address: str, now: datetime) -> None:
        self.rows, self.repeat, self.phone, self.address = rows, repeat, phone, address
        self._now = now
        compact = self._iscompact_address()
        if compact != self._compact:
            self._columns(compact)
        table = self.table
        table.clear()
        for r in rows:
            same_address = bool(address) and compact_address(r.address) == compact_address(address)
            rel = (
                t("intake.rel_both")
                if r.same_phone and same_address
                else t("intake.rel_phone")
                if r.same_phone
                else t("intake.rel_address")
            )
            recent = r.same_phone and now - r.received_at <= REPEAT_WINDOW
            when = Text(
                ("!" if recent else " ") + local(r.received_at).strftime("%m-%d %H:%M"),
                style="bold yellow" if recent else "",
            )
            if r.tag and compact:
                tag_text = Text(r.tag)
            elif r.tag:
                tag = self.ref.tags[r.tag]
                tag_text = Text(f"{r.tag} {name(tag)}", no_wrap=True)
            else:
                tag_text = Text("")
            if r.linked:
                status = Text(t("intake.linked_call"), style="dim")
            elif r.status:
                status = Text(t(f"status.{r.status}"), style="green" if r.status in OPEN else "dim")
            else:
                status = Text("")
            table.add_row(
                when,
                Text(rel),
                Text(short_order_no(r.order_no) if compact else r.order_no or "—"),
                tag_text,
                status,
                safe(r.description, single_line=True),
                key=r.call_id,
            )
        self.set_class(not rows, "-empty")
        self.set_class(repeat is not None, "-repeat")
        self.query_one("#recent-title", Static).update(self._title(rows, repeat))
        target = self.default_target()
        if target is not None:
            table.move_cursor(row=target, animate=False)

    def _title(self, rows: list[CallSummary], repeat: Repeat | None) -> Text:
        if not rows:
            return Text(t("intake.recent_none"), style="dim")
        by_phone = sum(1 for r in rows if r.same_phone)
        by_address = sum(
            1 for r in rows if self.address and compact_address(r.address) == compact_address(self.address)
        )
        text = Text(no_wrap=True, overflow="ellipsis")
        if repeat is not None:
            text.append(t("intake.repeat_mark", order_no=repeat.order_no, status=t(f"status.{repeat.status}")) + "  ")
        else:
            text.append(t("intake.recent_title", phone=by_phone, address=by_address) + "  ")
        target = self.target()
        if target is not None:
            text.append(t("intake.link_hint"), style="bold reverse")
        return text

    # ---- what F10 links to ---------------------------------------------------------------------
    def _linkable(self, r: CallSummary) -> bool:
        return bool(r.order_no) and not r.linked and r.status in OPEN

    def default_target(self) -> int | None:
        """The row F10 links to by default: the 72-hour repeat if its order is open, else the newest open order."""
        if self.repeat is not None and self.repeat.open:
            for i, r in enumerate(self.rows):
                if r.order_no == self.repeat.order_no:
                    return i
        for i, r in enumerate(self.rows):
            if self._linkable(r):
                return i
        return None

    def target(self) -> CallSummary | None:
        """The order F10 would link to now: the highlighted row if its order is open, else the default."""
        if not self.rows:
            return None
        row = self.table.cursor_row
        if 0 <= row < len(self.rows) and self._linkable(self.rows[row]):
            return self.rows[row]
        default = self.default_target()
        return None if default is None else self.rows[default]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.rows:
            self.query_one("#recent-title", Static).update(self._title(self.rows, self.repeat))
