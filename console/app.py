"""The Textual application: desk header, modes (one screen module each), F1 help, command palette.

Modes: ``intake`` (call-takers and township centres start here), ``board`` (departments start here) and
``cockpit`` (supervisors start here); F5, F6 and F7 switch between them from anywhere.

The app watches the store once a second from a thread worker (a cheap look at the newest event number) and
posts :class:`~fengqiao.screens.messages.StoreChanged` to the active screen when another desk or process has
written, so boards and the cockpit refresh without polling the database themselves.

Screens read the desk's settings and stores from one typed :class:`~fengqiao.screens.context.DeskContext`
(``app.ctx``), built once here by :func:`desk_context` from what the command line parsed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, time
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.screen import Screen
from textual.theme import ThemeProvider
from textual.widget import AwaitMount
from textual.widgets import Input

from fengqiao.models.alerts import DEFAULT_NIGHT, bell_rings, check_bell, parse_night
from fengqiao.models.clock import Clock, system_clock
from fengqiao.models.desk import Desk, Role
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import get_lang, set_lang, t
from fengqiao.models.reference import Reference, default_reference
from fengqiao.screens.base import ComposedLater, DeskBar, describe_binding, drain, localize_bindings
from fengqiao.screens.context import DeskContext, Lazy
from fengqiao.screens.messages import PasteRefused, StoreChanged, UrgeRequested
from fengqiao.store.db import Database

from .config import Config, load_config

if TYPE_CHECKING:
    from textual.command import Provider

    from fengqiao.models.governance import WarningRules
    from fengqiao.models.kpi import Weights
    from fengqiao.screens.intake import IntakeScreen
    from fengqiao.store.attention import Scan
    from fengqiao.store.kpi import KpiStore
    from fengqiao.store.orders import OrderStore

    from .popsock import PopListener
    from .syncworker import ConsoleSync, SyncSetup

# What only some moments need (the board, the cockpit, help, alerts, the stores behind the screens) is imported
# when first used: the console's first frame is the sign-in form, and it waits for none of it.

__all__ = ["FengqiaoApp", "StoreChanged", "desk_context"]

log = logging.getLogger("fengqiao.console")


def config_weights(config: Config | None = None) -> tuple[Weights, str | None]:
    """The KPI weights from the desk's config ([kpi.weights] and [kpi] basic_weight; the file when not given); the
    defaults and the problem if bad."""
    from fengqiao.models.kpi import DEFAULT_WEIGHTS, Weights

    try:
        return Weights.from_config((config or load_config()).section("kpi")), None
    except FengqiaoError as exc:
        return DEFAULT_WEIGHTS, str(exc)


def desk_context(
    db: Database,
    desk: Desk,
    *,
    clock: Clock = system_clock,
    ref: Reference | None = None,
    lang: str | None = None,
    caller: str | None = None,
    weights: Weights | None = None,
    config: Config | None = None,
    read_only: bool = False,
    unmasked: bool = False,
    access_db: Database | None = None,
    sign_in: bool = False,
) -> DeskContext:
    """The desk's context, once per session. ``weights`` None: from ``config`` ([kpi.weights]; the config file
    when that is None too)."""
    if lang:
        set_lang(lang)
    ref = ref or default_reference()
    bell, night = config_bell(config)

    rules = Lazy(lambda: warning_rules(ref, config))

    def orders() -> OrderStore:
        from fengqiao.store.orders import OrderStore

        return OrderStore(db, ref=ref, desk=desk, clock=clock, rules=rules.get())

    def kpis() -> tuple[KpiStore, str | None]:
        from fengqiao.store.kpi import KpiStore

        chosen, problem = (weights, None) if weights is not None else config_weights(config)
        return KpiStore(db, ref=ref, clock=clock, weights=chosen), problem

    return DeskContext(
        db=db,
        desk=desk,
        ref=ref,
        clock=clock,
        lang=get_lang(),
        rules=rules,
        orders=Lazy(orders),
        kpis=Lazy(kpis),
        caller=caller,
        read_only=read_only,
        start_unmasked=unmasked,
        access_db=access_db,
        bell=bell,
        night=night,
        sign_in=sign_in,
        pin_required=sign_in and (config or load_config()).pin,
    )


def warning_rules(ref: Reference, config: Config | None = None) -> WarningRules:
    """The risk-warning rules: the shipped ones, changed by the config's ``[warnings]`` (a bad value is one line)."""
    from fengqiao.store.governance import parse_rules

    return parse_rules(ref, (config or load_config()).section("warnings"))


