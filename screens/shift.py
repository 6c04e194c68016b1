"""Shifts on the console: the operator signs in, and hands over to the next one (see ``store.shifts``).

* :class:`SignInScreen` — name, staff number and, where the desk's config asks, a PIN. Nothing else works
  until someone has signed in (F1 help and Ctrl+Q still do). From then on every event carries that operator.
* :class:`HandoverScreen` — ``give``: the outgoing operator sees what is open on this desk and what they
  promised callers (their notes for callers this shift), writes their notes, Enter hands over and signs out;
  ``take``: the incoming operator sees that handover (and what is open now) and acknowledges it with Enter.
  Both are recorded in the desk's hash-chained access log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from fengqiao.models.clock import fmt_local
from fengqiao.models.desk import Desk
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import t

from .base import LocalizedMixin, safe
from .context import DeskMixin
from .literal import LiteralInput

if TYPE_CHECKING:
    from fengqiao.store.board import BoardRow
    from fengqiao.store.shifts import Handover, Promise

# The sign-in is the console's first frame: the stores behind it and the handover are imported when used.

OPEN_LISTED = 8  # open orders named on the handover screen (the count says how many in all)

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90%; max-width: 84; height: auto; max-height: 100%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{name} Label {{ height: 1; margin-top: 1; text-style: bold; }}
{name} Input {{ height: 1; padding: 0 1; background: $boost; }}
{name} Input:focus {{ background: $primary 30%; }}
{name} .shift-sub {{ height: auto; color: $text-muted; }}
{name} #shift-error {{ height: auto; color: $error; text-style: bold; margin-top: 1; display: none; }}
{name} #shift-error.-shown {{ display: block; }}
{name} .form-hint {{ height: 1; color: $text-muted; margin-top: 1; }}
{name} VerticalScroll {{ height: auto; max-height: 14; }}
{name} .shift-section {{ height: auto; margin-top: 1; }}
"""


