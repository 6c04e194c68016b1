"""Call intake: the call-taker's home screen. Phone rings → order sent, without the mouse.

Fields: phone, caller name (optional), town (``hz`` → 黄泽镇), address, description, and the tag. Enter moves
to the next field a call needs (from the phone it skips the optional name); Tab visits every field. While
the description is typed, the top three tags are suggested (F2/F3/F4 take one and open the dispatch
preview); F8 chooses a tag by hand; F9 opens the preview for the chosen tag; Enter there sends. While the
phone (and address) is typed, the last 30 days of calls from that number and address are listed with their
orders' states; F10 links the call to the highlighted open order instead of opening a duplicate.

Every database touch runs in a thread worker that posts a message back; the form is only cleared after the
store confirmed the write, so a failed write loses nothing.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, Static
from textual.worker import get_current_worker

from fengqiao.models.clock import local
from fengqiao.models.desk import Role
from fengqiao.models.errors import FengqiaoError, PermissionDenied, ValidationError
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.phone import fold_width, normalize_phone
from fengqiao.models.reference import Reference
from fengqiao.models.text import LIMITS

from .base import ComposedLater, LocalizedMixin, drain, safe
from .context import DeskMixin
from .form_field import FormInput
from .messages import PasteRefused, StoreChanged

if TYPE_CHECKING:
    from textual.widgets import TextArea

    from fengqiao.models.answers import Answer
    from fengqiao.models.classifier import Classifier, Suggestion
    from fengqiao.models.governance import NoticeState
    from fengqiao.models.intake import Draft, IntakeForm
    from fengqiao.models.machine import OrderState
    from fengqiao.store.governance import Touching
    from fengqiao.store.orders import CallSummary, OrderStore, Repeat

    from .address_field import AddressInput
    from .dispatch_preview import DispatchChoice
    from .gov_banner import GovBanner
    from .repeat_panel import RepeatPanel
    from .suggestion_bar import SuggestionBar
    from .town_field import TownField

# The form's own modules (its fields' finders, the classifier, the dispatch preview, the stores it reads) are
# imported where they are used, from the form's composition on: a console that asks who is on shift draws that
# first, and only then composes this form (ComposedLater.compose_content).


def build_classifier(ref: Reference, history: list[tuple[str, str]]) -> Classifier:
    """The suggester for this desk (in the classifier's worker thread, which imports its module)."""
    from fengqiao.models.classifier import build_classifier as build

    return build(ref, history)


ADDRESS_DELAY = 0.4  # seconds of quiet before an address lookup
CLEAR_CONFIRM = 3.0  # seconds within which a second Ctrl+N clears a filled form
DRAFT_DELAY = 0.5  # seconds of quiet before the form is kept as a draft
DRAFT_MAX_WAIT = 0.8  # ... and at least this often while typing goes on (a crash loses at most about a second)
QUIT_CONFIRM = 30.0  # a second Ctrl+Q within this quits with a call being taken (typing in between disarms it)


FIELD_IDS = {"phone": "#phone", "name": "#name", "town": "#town", "address": "#address", "description": "#description"}


class FormBox(Vertical):
    """The intake's form (``#form``). The form's CSS is this class's, not the screen's: Textual parses a widget
    class's CSS when the class is first mounted, so the console's first frame (the sign-in over a form not yet
    composed) does not parse it, and not again each time a mode's screen re-parses the app's CSS."""

    SCOPED_CSS = False  # the rules name the screen (its -wide/-tall/-huge classes) and the recent-calls panel
    DEFAULT_CSS = """
    IntakeScreen #form { height: 1fr; padding: 0 1; }
    IntakeScreen .row { height: 1; margin-bottom: 0; }
    IntakeScreen .label { width: 9; color: $text-muted; }
    IntakeScreen .label2 { width: auto; color: $text-muted; padding: 0 1 0 2; }
    IntakeScreen Input.-textual-compact { background: $boost; }
    IntakeScreen Input.-textual-compact:focus { background: $accent 30%; }
    IntakeScreen Input.-textual-compact.-bad { background: $error 35%; }
    IntakeScreen Input.-textual-compact.-none { background: $warning 25%; color: $text; }
    IntakeScreen #phone { width: 19; }
    IntakeScreen #name { width: 1fr; }
    IntakeScreen #town { width: 10; }
    IntakeScreen TownHint { width: 24; }
    IntakeScreen #address { width: 1fr; }
    IntakeScreen #msg { height: 1; padding: 0 0; text-wrap: nowrap; text-overflow: ellipsis; }
    IntakeScreen #kb-line { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; display: none; }
    IntakeScreen #next { height: 1; display: none; text-wrap: nowrap; text-overflow: ellipsis; }
    IntakeScreen #next.-waiting { display: block; background: $warning 30%; }
    IntakeScreen #description { height: 1fr; min-height: 4; border: round $border-blurred; padding: 0 1; }
    IntakeScreen #description:focus { border: round $accent; }
    IntakeScreen #description.-bad { border: round $error; }
    IntakeScreen #tag-line { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    IntakeScreen.-wide #form { padding: 0 2; }
    IntakeScreen.-tall #form { height: auto; }
    IntakeScreen.-tall #description { height: 12; }
    IntakeScreen.-tall RepeatPanel { height: 1fr; }
    IntakeScreen.-tall RepeatPanel DataTable { height: 1fr; max-height: 100%; }
    /* 160x50 and the like: the caller's words and their history share the room */
    IntakeScreen.-huge #form { height: 3fr; }
    IntakeScreen.-huge #description { height: 1fr; min-height: 12; }
    IntakeScreen.-huge RepeatPanel { height: 2fr; }
    """


class IntakeScreen(ComposedLater, DeskMixin, LocalizedMixin, Screen[None]):
    DEFAULT_CSS = """
    IntakeScreen { layout: vertical; }
    IntakeScreen ToastRack { dock: top; align: right top; margin-top: 5; }  /* over the description's empty end */
    """

    BINDINGS = [
        Binding("f2,alt+1", "accept(0)", "intake.accept", id="intake.accept"),
        Binding("f3,alt+2", "accept(1)", "intake.accept2", id="intake.accept2", show=False),
        Binding("f4,alt+3", "accept(2)", "intake.accept3", id="intake.accept3", show=False),
        Binding("f8", "pick_tag", "intake.pick_tag", id="intake.pick_tag"),
        Binding("f9", "dispatch", "intake.dispatch", id="intake.dispatch"),
        Binding("f10", "link", "intake.link", id="intake.link"),
        Binding("ctrl+n", "new_call", "intake.new_call", id="intake.new_call", show=False),
        Binding("ctrl+o", "no_number", "intake.no_number", id="intake.no_number", show=False),
        Binding("ctrl+t", "take_next", "intake.take_next", id="intake.take_next", show=False),
        Binding("ctrl+g", "join_case", "intake.join_case", id="intake.join_case", show=False),
        Binding("ctrl+r", "read_answers", "intake.read_answers", id="intake.read_answers", show=False),
        # Enter in a form field is taken by the app before the key reaches the field, so keys typed right
        # after it (type-ahead, a telephony script, an IME committing a phrase) go to the next field.
        Binding("enter", "advance_field", show=False, priority=True, id="intake.advance_field"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "advance_field":
            return isinstance(self.focused, FormInput)
        return True

    async def action_advance_field(self) -> None:
        field = self.focused
        if not isinstance(field, FormInput):
            return
        await drain(field)  # the keys typed before this Enter first (a fast burst)
        if self.focused is field:
            self.advance(field)

    # ---- messages from workers -----------------------------------------------------------------
    class Looked(Message):
        def __init__(self, phone: str, address: str, rows: list[CallSummary], repeat: Repeat | None) -> None:
            super().__init__()
            self.phone, self.address, self.rows, self.repeat = phone, address, rows, repeat

    class ClassifierReady(Message):
        def __init__(self, classifier: Classifier) -> None:
            super().__init__()
            self.classifier = classifier

    class Written(Message):
        """An order was dispatched (``linked`` False) or the call was linked to one (``linked`` True)."""

        def __init__(
            self,
            state: OrderState,
            description: str,
            tag: str,
            linked: bool,
            raised: list[tuple[str, str, str]] | None = None,
            joined: str | None = None,
            join_problem: str | None = None,
        ) -> None:
            super().__init__()
            self.state, self.description, self.tag, self.linked = state, description, tag, linked
            self.raised, self.joined, self.join_problem = raised or [], joined, join_problem

    class GovLooked(Message):
        """The open warnings and cases the call being taken touches (store.governance)."""

        def __init__(self, key: tuple[str, str, str], touching: Touching, notices: list[NoticeState]) -> None:
            super().__init__()
            self.key, self.touching, self.notices = key, touching, notices

    class Failed(Message):
        def __init__(self, error: str, field: str | None = None) -> None:
            super().__init__()
            self.error, self.field = error, field

    class DraftLoaded(Message):
        def __init__(self, draft: Draft | None) -> None:
            super().__init__()
            self.draft = draft

    class DraftFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    # ---- state ---------------------------------------------------------------------------------
    def __init__(self, *, deferred: bool = False, **kwargs: Any) -> None:
        """``deferred``: the console asks who is on shift first, so the form is composed (and what only it needs
        imported) once that sign-in is on the screen (:meth:`compose_content`); until then the screen is its
        header."""
        super().__init__(**kwargs)
        self.deferred = deferred  # the form once the sign-in is drawn (ComposedLater)
        self.classifier: Classifier | None = None
        self._accept_when_ready: int | None = None  # F2/F3/F4 pressed while the classifier was still loading
        self.suggestions: list[Suggestion] = []
        self.tag_code = ""
        self.call_started: datetime | None = None
        self.busy = False
        self.looked_phone = ""
        self.looked_address = ""
        self._answers: list[Answer] = []  # the knowledge base in use (store.kb.answers_in_use)
        self._answers_fault: str | None = None  # its fault, said once: then the console works without it
        self._join_case: str | None = None  # the case (专班) the call being sent joins (Ctrl+G on the banner)
        self._address_timer: Timer | None = None
        self._clear_armed_at: datetime | None = None
        self._write_started = 0.0
        self.last_write_ms = 0.0
        self._quit_armed_at: datetime | None = None
        self.no_number = False  # Ctrl+O: the call is taken without a number
        self.waiting: list[str] = []  # screen-pops that came while a call was being taken (Ctrl+T takes one)
        self._sticky = False  # the status line shows an error or notice that waits for the next action
        # The draft: a timer after each change, a generation number so that an older save never lands after a
        # newer one (or after the dispatch that deleted it), and a lock that keeps draft writes and the
        # dispatch in one order.
        self._draft_timer: Timer | None = None
        self._draft_dirty_since: float | None = None
        self._draft_gen = 0
        self._draft_lock = threading.Lock()
        self._draft_ready = False  # no draft is written before the stored one was looked at
        self.restored: Draft | None = None
        self._snapshot: Draft | None = None  # the form at the last change (for a flush while the screen goes)
        self._early_pops: list[str] = []  # screen-pops that came before the deferred form was there

    @property
    def store(self) -> OrderStore:
        return self.ctx.store

    @property
    def ref(self) -> Reference:
        return self.ctx.ref

    def now(self) -> datetime:
        return self.ctx.clock()

    # ---- layout --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield self.desk_app.make_header()
        if self.deferred:
            return
        from .address_field import AddressInput
        from .gov_banner import GovBanner
        from .literal_area import LiteralTextArea
        from .repeat_panel import RepeatPanel
        from .suggestion_bar import SuggestionBar
        from .town_field import TownField, TownHint

        hint = TownHint("", id="town-hint")
        with FormBox(id="form"):
            with Horizontal(classes="row"):
                yield Label(t("intake.l_phone"), classes="label")
                yield FormInput(
                    placeholder=t("intake.phone_placeholder"),
                    compact=True,
                    select_on_focus=False,
                    max_length=30,
                    id="phone",
                )
                yield Label(t("intake.l_name"), classes="label2")
                yield FormInput(
                    placeholder=t("intake.name_placeholder"),
                    compact=True,
                    select_on_focus=False,
                    max_length=LIMITS["name"],
                    id="name",
                )
            with Horizontal(classes="row"):
                yield Label(t("intake.l_town"), classes="label")
                yield TownField(
                    self.ref,
                    hint,
                    placeholder=t("intake.town_placeholder"),
                    compact=True,
                    select_on_focus=False,
                    max_length=20,
                    id="town",
                )
                yield hint
                yield Label(t("intake.l_address"), classes="label2")
                yield AddressInput(
                    self.ref,
                    hint,
                    placeholder=t("intake.address_placeholder"),
                    compact=True,
                    select_on_focus=False,
                    max_length=LIMITS["address"],
                    id="address",
                )
            yield Static("", id="msg")
            yield Static("", id="next")
            yield GovBanner(self.store.rules, id="gov-banner")
            area = LiteralTextArea(
                id="description",
                soft_wrap=True,
                tab_behavior="focus",
                placeholder=t("intake.description_placeholder"),
                max_length=LIMITS["description"],
            )
            area.border_title = t("field.description")
            area.border_subtitle = t("intake.description_subtitle")
            yield area
            yield SuggestionBar(self.ref, id="suggestions")
            yield Static("", id="kb-line")
            yield Static("", id="tag-line")
        yield RepeatPanel(self.ref, id="repeats")
        yield Footer()

    def on_mount(self) -> None:
        if not self.deferred:
            self.start_content()

    def start_content(self) -> None:
        for widget in self.query(Input):
            widget.cursor_blink = False
        self.description_area.cursor_blink = False
        self.show_suggestions(ready=False)
        self.show_tag()
        # Built in a thread once the console's first frame is on the screen, not competing with it.
        after_paint = getattr(self.app, "after_first_paint", None)
        if after_paint is None:  # an app that is not the desk's console (some tests): at once
            self.load_classifier()
        else:
            after_paint(self.load_classifier)
        self.fill_home_town()
        self.set_focus(self.query_one("#phone", Input))  # now, not later: a restored draft moves it on
        if self.ctx.read_only:
            self._draft_ready = False
            self._start_caller()
        else:
            self.load_stored_draft()
        self.content_started()

    def _start_caller(self) -> None:
        caller = self.ctx.caller
        if caller:
            self.pop_caller(caller)
        early, self._early_pops = self._early_pops, []
        for phone in early:
            self.pop_caller(phone)

    def on_resize(self) -> None:
        self.set_class(self.size.width >= 110, "-wide")
        self.set_class(self.size.height >= 32, "-tall")  # room for the caller's history: let it grow
        self.set_class(self.size.height >= 44, "-huge")  # and room for long descriptions too

    # ---- small helpers -------------------------------------------------------------------------
    def field(self, name: str) -> Widget:
        return self.query_one(FIELD_IDS[name])

    # The form's widgets by their ids (their classes' modules are imported with the form, not for a lookup).
    @property
    def description_area(self) -> TextArea:
        return cast("TextArea", self.query_one("#description"))

    @property
    def town_field(self) -> TownField:
        return cast("TownField", self.query_one("#town"))

    @property
    def address_field(self) -> AddressInput:
        return cast("AddressInput", self.query_one("#address"))

    @property
    def banner(self) -> GovBanner:
        return cast("GovBanner", self.query_one("#gov-banner"))

    @property
    def repeats(self) -> RepeatPanel:
        return cast("RepeatPanel", self.query_one("#repeats"))

    @property
    def suggestion_bar(self) -> SuggestionBar:
        return cast("SuggestionBar", self.query_one("#suggestions"))

    def say(self, message: str = "", *, error: bool = False, notice: bool = False) -> None:
        """The status line. An error (or a notice) stays until the next action: a field's own passing remark
        (:meth:`inform`, e.g. the phone checked when the cursor leaves it) never overwrites it."""
        self._sticky = bool(message) and (error or notice)
        style = "bold red" if error else "bold yellow" if notice else "dim"
        self.query_one("#msg", Static).update(Text(message, style=style, no_wrap=True, overflow="ellipsis"))

    def inform(self, message: str) -> None:
        """A passing remark: shown unless an error or notice is waiting to be read."""
        if not self._sticky:
            self.say(message)

    def mark(self, name: str | None) -> None:
        """Show ``name`` as the field in error (None: no field)."""
        for key in FIELD_IDS:
            self.field(key).set_class(key == name, "-bad")

    def fail(self, message: str, field: str | None) -> None:
        """Show a validation error and put the cursor in the field it is about."""
        self.say(message, error=True)
        name = field if field in FIELD_IDS else None
        self.mark(name)
        if name:
            self.set_focus(self.field(name))

    def form(self) -> IntakeForm:
        from fengqiao.models.intake import IntakeForm

        town = self.town_field
        return IntakeForm(
            phone=self.query_one("#phone", Input).value,
            town=town.code or town.value,
            description=self.description_area.text,
            name=self.query_one("#name", Input).value,
            address=self.query_one("#address", Input).value,
            no_number=self.no_number,
        )

    def form_is_empty(self) -> bool:
        f = self.form()
        return not f.no_number and not any(x.strip() for x in (f.phone, f.town, f.description, f.name, f.address))

    # ---- a call without a number ---------------------------------------------------------------
    def action_no_number(self) -> None:
        """Ctrl+O: the call has no number (withheld, or taken on paper): an explicit choice, shown on the form
        and on the order; Ctrl+O again undoes it."""
        self.set_no_number(not self.no_number)
        if self.no_number:
            if self.call_started is None:
                self.call_started = self.now()
            self.say(t("intake.no_number_on"), notice=True)
            self.set_focus(self.town_field)
        else:
            self.say(t("intake.no_number_off"))
            self.set_focus(self.query_one("#phone", Input))
        self.draft_soon()

    def set_no_number(self, on: bool) -> None:
        self.no_number = on
        phone = self.query_one("#phone", Input)
        if on:
            phone.value = ""
            self.repeats.clear_rows()
            self.looked_phone = ""
        phone.placeholder = t("intake.no_number_placeholder") if on else t("intake.phone_placeholder")
        phone.disabled = on
        phone.set_class(on, "-none")
        self.mark(None)

    def valid_form(self) -> IntakeForm | None:
        """The form validated and normalized, or None after showing what is wrong."""
        from fengqiao.models.intake import validate_intake

        town = self.town_field
        if town.value.strip() and not town.resolve():
            self.fail(t("error.unknown_town", code=town.value), "town")
            return None
        if refused := self.town_refused():
            self.fail(refused, "town")
            return None
        try:
            clean = validate_intake(self.ref, self.form())
        except ValidationError as exc:
            phone = exc.field == "phone"  # the phone messages do not name their field; the others do
            self.fail(t("intake.field_error", field=t("field.phone"), error=exc) if phone else str(exc), exc.field)
            return None
        self.mark(None)
        return clean

    @on(PasteRefused)
    def _paste_refused(self, event: PasteRefused) -> None:
        """100 KB pasted into a field: one line saying how long it was and the limit; the field keeps its text."""
        event.stop()
        name = next((key for key, selector in FIELD_IDS.items() if self.query_one(selector) is event.field), "text")
        self.say(
            t("intake.paste_too_long", field=t(f"field.{name}"), length=event.length, limit=event.limit), error=True
        )

    # ---- the draft: a call being taken is never lost ---------------------------------------------
    def current_draft(self) -> Draft:
        from fengqiao.models.intake import Draft

        town = self.town_field
        return Draft(
            phone=self.query_one("#phone", Input).value,
            name=self.query_one("#name", Input).value,
            town=town.value,
            town_code=town.code,
            address=self.query_one("#address", Input).value,
            description=self.description_area.text,
            tag=self.tag_code,
            no_number=self.no_number,
            call_started=self.call_started,
        )

    @work(thread=True, group="intake-draft-load", exit_on_error=False)
    def load_stored_draft(self) -> None:
        from fengqiao.store.drafts import load_draft

        try:
            draft = load_draft(self.ctx.db, self.ctx.desk.name)
        except FengqiaoError as exc:
            self.post_message(self.DraftFailed(str(exc)))
            draft = None
        self.post_message(self.DraftLoaded(draft))

    def on_intake_screen_draft_loaded(self, message: DraftLoaded) -> None:
        draft = message.draft
        self._draft_ready = True
        if draft is not None and self.form_is_empty():
            self.restore(draft)
        elif not self.form_is_empty():
            self.draft_soon()  # typed while the store was being read
        self._start_caller()

    def restore(self, draft: Draft) -> None:
        """Fill the form with a kept draft and say so (the notice stays until the next action)."""
        self.restored = draft
        if draft.no_number:
            self.set_no_number(True)
        phone = self.query_one("#phone", Input)
        phone.value = draft.phone
        phone.cursor_position = len(draft.phone)
        self.query_one("#name", Input).value = draft.name
        town = self.town_field
        if draft.town_code and draft.town_code in self.ref.towns:
            town.choose(draft.town_code)
        else:
            town.clear_town()
            town.value = draft.town
        self.query_one("#address", Input).value = draft.address
        area = self.description_area
        area.text = draft.description
        area.move_cursor(area.document.end)
        if draft.tag and draft.tag in self.ref.tags:
            self.set_tag(draft.tag)
        self.call_started = draft.call_started or self.now()
        at = local(draft.saved_at).strftime("%m-%d %H:%M") if draft.saved_at else ""
        notice = t("intake.draft_restored", at=at)
        self.say(notice, notice=True)
        self.notify(t("intake.draft_restored_body"), title=notice, severity="warning", timeout=15, markup=False)
        self.lookup_soon()
        empty = next(
            (f for f in ("phone", "town", "address", "description") if not self.current_value(f).strip()),
            "description",
        )
        self.set_focus(self.field(empty))

    def current_value(self, name: str) -> str:
        widget = self.field(name)
        return widget.text if name == "description" else widget.value  # type: ignore[attr-defined]

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """The description changed (the one TextArea here): the draft, then the suggestions and what they show."""
        self._draft_changed()
        if event.text_area.id == "description":
            self.refresh_suggestions()

    @on(Input.Changed)
    def _draft_changed(self) -> None:
        self._quit_armed_at = None  # typing after the first Ctrl+Q: the call goes on, the next Ctrl+Q asks again
        self.draft_soon()
        if self.waiting:
            self.show_waiting()  # the key hint depends on whether the form is free

    def draft_soon(self) -> None:
        """Keep the form as a draft once typing pauses (and at least every DRAFT_MAX_WAIT seconds)."""
        if not self._draft_ready or self.ctx.read_only:
            return
        self._snapshot = self.current_draft()
        now = time.monotonic()
        if self._draft_dirty_since is None:
            self._draft_dirty_since = now
        if self._draft_timer is not None:
            self._draft_timer.stop()
        left = DRAFT_MAX_WAIT - (now - self._draft_dirty_since)
        # (never a 0 s timer: Textual divides by its interval)
        self._draft_timer = self.set_timer(max(0.02, min(DRAFT_DELAY, left)), self.save_draft_now)

    def _next_draft_turn(self) -> int:
        """Stop a pending save and take the next turn: an older write still on its way will not land."""
        if self._draft_timer is not None:
            self._draft_timer.stop()
            self._draft_timer = None
        self._draft_dirty_since = None
        self._draft_gen += 1
        return self._draft_gen

    def save_draft_now(self) -> None:
        """Write the form as it is now (an empty form deletes the draft) in a thread worker."""
        if not self._draft_ready or self.ctx.read_only:
            return
        self._next_draft_turn()
        self.write_draft(self.current_draft(), self._draft_gen)

    @work(thread=True, group="intake-draft", exit_on_error=False)
    def write_draft(self, draft: Draft, gen: int) -> None:
        from fengqiao.store.drafts import save_draft

        with self._draft_lock:
            if gen != self._draft_gen:
                return  # a newer save (or the dispatch) came first
            try:
                save_draft(self.ctx.db, self.ctx.desk.name, draft, self.now())
            except FengqiaoError as exc:
                self.post_message(self.DraftFailed(str(exc)))

    def flush_draft(self) -> None:
        """Write the draft now, in this thread (quitting, a closed SSH session): nothing typed is left behind."""
        from fengqiao.store.drafts import save_draft

        if not self._draft_ready or self.ctx.read_only:
            return
        self._next_draft_turn()
        draft: Draft | None
        try:
            draft = self._snapshot = self.current_draft()
        except NoMatches:  # the screen is being taken down: what was typed last
            draft = self._snapshot
        if draft is None:
            return
        with self._draft_lock:
            try:
                save_draft(self.ctx.db, self.ctx.desk.name, draft, self.now())
            except FengqiaoError:
                pass  # quitting: nothing left to tell; the last draft written stays

    def on_intake_screen_draft_failed(self, message: DraftFailed) -> None:
        self.say(t("intake.draft_failed", error=message.error), error=True)

    def _forget_pending_draft(self) -> None:
        """A write that ends the call is on its way: no older draft save may land after it."""
        self._snapshot = None
        self._next_draft_turn()

    def quit_requested(self) -> bool:
        """Ctrl+Q (or the palette's Quit): True to quit now; with a call being taken, the first press asks."""
        if not self.content_ready.is_set() or self.form_is_empty() or self.ctx.read_only:
            return True
        now = self.now()
        if self._quit_armed_at is not None and (now - self._quit_armed_at).total_seconds() <= QUIT_CONFIRM:
            return True
        self._quit_armed_at = now
        self.save_draft_now()
        self.say(t("intake.confirm_quit"), notice=True)
        return False

    def on_unmount(self) -> None:
        self.flush_draft()

    # ---- screen-pop ----------------------------------------------------------------------------
    def pop_caller(self, phone: str) -> None:
        """Telephony screen-pop: fill the phone of a new call. Never over a call being taken: then the number
        waits as the next caller (shown above the description; Ctrl+T takes it once the form is free)."""
        phone = fold_width(phone).strip()
        if not phone:
            return
        if not self.content_ready.is_set():  # the form comes once the sign-in is drawn: the number waits for it
            self._early_pops.append(phone)
            return
        if self.same_caller(phone):
            return  # the telephony system popped the call on the form again
        if not self.form_is_empty() or self.busy:
            if phone not in self.waiting:
                self.waiting.append(phone)
            self.show_waiting()
            self.notify(t("intake.pop_waiting", phone=phone), severity="warning", timeout=10, markup=False)
            return
        if phone in self.waiting:
            self.waiting.remove(phone)
            self.show_waiting()
        self.fill_caller(phone)

    def same_caller(self, phone: str) -> bool:
        """Whether ``phone`` is the number already on the form (in any spelling of it)."""
        try:
            return normalize_phone(phone) == normalize_phone(self.query_one("#phone", Input).value)
        except ValidationError:
            return False

    def fill_caller(self, phone: str) -> None:
        field = self.query_one("#phone", Input)
        field.value = phone
        field.cursor_position = len(phone)
        self.call_started = self.now()
        self.check_phone(quiet=False)
        self.set_focus(self.town_field)

    def show_waiting(self) -> None:
        """The next-caller line: the first waiting number and how many more, with the key that takes it."""
        line = self.query_one("#next", Static)
        line.set_class(bool(self.waiting), "-waiting")
        if not self.waiting:
            line.update("")
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(t("intake.next_caller", phone=self.waiting[0]), style="bold")
        if len(self.waiting) > 1:
            text.append(" " + t("intake.next_more", count=len(self.waiting) - 1))
        key = t("intake.next_key_free") if self.form_is_empty() and not self.busy else t("intake.next_key_busy")
        text.append("  " + key)
        line.update(text)

    def action_take_next(self) -> None:
        """Ctrl+T: take the next waiting caller (once the call on the form is sent or cleared)."""
        if not self.waiting:
            self.say(t("intake.no_next_caller"), error=True)
            return
        if not self.form_is_empty() or self.busy:
            self.say(t("intake.next_after_this"), error=True)
            return
        phone = self.waiting.pop(0)
        self.show_waiting()
        self.fill_caller(phone)

    # ---- the phone -----------------------------------------------------------------------------
    def check_phone(self, *, quiet: bool, passive: bool = False) -> str | None:
        """The phone normalized, or None. ``quiet``: say nothing; ``passive`` (the cursor left the field): say it
        without overwriting an error or notice that is still to be read."""
        if self.no_number:
            return ""
        raw = self.query_one("#phone", Input).value
        try:
            phone = normalize_phone(raw)
        except ValidationError as exc:
            if not quiet:
                message = t("intake.field_error", field=t("field.phone"), error=exc)
                if passive and self._sticky:
                    self.field("phone").add_class("-bad")
                else:
                    self.fail(message, None)
                    self.mark("phone")
            return None
        if not quiet:
            if passive:
                self.field("phone").remove_class("-bad")
                self.inform(t("intake.phone_ok", phone=phone))
            else:
                self.mark(None)
                self.say(t("intake.phone_ok", phone=phone))
        self.lookup_soon(phone=phone)
        return phone

    @on(Input.Changed, "#phone")
    def _phone_changed(self, event: Input.Changed) -> None:
        if event.value and self.call_started is None:
            self.call_started = self.now()
        if self.field("phone").has_class("-bad"):
            self.mark(None)
            self.say("")
        self.check_phone(quiet=True)

    @on(Input.Blurred, "#phone")
    def _phone_blurred(self) -> None:
        if self.query_one("#phone", Input).value.strip():
            self.check_phone(quiet=False, passive=True)

    # ---- name, town, address -------------------------------------------------------------------
    @property
    def home_town(self) -> str:
        """A township centre's own town (it dispatches only there); empty for other desks."""
        desk = self.ctx.desk
        return desk.town or "" if desk.role == Role.TOWNSHIP else ""

    def fill_home_town(self) -> None:
        """A township centre's form starts with its own town chosen."""
        if self.home_town:
            self.town_field.choose(self.home_town)

    def town_refused(self) -> str:
        """Why this desk may not dispatch in the chosen town ("" when it may)."""
        from fengqiao.models.roles import check_dispatch

        code = self.town_field.code
        if not code:
            return ""
        try:
            check_dispatch(self.ctx.desk, code, self.ref)
        except PermissionDenied as exc:
            return str(exc)
        return ""

    def advance(self, field: Input) -> None:
        """Enter in a field: check it and move to the next field a call needs (the name is optional)."""
        if field.id == "phone":
            if self.check_phone(quiet=False) is not None:
                town = self.town_field
                home = self.home_town and town.code == self.home_town
                self.set_focus(self.query_one("#address", Input) if home else town)
        elif field.id == "name":
            self.set_focus(self.town_field)
        elif field.id == "town":
            town = self.town_field
            if town.resolve() and (refused := self.town_refused()):
                self.fail(refused, "town")
            elif town.code:
                self.mark(None)
                self.say("")
                self.set_focus(self.query_one("#address", Input))
            else:
                self.fail(t("error.unknown_town", code=town.value), "town")
        elif field.id == "address":
            from .address_field import AddressInput

            if isinstance(field, AddressInput) and field.complete():
                return  # the village's name is written; the rest of the address follows
            self.lookup_soon()
            self.set_focus(self.description_area)

    @on(Input.Blurred, "#town")
    def _town_blurred(self) -> None:
        self.town_field.resolve()

    def on_town_field_resolved(self) -> None:
        self.address_field.recheck()
        self.show_suggestions()
        self.show_tag()

    @on(Input.Changed, "#address")
    def _address_changed(self, event: Input.Changed) -> None:
        if self._address_timer is not None:
            self._address_timer.stop()
        self._address_timer = self.set_timer(ADDRESS_DELAY, self.lookup_soon)

    # ---- recent calls (thread worker) ----------------------------------------------------------
    def lookup_soon(self, phone: str | None = None, *, force: bool = False) -> None:
        if phone is None:
            try:
                phone = normalize_phone(self.query_one("#phone", Input).value)
            except ValidationError:
                phone = ""
        address = self.query_one("#address", Input).value.strip()
        if not force and (phone, address) == (self.looked_phone, self.looked_address):
            return
        self.looked_phone, self.looked_address = phone, address
        town = self.town_field.code or ""
        self.gov_lookup(town, address, phone)
        if not phone and not address:
            self.repeats.clear_rows()
            return
        self.lookup(phone, address)

    @work(thread=True, group="intake-lookup", exclusive=True, exit_on_error=False)
    def lookup(self, phone: str, address: str) -> None:
        try:
            rows = self.store.recent_calls(phone or None, address or None)
            repeat = self.store.repeat_for(phone) if phone else None
        except FengqiaoError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.Looked(phone, address, rows, repeat))

    @work(thread=True, group="intake-gov", exclusive=True, exit_on_error=False)
    def gov_lookup(self, town: str, address: str, phone: str) -> None:
        try:
            gov = self.ctx.governance()
            touching = gov.touching(town or None, address, phone)
            notices = [n for n in gov.notices() if town in n.towns] if town else []
        except FengqiaoError:
            return  # the banner is a help, not a step: the recent-calls lookup reports a store problem
        if not get_current_worker().is_cancelled:
            self.post_message(self.GovLooked((town, address, phone), touching, notices))

    def on_intake_screen_gov_looked(self, message: GovLooked) -> None:
        if message.key[1:] != (self.looked_address, self.looked_phone):
            return  # the form moved on while we were reading
        banner = self.banner
        banner.show_notices(message.key[0], message.notices, self.now())
        banner.show_touching(message.touching)

    # ---- answers on the spot (知识库, 直接办结) ----------------------------------------------------
    def fitting_answers(self) -> list[Answer]:
        """The knowledge-base answers in force that fit the caller's words and the suggested tags, best first."""
        from fengqiao.models.answers import best_answers
        from fengqiao.store.kb import answers_in_use

        if self._answers_fault is None:
            try:  # asked each time: a sync may bring a new version (one meta row read; a version is parsed once)
                self._answers = answers_in_use(self.ctx.db, self.ref)  # synced from the server, else the file
            except FengqiaoError as exc:  # a county's answers.toml with a fault: say it once, work without
                self._answers, self._answers_fault = [], str(exc)
                self.notify(str(exc), severity="error", timeout=10, markup=False)
        text = self.description_area.text
        if not text.strip():
            return []
        tags = [s.code for s in self.suggestions]
        if self.tag_code:
            tags.insert(0, self.tag_code)
        return best_answers(self._answers, text, tags, local(self.now()).date())

    def show_answers(self) -> None:
        from fengqiao.models.routing import describe_assignee

        line = self.query_one("#kb-line", Static)
        best = self.fitting_answers()
        if not best:
            line.update("")
            line.display = False
            return
        a = best[0]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" " + t("kb.title") + " ", style="bold black on green")
        text.append(f" {a.id} ")
        text.append_text(safe(a.title, single_line=True))
        text.append(f"（{describe_assignee(self.ref, a.owner, get_lang())}）  ")
        text.append(t("kb.hint"), style="bold")
        line.update(text)
        line.display = True

    def action_read_answers(self) -> None:
        """Ctrl+R: read the fitting answers in full; Enter there answers the call on the spot (no order)."""
        from .answers import AnswerReader

        if self.busy:
            return
        best = self.fitting_answers()
        if not best:
            self.say(t("kb.none"), error=True)
            return

        def chosen(answer_id: str | None) -> None:

            if answer_id is None:
                return
            answer = next(a for a in best if a.id == answer_id)
            tags = (
                [self.tag_code] + [s.code for s in self.suggestions]
                if self.tag_code
                else [s.code for s in self.suggestions]
            )
            tag = next((c for c in tags if c in answer.tags), answer.tags[0])
            self.busy = True
            self._forget_pending_draft()
            self.say(t("intake.sending"))
            self.write_answer(self.form(), answer_id, tag, self.call_started)

        self.app.push_screen(AnswerReader(self.ref, best), chosen)

    @work(thread=True, group="intake-write", exit_on_error=False)
    def write_answer(self, form: IntakeForm, answer_id: str, tag: str, started: datetime | None) -> None:
        try:
            with self._draft_lock:
                done = self.ctx.governance().answer_call(
                    form, answer_id, tag=tag, received_at=started, drop_draft=not self.ctx.read_only
                )
        except FengqiaoError as exc:
            self.post_message(self.Failed(str(exc), getattr(exc, "field", None)))
        else:
            self.post_message(self.Answered(done.answer_id, done.title))

    class Answered(Message):
        def __init__(self, answer_id: str, title: str) -> None:
            super().__init__()
            self.answer_id, self.title = answer_id, title

    def on_intake_screen_answered(self, message: Answered) -> None:
        self.busy = False
        text = t("kb.done", id=message.answer_id, title=message.title)
        self.notify(text, timeout=6, markup=False)
        self.clear_form()
        self.say(text)
        self.show_waiting()

    def action_join_case(self) -> None:
        """Ctrl+G: answer the call from the notice it is about (nothing dispatched), or mark it to join the case
        offered once it is sent."""
        from .forms import ConfirmScreen

        banner = self.banner
        notice = banner.notice
        if notice is not None and not self.busy:
            message = Text()
            message.append_text(safe(notice.title))
            message.append("\n\n")
            message.append_text(safe(notice.script))

            def decided(yes: bool | None) -> None:

                if yes:
                    self.busy = True
                    self._forget_pending_draft()
                    self.write_notice_call(notice.no, self.form(), self.call_started)

            self.app.push_screen(ConfirmScreen(t("notice.take_title", no=notice.no), message), decided)
            return
        if not banner.toggle_join():
            self.say(t("banner.no_case"), error=True)

    @work(thread=True, group="intake-write", exit_on_error=False)
    def write_notice_call(self, no: str, form: IntakeForm, started: datetime | None) -> None:
        try:
            with self._draft_lock:
                n = self.ctx.governance().take_call(no, form, received_at=started, drop_draft=not self.ctx.read_only)
        except FengqiaoError as exc:
            self.post_message(self.Failed(str(exc), getattr(exc, "field", None)))
        else:
            self.post_message(self.NoticeTaken(n.no, len(n.calls)))

    class NoticeTaken(Message):
        def __init__(self, no: str, count: int) -> None:
            super().__init__()
            self.no, self.count = no, count

    def on_intake_screen_notice_taken(self, message: NoticeTaken) -> None:
        self.busy = False
        self.notify(t("notice.taken", no=message.no, count=message.count), timeout=6, markup=False)
        self.clear_form()
        self.say(t("notice.taken", no=message.no, count=message.count))
        self.show_waiting()

    def on_intake_screen_looked(self, message: Looked) -> None:
        if (message.phone, message.address) != (self.looked_phone, self.looked_address):
            return  # the form moved on while we were reading
        self.repeats.show(message.rows, message.repeat, message.phone, message.address, self.now())

    def on_store_changed(self, message: StoreChanged) -> None:
        """Another desk (or this one) wrote: the states in the recent-calls list may have moved."""
        if self.looked_phone or self.looked_address:
            self.lookup_soon(force=True)

    # ---- suggestions ---------------------------------------------------------------------------
    @work(thread=True, group="intake-classifier", exclusive=True, exit_on_error=False)
    def load_classifier(self) -> None:
        from fengqiao.store.intake import desk_history

        desk = self.ctx.desk.name
        try:
            history = desk_history(self.ctx.db, desk)
        except FengqiaoError:
            history = []
        self.post_message(self.ClassifierReady(build_classifier(self.ref, history)))

    def on_intake_screen_classifier_ready(self, message: ClassifierReady) -> None:
        self.classifier = message.classifier
        self.refresh_suggestions()
        pending, self._accept_when_ready = self._accept_when_ready, None
        if pending is not None and self.is_current:  # F2 pressed while it loaded: taken now
            self.say("")
            self.action_accept(pending)

    def refresh_suggestions(self) -> None:
        self.banner.show_words(self.description_area.text)
        self.call_after_refresh(self.show_answers)
        if self.classifier is None:
            return
        text = self.description_area.text
        self.suggestions = self.classifier.suggest(text, top=3)
        if self.field("description").has_class("-bad") and text.strip():
            self.mark(None)
            self.say("")
        self.show_suggestions()

    def show_suggestions(self, *, ready: bool = True) -> None:
        self.suggestion_bar.show(
            self.suggestions, self.town_field.code, self.tag_code, ready=ready and self.classifier is not None
        )

    def show_tag(self) -> None:
        from .orderfmt import tag_label

        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(t("field.tag") + " ", style="dim")
        if not self.tag_code:
            text.append(t("intake.tag_none"), style="dim")
        else:
            text.append(tag_label(self.ref, self.tag_code), style="bold")
            text.append("  " + t("intake.tag_next"), style="dim")
        self.query_one("#tag-line", Static).update(text)

    # ---- choosing the tag and sending ----------------------------------------------------------
    def action_accept(self, index: int) -> None:
        if self.classifier is None and self.description_area.text.strip():
            self._accept_when_ready = index  # the suggestions are not there yet: take this one when they are
            self.say(t("intake.suggest_waiting", n=index + 1), notice=True)
            return
        if index >= len(self.suggestions):
            self.say(t("intake.no_suggestion_n", n=index + 1), error=True)
            return
        self.set_tag(self.suggestions[index].code)
        self.open_preview()

    def set_tag(self, code: str) -> None:
        self.tag_code = code
        self.show_tag()
        self.show_suggestions()
        self.draft_soon()

    def action_pick_tag(self) -> None:
        from .tag_picker import TagPicker

        def chosen(code: str | None) -> None:
            if code:
                self.set_tag(code)
                self.open_preview()

        self.app.push_screen(TagPicker(self.ref, suggested=[s.code for s in self.suggestions]), chosen)

    def action_dispatch(self) -> None:
        if not self.tag_code:
            self.action_pick_tag()
            return
        self.open_preview()

    def open_preview(self) -> None:
        from .dispatch_preview import DispatchPreview

        if self.busy:
            return
        form = self.valid_form()
        if form is None:
            return
        panel = self.repeats
        repeat = panel.repeat if panel.phone == form.phone else None
        tag = self.tag_code
        preview = DispatchPreview(self.store, form, tag, now=self.now(), repeat=repeat)

        def decided(choice: DispatchChoice | None) -> None:
            if choice is not None:
                self.send(form, tag, choice)

        self.app.push_screen(preview, decided)

    def send(self, form: IntakeForm, tag: str, choice: DispatchChoice) -> None:
        self._join_case = self.banner.case_no
        self.busy = True
        self._forget_pending_draft()
        self._write_started = time.perf_counter()
        self.say(t("intake.sending"))
        self.write_dispatch(form, tag, choice, self.call_started)

    @work(thread=True, group="intake-write", exit_on_error=False)
    def write_dispatch(self, form: IntakeForm, tag: str, choice: DispatchChoice, started: datetime | None) -> None:
        try:
            with self._draft_lock:  # the draft goes in the same transaction as the order
                state = self.store.dispatch(
                    form,
                    tag,
                    mode=choice.mode,
                    override_dept=choice.override_dept,
                    override_reason=choice.override_reason,
                    co=choice.co,
                    received_at=started,
                    drop_draft=not self.ctx.read_only,
                )
        except FengqiaoError as exc:
            self.post_message(self.Failed(str(exc), getattr(exc, "field", None)))
        else:
            self.post_message(self.Written(state, form.description, tag, linked=False, **self._after_write(state)))

    # ---- linking a repeat call -----------------------------------------------------------------
    def action_link(self) -> None:
        if self.busy:
            return
        target = self.repeats.target()
        if target is None or not target.order_no:
            self.say(t("intake.no_link_target"), error=True)
            return
        form = self.link_form()
        if form is None:
            return
        self._join_case = self.banner.case_no
        self.busy = True
        self._forget_pending_draft()
        self._write_started = time.perf_counter()
        self.say(t("intake.sending"))
        self.write_link(target.order_no, form, self.call_started)

    def link_form(self) -> IntakeForm | None:
        """The call to link, or None after saying what is wrong: the phone is enough (the store takes the town and
        address from the order when they are empty); a town typed must be a town; the caller's words may be empty."""
        from fengqiao.models.intake import IntakeForm

        phone = self.check_phone(quiet=False)
        if phone is None or not phone:  # a call without a number has no recent calls to link to
            if phone is None:
                self.set_focus(self.field("phone"))
            return None
        town = self.town_field
        if town.value.strip() and not town.resolve():
            self.fail(t("error.unknown_town", code=town.value), "town")
            return None
        form = self.form()
        self.mark(None)
        return IntakeForm(
            phone=phone, town=town.code, description=form.description, name=form.name, address=form.address
        )

    @work(thread=True, group="intake-write", exit_on_error=False)
    def write_link(self, order_no: str, form: IntakeForm, started: datetime | None) -> None:
        try:
            with self._draft_lock:
                state = self.store.link(order_no, form, received_at=started, drop_draft=not self.ctx.read_only)
        except FengqiaoError as exc:
            self.post_message(self.Failed(str(exc), getattr(exc, "field", None)))
        else:
            self.post_message(self.Written(state, form.description, state.tag, linked=True, **self._after_write(state)))

    def _after_write(self, state: OrderState) -> dict[str, Any]:
        """In the write worker, after the order is stored: the warnings its call raised, and the case it joins
        (Ctrl+G) — a case that refuses it is reported, the order stays as sent."""
        raised = [
            (str(e.payload.get("no", "")), str(e.payload.get("level", "")), str(e.payload.get("summary", "")))
            for e in self.store.raised
        ]
        joined, problem = None, None
        case_no, self._join_case = self._join_case, None
        if case_no:
            try:
                joined = self.ctx.governance().add_to_case(case_no, state.order_no).no
            except FengqiaoError as exc:
                problem = str(exc)
        return {"raised": raised, "joined": joined, "join_problem": problem}

    # ---- after a write -------------------------------------------------------------------------
    def on_intake_screen_written(self, message: Written) -> None:
        from fengqiao.models.routing import describe_assignee

        from .orderfmt import tag_label

        self.busy = False
        self.last_write_ms = (time.perf_counter() - self._write_started) * 1000  # for the drill in make bench
        state = message.state
        lang = get_lang()
        if message.linked:
            self.notify(
                t("intake.linked_body", calls=len(state.linked_calls) + 1),
                title=t("intake.linked_title", order_no=state.order_no),
                timeout=6,
                markup=False,
            )
        else:
            where = " + ".join(
                describe_assignee(self.ref, a.assignee, lang) + (t("detail.co_role") if a.role == "co" else "")
                for a in state.assignments
            )
            self.notify(
                f"{tag_label(self.ref, state.tag)} → {where}",
                title=t("intake.dispatched_title", order_no=state.order_no),
                timeout=6,
                markup=False,
            )
            if self.classifier is not None:
                self.classifier.learn(message.description, message.tag)
        for no, level, summary in message.raised:
            self.notify(
                summary,
                title=t("banner.raised_title", level=t(f"gov.level_{level}_long"), no=no),
                severity="warning",
                timeout=10,
                markup=False,
            )
        if message.joined:
            self.notify(t("banner.joined", order_no=state.order_no, no=message.joined), timeout=6, markup=False)
        if message.join_problem:
            self.notify(message.join_problem, severity="error", timeout=10, markup=False)
        self.clear_form()
        self.say(t("intake.last_linked" if message.linked else "intake.last_order", order_no=state.order_no))
        self.show_waiting()

    def on_intake_screen_failed(self, message: Failed) -> None:
        self.busy = False
        self.draft_soon()  # the call is still being taken: keep it
        self.fail(message.error, message.field)
        self.notify(message.error, severity="error", timeout=10, markup=False)

    # ---- a new call ----------------------------------------------------------------------------
    def action_new_call(self) -> None:
        now = self.now()
        if not self.form_is_empty() and (
            self._clear_armed_at is None or (now - self._clear_armed_at).total_seconds() > CLEAR_CONFIRM
        ):
            self._clear_armed_at = now
            self.say(t("intake.confirm_clear"), error=True)
            return
        self._clear_armed_at = None
        self.clear_form()
        self.save_draft_now()  # cleared on purpose: the draft goes too
        self.say("")
        self.show_waiting()

    def clear_form(self) -> None:
        self.banner.clear()
        self.query_one("#phone", Input).value = ""
        self.query_one("#name", Input).value = ""
        self.town_field.clear_town()
        self.fill_home_town()
        self.query_one("#address", Input).value = ""
        self.description_area.text = ""
        self.tag_code = ""
        self.suggestions = []
        self.call_started = None
        self.restored = None
        self._quit_armed_at = None
        self.set_no_number(False)
        self.looked_phone = self.looked_address = ""
        if self._address_timer is not None:
            self._address_timer.stop()
        self.mark(None)
        self.repeats.clear_rows()
        self.show_suggestions()
        self.show_tag()
        self.set_focus(self.query_one("#phone", Input))