QUIT_NOTICE = 6.0  # seconds the "press Ctrl+Q again" toast shows on another screen


def config_bell(config: Config | None = None) -> tuple[str, tuple[time, time]]:
    """The bell setting and night hours from the desk's config; the defaults when absent (bad values are refused
    when the config is loaded by ``fengqiao run``; here they fall back to the defaults)."""
    try:
        cfg = config or load_config()
        return check_bell(cfg.bell), parse_night(cfg.night)
    except FengqiaoError:
        return "on", DEFAULT_NIGHT


CROSSING_EVERY = 5.0  # seconds between looks for deadlines passing (supervisor desks; other alerts follow writes)
ALERT_LINES = 5  # orders named in one toast
ALERT_SECONDS = 15
OVERDUE_EVERY = 30.0  # seconds between recording first overdue moments (the board flags them live anyway)
HOME_MODE = {
    None: "intake",
    Role.CALL_TAKER: "intake",
    Role.TOWNSHIP: "intake",
    Role.DEPARTMENT: "board",
    Role.SUPERVISOR: "cockpit",
}


def intake_screen() -> Screen[Any]:
    """The intake's screen (imported when the app has it: the dashboard has not)."""
    from fengqiao.screens.intake import IntakeScreen

    return IntakeScreen()


def board_screen() -> Screen[Any]:
    """The board's screen (its module imported on first use: screens/board.py and its filters are not small)."""
    from fengqiao.screens.board import BoardScreen

    return BoardScreen()


def cockpit_screen() -> Screen[Any]:
    """The cockpit's screen (imported on first use, as the board's)."""
    from fengqiao.screens.cockpit import CockpitScreen

    return CockpitScreen()


def caller_pop_provider() -> type[Provider]:
    """The palette's screen-pop commands (imported when the palette first opens)."""
    from fengqiao.screens.caller_pop import CallerPopProvider

    return CallerPopProvider


HOLD_LIMIT = 5.0  # seconds keys may wait after a sign-in's Enter for its focus to move (a safety net)