class SignInScreen(DeskMixin, LocalizedMixin, ModalScreen[Desk]):
    """Who is on shift. Returns the desk acting as the operator who signed in."""

    DEFAULT_CSS = _CSS.format(name="SignInScreen")
    # Enter is the fields' own (Input.Submitted): a screen binding on Enter runs ahead of the keys still queued
    # for the field, so "1024⏎" typed fast (or pasted) was read as an empty staff number. And the keys after an
    # Enter wait (the app holds them) until the focus has moved on or the form is gone: see _release.
    HOLDS_AFTER_ENTER = True

    class Done(Message):
        def __init__(self, desk: Desk | None, error: str | None, field: str | None) -> None:
            super().__init__()
            self.desk, self.error, self.field = desk, error, field

    def __init__(self, *, pin_required: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.pin_required = pin_required
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = t("shift.sign_in_title")
            yield Static(safe(self.ctx.desk.name, single_line=True), classes="shift-sub")
            yield Label(t("shift.name"))
            yield LiteralInput(id="shift-name", compact=True, max_length=40)
            yield Label(t("shift.staff_no"))
            yield LiteralInput(id="shift-staff", compact=True, max_length=20)
            if self.pin_required:
                yield Label(t("shift.pin"))
                yield Input(id="shift-pin", password=True, compact=True, max_length=12)
            yield Static("", id="shift-error")
            yield Static(t("shift.sign_in_hint"), classes="form-hint")

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = False
        self.query_one("#shift-name").focus()
        self.call_after_refresh(self._warm)

    def _warm(self) -> None:
        """Once the form is drawn: import what the sign-in's Enter will need, so it does not wait for it then."""
        import fengqiao.store.shifts  # noqa: F401

    def _ids(self) -> list[str]:
        return ["shift-name", "shift-staff"] + (["shift-pin"] if self.pin_required else [])

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_next_field(event.input.id)

    def action_next_field(self, current: str | None = None) -> None:
        ids = self._ids()
        if current is None:
            current = self.focused.id if self.focused is not None else None
        if current in ids and ids.index(current) + 1 < len(ids):
            self.query_one(f"#{ids[ids.index(current) + 1]}").focus()
            self._release()
            return
        self.submit()

    def _release(self) -> None:
        """The keys typed after the Enter go on now, to the field focused (the focus move is queued first)."""
        release = getattr(self.app, "release_keys", None)
        if release is not None:
            release()

    def submit(self) -> None:
        if self._busy:
            return  # the keys wait for the sign-in under way
        self._busy = True
        pin = self.query_one("#shift-pin", Input).value if self.pin_required else None
        self._sign_in(self.query_one("#shift-name", Input).value, self.query_one("#shift-staff", Input).value, pin)

    @work(thread=True, group="shift-sign-in", exclusive=True, exit_on_error=False)
    def _sign_in(self, name: str, staff: str, pin: str | None) -> None:
        from fengqiao.store.shifts import sign_in

        ctx = self.ctx
        try:
            _op, acting = sign_in(ctx.db, ctx.desk, name, staff, pin, pin_required=self.pin_required, clock=ctx.clock)
        except FengqiaoError as exc:
            self.post_message(self.Done(None, str(exc), getattr(exc, "field", None)))
            return
        self.post_message(self.Done(acting, None, None))

    @on(Done)
    async def _done(self, message: Done) -> None:
        if message.desk is not None:
            home = getattr(self.app, "wait_for_home", None)
            if home is not None:  # keys typed once this form is gone go to the screen beneath: it must be there
                await home()
            self._busy = False
            self.dismiss(message.desk)
            self._release()  # after the screen beneath has the focus back
            return
        self._busy = False
        error = self.query_one("#shift-error", Static)
        error.update(Text(message.error or ""))
        error.add_class("-shown")
        where = {"name": "shift-name", "operator": "shift-name", "staff_no": "shift-staff", "pin": "shift-pin"}
        target = where.get(message.field or "", "shift-pin" if self.pin_required else "shift-staff")
        if target == "shift-pin" and not self.pin_required:
            target = "shift-staff"
        self.query_one(f"#{target}").focus()
        if self.pin_required:
            self.query_one("#shift-pin", Input).value = ""
        self._release()


def open_lines(rows: list[BoardRow], total: int, ctx: Any) -> Text:
    """The open orders on this desk, one line each (``SZ-…  待签收 签收 3m00s  B01 消费纠纷``)."""
    from .orderfmt import countdown_cell, status_label, tag_label

    now = ctx.clock()
    text = Text(t("shift.open_count", count=total), style="bold")
    for row in rows:
        due, _level = countdown_cell(row.status, row.next_due_kind, row.next_due, row.next_due_start, now)
        text.append(f"\n{row.order_no}  {status_label(row.status, short=True)} ")
        text.append_text(due)
        text.append(f"  {tag_label(ctx.ref, row.tag)}")
    if total > len(rows):
        text.append("\n" + t("shift.open_more", count=total - len(rows)), style="dim")
    return text


def promise_lines(items: list[Promise] | list[dict[str, str]]) -> Text:
    from fengqiao.store.shifts import Promise

    text = Text(t("shift.promised", count=len(items)), style="bold")
    for p in items:
        order_no, words = (p.order_no, p.text) if isinstance(p, Promise) else (p.get("order_no", ""), p.get("text", ""))
        text.append(f"\n{order_no}  ")
        text.append_text(safe(words, single_line=True))
    if not items:
        text.append("\n" + t("shift.none"), style="dim")
    return text


class HandoverScreen(DeskMixin, LocalizedMixin, ModalScreen[bool]):
    """The handover: ``give`` (the outgoing operator) or ``take`` (the incoming one acknowledges ``handover``)."""

    DEFAULT_CSS = _CSS.format(name="HandoverScreen")
    BINDINGS = [
        Binding("enter", "confirm", "shift.confirm", priority=True, id="shift.confirm"),
        Binding("escape", "cancel", "form.cancel", id="shift.cancel"),
    ]

    class Loaded(Message):
        def __init__(self, rows: list[BoardRow], total: int, promised: list[Promise]) -> None:
            super().__init__()
            self.rows, self.total, self.promised = rows, total, promised

    class Saved(Message):
        def __init__(self, error: str | None) -> None:
            super().__init__()
            self.error = error

    def __init__(self, mode: str, handover: Handover | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.mode = mode  # give | take
        self.handover = handover
        self.rows: list[BoardRow] = []
        self.total = 0
        self.promised: list[Promise] = []
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = t(f"shift.{self.mode}_title")
            yield Static(self._heading(), classes="shift-sub")
            with VerticalScroll():
                if self.mode == "take" and self.handover is not None:
                    notes = Text(t("shift.their_notes"), style="bold")
                    notes.append("\n")
                    notes.append_text(safe(self.handover.notes or t("shift.none")))
                    yield Static(notes, classes="shift-section")
                    yield Static(promise_lines(self.handover.promised), classes="shift-section")
                yield Static(t("detail.loading"), id="shift-open", classes="shift-section")
                if self.mode == "give":
                    yield Static("", id="shift-promised", classes="shift-section")
            if self.mode == "give":
                yield Label(t("shift.my_notes"))
                yield LiteralInput(id="shift-notes", compact=True, placeholder=t("shift.notes_placeholder"))
            yield Static("", id="shift-error")
            yield Static(t(f"shift.{self.mode}_hint"), classes="form-hint")

    def _heading(self) -> Text:
        desk = self.ctx.desk
        if self.mode == "take" and self.handover is not None:
            return Text(t("shift.from", actor=self.handover.actor, at=fmt_local(self.handover.at), to=desk.actor))
        return Text(t("shift.by", actor=desk.actor, desk=desk.name))

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = False
        if self.mode == "give":
            self.query_one("#shift-notes").focus()
        self._load()

    @work(thread=True, group="shift-load", exclusive=True, exit_on_error=False)
    def _load(self) -> None:
        from fengqiao.store.board import BoardFilter, BoardQuery
        from fengqiao.store.shifts import promises, shift_start

        ctx = self.ctx
        try:
            board = BoardQuery(ctx.db, desk=ctx.desk, ref=ctx.ref, clock=ctx.clock)
            rows = board.page(BoardFilter(), limit=OPEN_LISTED)
            total = board.count(BoardFilter()).total
            given = promises(ctx.db, ctx.desk.actor, shift_start(ctx.db, ctx.desk)) if self.mode == "give" else []
        except FengqiaoError as exc:
            self.post_message(self.Saved(str(exc)))
            return
        self.post_message(self.Loaded(rows, total, given))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.rows, self.total, self.promised = message.rows, message.total, message.promised
        self.query_one("#shift-open", Static).update(open_lines(self.rows, self.total, self.ctx))
        if self.mode == "give":
            self.query_one("#shift-promised", Static).update(promise_lines(self.promised))

    def action_confirm(self) -> None:
        if self._busy:
            return
        self._busy = True
        notes = self.query_one("#shift-notes", Input).value if self.mode == "give" else ""
        self._save(notes)

    @work(thread=True, group="shift-save", exclusive=True, exit_on_error=False)
    def _save(self, notes: str) -> None:
        from fengqiao.store.shifts import acknowledge, hand_over

        ctx = self.ctx
        try:
            if self.mode == "give":
                hand_over(
                    ctx.db,
                    ctx.desk,
                    notes=notes,
                    open_orders=[r.order_no for r in self.rows],
                    open_count=self.total,
                    promised=self.promised,
                    clock=ctx.clock,
                )
            elif self.handover is not None:
                acknowledge(ctx.db, ctx.desk, self.handover, clock=ctx.clock)
        except FengqiaoError as exc:
            self.post_message(self.Saved(str(exc)))
            return
        self.post_message(self.Saved(None))

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        self._busy = False
        if message.error is None:
            self.dismiss(True)
            return
        error = self.query_one("#shift-error", Static)
        error.update(Text(message.error))
        error.add_class("-shown")

    def action_cancel(self) -> None:
        if self.mode == "give":  # not handing over after all: the shift goes on
            self.dismiss(False)
        else:
            self.app.bell()  # the incoming operator acknowledges before working