class FengqiaoApp(App[None]):
    """One desk's console over its SQLite store."""

    TITLE = "fengqiao"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {caller_pop_provider}  # screen-pop: Ctrl+P, the caller's number, Enter
    CSS = """
    Screen { background: $background; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "app.help", id="app.help", priority=True),
        Binding("f5", "switch_mode('intake')", "app.mode_intake", id="app.mode_intake", show=False),
        Binding("f6", "switch_mode('board')", "app.mode_board", id="app.mode_board", show=False),
        Binding("f7", "switch_mode('cockpit')", "app.mode_cockpit", id="app.mode_cockpit", show=False),
        Binding("ctrl+q", "quit", "app.quit", id="app.quit", priority=True),
        Binding("f12", "handover", "app.handover", id="app.handover", show=False),
        Binding("f11", "warnings", "govui.open_panel", id="app.warnings", show=False),
        # Tab and Shift+Tab in a text field are taken by the app before the key reaches the field: the field first
        # takes the keys already sent to it, so keys typed right after the Tab (a fast burst: tmux, a script, an
        # IME committing a phrase) go to the field the focus moves to, not to the one being left.
        Binding("tab", "step_focus(1)", show=False, priority=True, id="app.next_field"),
        Binding("shift+tab", "step_focus(-1)", show=False, priority=True, id="app.previous_field"),
    ]

    # The board and the cockpit are imported when first opened (a call-taker's console starts on the intake).
    MODES: ClassVar[dict[str, Any]] = {"intake": intake_screen, "board": board_screen, "cockpit": cockpit_screen}
    DEFAULT_MODE = "intake"

    def __init__(
        self,
        ctx: DeskContext | None = None,
        *,
        db: Database | None = None,
        desk: Desk | None = None,
        lang: str | None = None,
        clock: Clock = system_clock,
        ref: Reference | None = None,
        caller: str | None = None,
        watch_store: bool = True,
        sync: SyncSetup | None = None,
        listen: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """``ctx`` from :func:`desk_context`; or ``db`` and ``desk`` (and the rest) to build it here."""
        if ctx is None:
            if db is None or desk is None:
                raise TypeError("FengqiaoApp needs a DeskContext or db and desk")
            ctx = desk_context(db, desk, clock=clock, ref=ref, lang=lang, caller=caller)
        else:
            set_lang(ctx.lang)
        home = HOME_MODE.get(ctx.desk.role, "intake")  # the desk's home screen opens first (if this app has it)
        # The desk's role decides the first screen, so this app's default mode is set per instance.
        self.DEFAULT_MODE = home if home in self.MODES else next(iter(self.MODES))  # type: ignore[misc]
        super().__init__(**kwargs)
        if ctx.desk.role == Role.DEPARTMENT:  # a department takes no calls: no intake mode, key or palette entry
            self._modes.pop("intake", None)
            self.COMMANDS = App.COMMANDS  # type: ignore[misc]  # without the caller screen-pop
        localize_bindings(self)
        self._ctx = ctx
        self._watch_store = watch_store
        self._sync_setup = sync
        self._last_seq: int | None = None
        self._last_scan: datetime | None = None
        self.alerts_shown = 0
        self.sync_text = ""  # the header's sync status ("" when no sync server is configured)
        self.sync: ConsoleSync | None = None  # while syncing
        self.intake: IntakeScreen | None = None  # the intake screen, once its mode was opened
        self._painted = False  # the first frame is on the terminal (Textual's Ready event)
        self._after_paint: list[Callable[[], object]] = []
        # With a sign-in first, keys (and pastes) that come before its form is up wait for it, then go there.
        self._held: list[events.Event] | None = [] if ctx.sign_in else None
        self._hold_generation = 0  # which hold after an Enter a timer may still release
        self._signals: list[signal.Signals] = []
        # Screen-pops from `fengqiao pop` (console/popsock.py): a live console listens, tests ask for it.
        self._listen = watch_store if listen is None else listen
        self.pops: PopListener | None = None
        if "intake" in self._modes:  # Textual's per-instance copy of MODES: keep a handle on the intake screen
            self._modes["intake"] = self._make_intake
        # While the app starts, the home screen is its default screen, not its mode's: Textual draws a mode's first
        # screen once inside its start-up batch and throws that drawing away (then re-parses every stylesheet),
        # and draws the default screen once, after it. The mode is back once the app is mounted (F5/F6/F7).
        make = self._modes.get(self.DEFAULT_MODE)
        self._home: Callable[[], Screen[Any]] | None = make if callable(make) else None
        self._first: Callable[[], Screen[Any]] | None = None
        if self._home is not None:
            del self._modes[self.DEFAULT_MODE]
            # with a sign-in first, its content once the sign-in is drawn
            self._first = partial(self._composed_later, self._home) if self._held is not None else self._home

    def get_default_screen(self) -> Screen[Any]:
        return self._first() if self._first is not None else super().get_default_screen()

    def _make_intake(self) -> IntakeScreen:
        from fengqiao.screens.intake import IntakeScreen

        self.intake = IntakeScreen()
        return self.intake

    def _composed_later(self, make: Callable[[], Screen[Any]]) -> Screen[Any]:
        screen = make()
        if isinstance(screen, ComposedLater):
            screen.deferred = True
        return screen

    @property
    def home_screen(self) -> Screen[Any] | None:
        """The screen at the bottom of the current mode's stack (under a sign-in, a handover, help)."""
        stack = self.screen_stack
        return stack[0] if stack else None

    def on_ready(self) -> None:
        """The first frame has been drawn: start what was waiting for it (the sign-in; the intake's classifier)."""
        self._painted = True
        if self._held is not None:
            self.call_later(self._sign_in_first)
        waiting, self._after_paint = self._after_paint, []
        for callback in waiting:
            callback()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            if self._held is not None:
                self._held.append(event)  # typed before the sign-in form is up, or while its focus moves on
                return
            await super().on_event(event)
            self._hold_after(event)
            return
        await super().on_event(event)

    def _hold_after(self, event: events.Event) -> bool:
        """After an Enter on a screen whose Enter moves the focus or closes it (``HOLDS_AFTER_ENTER``, the
        sign-in), the keys that follow wait until it has (:meth:`release_keys`). Textual hands a key to the
        widget focused when the app reads it, and the focus moves only once the field has read its Enter: on a
        busy machine "张三⏎1024⏎" typed at a person's pace put 1024 in the name. A timer lets them go at the
        latest after HOLD_LIMIT seconds, whatever happens."""
        if not (isinstance(event, events.Key) and event.key == "enter"):
            return False
        if not getattr(self.screen, "HOLDS_AFTER_ENTER", False) or self.screen.focused is None:
            return False  # (nothing focused: the Enter goes nowhere, nothing would release the keys)
        self._held = []
        self._hold_generation += 1
        generation = self._hold_generation
        self.set_timer(HOLD_LIMIT, lambda: self.release_keys(generation))
        return True

    def release_keys(self, generation: int | None = None) -> None:
        """Let the keys held after an Enter go (to the widget focused by then), once what is queued before this
        call — the focus move of the screen that asks — has run."""
        if generation is not None and generation != self._hold_generation:
            return  # the timer of a hold already released
        self._hold_generation += 1
        self.call_later(self._release_held)

    async def _release_held(self) -> None:
        held, self._held = self._held or [], None
        for n, event in enumerate(held):
            await super().on_event(event)
            if self._hold_after(event):  # an Enter typed ahead: the rest waits for its focus move too
                self._held = held[n + 1 :]
                return

    async def _sign_in_first(self) -> None:
        """The sign-in, pushed after the first frame (pushed before it, Textual would draw it a frame later): the
        keys typed so far go to its fields, and the home screen's content is composed once the sign-in is drawn."""
        await self.ask_sign_in()
        await self._release_held()
        self.screen.call_after_refresh(self._build_home)

    def _build_home(self) -> None:
        home = self.home_screen
        if isinstance(home, ComposedLater) and home.deferred:
            home.call_later(home.compose_content)

    async def wait_for_home(self) -> None:
        """Until the screen under the sign-in is ready for keys (its deferred content is composed)."""
        home = self.home_screen
        if isinstance(home, ComposedLater):
            self._build_home()
            await home.content_ready.wait()

    @property
    def painted(self) -> bool:
        """The first frame is on the terminal (a screen composed before it may leave some of its content for later)."""
        return self._painted

    def after_first_paint(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the console's first frame is on the screen (at once if it already is): work
        that would otherwise compete with the first paint for the interpreter."""
        if self._painted:
            callback()
        else:
            self._after_paint.append(callback)

    @property
    def ctx(self) -> DeskContext:
        """The desk's settings and stores (what screens read)."""
        return self._ctx

    @property
    def db(self) -> Database:
        return self._ctx.db

    @property
    def desk(self) -> Desk:
        return self._ctx.desk

    @property
    def clock(self) -> Clock:
        return self._ctx.clock

    @property
    def store(self) -> OrderStore:
        return self._ctx.store

    # ---- chrome --------------------------------------------------------------------------------
    def desk_text(self) -> str:
        role = t(f"role.{self.desk.role}") if self.desk.role else t("app.role_none")
        where = self.desk.dept or self.desk.town or ""
        who = f" · {self.desk.operator}" if self._ctx.sign_in and self.desk.operator else ""
        return f"{self.desk.name} · {role}{(' · ' + where) if where else ''}{who}"

    def make_header(self) -> DeskBar:
        bar = DeskBar(self.desk_text(), self.clock, id="deskbar")
        bar.set_reactive(DeskBar.sync_text, self.sync_text)
        return bar

    def set_sync_text(self, text: str, tooltip: str | None = None) -> None:
        self.sync_text = text
        for bar in self.screen.query(DeskBar):
            bar.sync_text = text
            bar.tooltip = tooltip

    def compose(self) -> ComposeResult:
        yield from ()

    # ---- shifts --------------------------------------------------------------------------------
    def set_operator(self, desk: Desk) -> None:
        """From now on this desk acts as ``desk`` (the operator who signed in): every event carries them."""
        self._ctx.store.desk = desk  # the one order store every screen writes through
        self._ctx = replace(self._ctx, desk=desk)
        for stack in getattr(self, "_screen_stacks", {}).values():
            for screen in stack:
                for bar in screen.query(DeskBar):
                    bar.set_desk_text(self.desk_text())

    def ask_sign_in(self) -> AwaitMount:
        def signed(desk: Desk | None) -> None:
            if desk is not None:
                self.set_operator(desk)
                self.notify(t("shift.signed_in", actor=desk.actor), timeout=4, markup=False)
                self._pending_handover()

        from fengqiao.screens.shift import SignInScreen

        return self.push_screen(SignInScreen(pin_required=self._ctx.pin_required), signed)

    @work(thread=True, group="shift", exclusive=True, exit_on_error=False)
    def _pending_handover(self) -> None:
        from fengqiao.store.shifts import pending_handover

        try:
            handover = pending_handover(self.db, self.desk)
        except FengqiaoError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=8, markup=False)
            return
        if handover is not None:
            from fengqiao.screens.shift import HandoverScreen

            self.call_from_thread(self.push_screen, HandoverScreen("take", handover))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch_mode" and parameters and not self.has_mode(str(parameters[0])):
            return False  # this desk has no such screen (a department has no intake): the key does nothing
        if action == "handover":
            return self._ctx.sign_in
        if action == "step_focus":  # text fields only: a widget of its own Tab (none today) keeps it
            focused = self.focused
            return isinstance(focused, Input) or getattr(focused, "tab_behavior", None) == "focus"  # or a TextArea
        return super().check_action(action, parameters)

    async def action_step_focus(self, step: int) -> None:
        """Tab / Shift+Tab in a text field: the next or previous widget, once the field took the keys before it."""
        field = self.focused
        if field is None:
            return
        await drain(field)
        if self.focused is field:
            self.screen.focus_next() if step > 0 else self.screen.focus_previous()

    def action_handover(self) -> None:
        """F12: the outgoing operator hands over; then the next one signs in."""
        from fengqiao.screens.shift import HandoverScreen, SignInScreen

        if not self._ctx.sign_in or isinstance(self.screen, (HandoverScreen, SignInScreen)):
            return

        def given(done: bool | None) -> None:
            if done:
                self.set_operator(replace(self.desk, operator=""))
                self.ask_sign_in()

        self.push_screen(HandoverScreen("give"), given)

    def on_mount(self) -> None:
        if self._home is not None:
            self._modes[self.DEFAULT_MODE] = self._home
        self.title = t("app.title")
        self.sub_title = t("app.subtitle")
        self._catch_hangup()
        if self._listen and "intake" in self._modes and not self._ctx.read_only:
            self.after_first_paint(lambda: self.run_worker(self._listen_for_pops(), group="pop", exit_on_error=False))
        if self._watch_store:
            self.set_interval(1.0, self._poll_store)
            self.set_interval(OVERDUE_EVERY, self._mark_overdue)
            self.sync = self._start_sync()  # only with a [sync] server in the config

    def _start_sync(self) -> ConsoleSync | None:
        setup = self._sync_setup
        if setup is None:
            return None
        if setup.error is not None:
            self.set_sync_text(setup.error)
            return None
        if setup.client is None:
            return None
        from .syncworker import ConsoleSync

        sync = ConsoleSync(
            setup.client,
            self.db,
            self.desk.name,
            interval=setup.interval,
            clock=self.clock,
            show=self.set_sync_text,
            changed=self._announce,
            call_from_thread=self.call_from_thread,
        )
        sync.start()
        return sync

    def on_unmount(self) -> None:
        if self.sync is not None:
            self.sync.stop()
        if self.pops is not None:
            self.pops.stop()
        try:
            loop = asyncio.get_running_loop()
            for sig in self._signals:
                loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass

    # ---- screen-pop from `fengqiao pop` ----------------------------------------------------------------
    async def _listen_for_pops(self) -> None:
        from .popsock import PopListener, socket_path

        listener = PopListener(socket_path(self.db.path), self.screen_pop)
        if await listener.start():
            self.pops = listener

    def screen_pop(self, phone: str) -> None:
        """A number from the telephony system: on the intake form, or waiting as the next caller."""
        from fengqiao.screens.caller_pop import pop_caller

        pop_caller(self, phone)

    # ---- quitting: the call being taken is kept --------------------------------------------------
    async def action_quit(self) -> None:
        """Ctrl+Q and the palette's Quit: with a call being taken, the first press asks (and keeps the draft)."""
        intake = self.intake
        if intake is not None and intake.is_attached and not intake.quit_requested():
            if self.screen is not intake:
                self.notify(t("intake.confirm_quit"), severity="warning", timeout=QUIT_NOTICE, markup=False)
            return
        if intake is not None and intake.is_attached:
            intake.flush_draft()
        self.exit()

    def _catch_hangup(self) -> None:
        """A closed SSH session (SIGHUP) or a polite kill (SIGTERM): keep the draft, then exit cleanly."""
        try:
            loop = asyncio.get_running_loop()
            for name in ("SIGHUP", "SIGTERM"):
                if hasattr(signal, name):
                    loop.add_signal_handler(getattr(signal, name), self.hang_up)
                    self._signals.append(getattr(signal, name))
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass

    def hang_up(self) -> None:
        """The terminal has gone: save what is typed first (writing to the screen may fail from here on)."""
        if self.intake is not None and self.intake.is_attached:
            self.intake.flush_draft()
        self.exit(return_code=0)

    # ---- store changes -------------------------------------------------------------------------
    def _poll_store(self) -> None:
        self._check_store()

    @work(thread=True, group="store-watch", exclusive=True, exit_on_error=False)
    def _check_store(self) -> None:
        seq = self.db.last_event_seq()
        now = self.clock()
        crossing = self.desk.role == Role.SUPERVISOR and (
            self._last_scan is None or (now - self._last_scan).total_seconds() >= CROSSING_EVERY
        )
        if seq != self._last_seq or crossing:
            self._scan_attention(now)  # first: a board reloading on the change shows the new ones on top
        if seq != self._last_seq:
            first = self._last_seq is None
            self._last_seq = seq
            if not first:
                self.call_from_thread(self._announce, seq)

    def check_attention(self) -> Scan:
        """Look for what needs someone on this desk now and alert (from a worker thread; also for tests)."""
        return self._scan_attention(self.clock())

    def _scan_attention(self, now: datetime) -> Scan:
        from fengqiao.store.attention import Scan, scan

        self._last_scan = now
        if self._ctx.read_only:
            return Scan([])
        try:
            found = scan(self.db, self.desk, self._ctx.ref, now)
        except FengqiaoError as exc:
            log.warning("attention scan failed: %s", exc)
            return Scan([])
        if found.alerts:
            self.call_from_thread(self._alert, found, now)
        return found

    def _alert(self, found: Scan, now: datetime) -> None:
        """A toast (always) and the terminal bell (as the desk's config says) for orders that need someone."""
        from fengqiao.screens.alerts import alert_line

        ref, lang = self._ctx.ref, self._ctx.lang
        lines = [alert_line(ref, a, lang) for a in found.alerts[:ALERT_LINES]]
        rest = len(found.alerts) - len(lines) + found.more
        if rest > 0:
            lines.append(t("alert.more", count=rest))
        reason = found.alerts[0].reason
        self.notify(
            "\n".join(lines), title=t(f"alert.title_{reason}"), severity="warning", timeout=ALERT_SECONDS, markup=False
        )
        if bell_rings(self._ctx.bell, now, self._ctx.night):
            self.bell()
        self.alerts_shown += 1

    @work(thread=True, group="overdue", exclusive=True, exit_on_error=False)
    def _mark_overdue(self) -> None:
        """Record the first overdue moment of orders whose deadline passed (a projection field, for the KPIs)."""
        from fengqiao.store.board import mark_overdue

        mark_overdue(self.db, self.clock())

    def _announce(self, seq: int) -> None:
        self.screen.post_message(StoreChanged(seq))

    def on_urge_requested(self, message: UrgeRequested) -> None:
        """The repeat-call panel's urge: the order's overdue assignee is urged (one key, no form)."""
        if not message.order_no:
            self.notify(t("alert.no_order"), severity="warning", timeout=5)
            return
        self._urge(message.order_no)

    @work(thread=True, group="urge", exit_on_error=False)
    def _urge(self, order_no: str) -> None:
        from fengqiao.models.machine import Action, Intent
        from fengqiao.models.routing import describe_assignee
        from fengqiao.store.attention import mark_seen

        try:
            state = self.store.act(order_no, Intent(Action.URGE))
            mark_seen(self.db, self.desk, state.id, self.clock())
        except FengqiaoError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=8, markup=False)
            return
        nxt = state.next_deadline()  # the urge went to the assignment whose deadline came first
        who = state.assignment(nxt[3]).assignee if nxt else state.primary.assignee
        label = describe_assignee(self._ctx.ref, who, self._ctx.lang)
        self.call_from_thread(self.notify, t("alert.urged", order_no=order_no, assignee=label), timeout=5, markup=False)

    def on_paste_refused(self, message: PasteRefused) -> None:
        """A paste too long for its field, on a screen that does not say so itself."""
        self.notify(t("app.paste_too_long", length=message.length, limit=message.limit), severity="warning", timeout=8)

    # ---- help and palette ----------------------------------------------------------------------
    def action_help(self) -> None:
        from fengqiao.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        screen = self.screen
        ours: list[tuple[str, str]] = []  # the screen's and the app's keys first: those are the work
        widget: list[tuple[str, str]] = []  # then the editing and scrolling keys of the widget in focus
        keys: dict[tuple[bool, str], list[str]] = {}  # (ours?, description) -> its keys, in binding order
        for _key, (node, binding, enabled, _tip) in screen.active_bindings.items():
            description = describe_binding(binding)
            if description and enabled:
                shown = keys.setdefault((node is self or node is screen, description), [])
                display = self.get_key_display(binding)
                if display not in shown:
                    shown.append(display)
        for (mine, description), shown in keys.items():
            (ours if mine else widget).append((" / ".join(shown), description))
        self.push_screen(HelpScreen(ours, widget))

    def action_warnings(self) -> None:
        """F11: the warnings panel over the current screen (once: a second F11 there does nothing)."""
        from fengqiao.screens.warnings import WarningsScreen

        if not isinstance(self.screen, WarningsScreen):
            self.push_screen(WarningsScreen())

    def has_mode(self, mode: str) -> bool:
        return mode in self._modes

    def action_command_palette(self) -> None:
        """Textual's palette with its search field's hint in the desk's language (Textual's is English)."""
        if self.use_command_palette and not CommandPalette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(CommandPalette(id="--command-palette", placeholder=t("palette.search")))

    def search_themes(self) -> None:
        """The theme picker (palette → 主题), its hint in the desk's language."""
        self.push_screen(CommandPalette(providers=[ThemeProvider], placeholder=t("palette.search_themes")))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand(t("app.help"), t("help.intro"), self.action_help)
        if self._ctx.sign_in:
            yield SystemCommand(t("app.handover"), t("app.handover_help"), self.action_handover)
        yield SystemCommand(t("govui.open_panel"), t("govui.open_panel_help"), self.action_warnings)
        for mode in ("intake", "board", "cockpit"):
            if not self.has_mode(mode):
                continue
            yield SystemCommand(t(f"app.mode_{mode}"), t(f"app.mode_{mode}_help"), lambda m=mode: self.switch_mode(m))
        for command in super().get_system_commands(screen):  # Textual's own (Theme, Quit, Keys, …) in our language
            title, help_ = SYSTEM_TITLES.get(command.title), SYSTEM_HELPS.get(command.help)
            yield SystemCommand(
                t(title) if title else command.title,
                t(help_) if help_ else command.help,
                command.callback,
                command.discover,
            )


# Textual's built-in palette commands (App.get_system_commands), by their English title and help text.
SYSTEM_TITLES = {
    "Theme": "palette.theme",
    "Quit": "palette.quit",
    "Keys": "palette.keys",
    "Minimize": "palette.minimize",
    "Maximize": "palette.maximize",
    "Screenshot": "palette.screenshot",
}
SYSTEM_HELPS = {
    "Change the current theme": "palette.theme_help",
    "Quit the application as soon as possible": "palette.quit_help",
    "Hide the keys and widget help panel": "palette.keys_hide_help",
    "Show help for the focused widget and a summary of available keys": "palette.keys_show_help",
    "Minimize the widget and restore to normal size": "palette.minimize_help",
    "Maximize the focused widget": "palette.maximize_help",
    "Save an SVG 'screenshot' of the current screen": "palette.screenshot_help",
}
