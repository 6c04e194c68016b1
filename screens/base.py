"""Shared UI pieces: localized bindings, the desk header bar, safe text."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from fengqiao.models.clock import fmt_local
from fengqiao.models.i18n import has, t
from fengqiao.models.text import visible


def localize_bindings(node: DOMNode) -> None:
    """Replace binding descriptions that are catalogue keys (``app.help``) with the current language's text.

    Bindings are declared once on the class with keys; each instance shows them in the language the app
    was started in.
    """
    mapping = node._bindings.key_to_bindings  # noqa: SLF001 - Textual keeps a per-instance copy here
    for key, bindings in list(mapping.items()):
        mapping[key] = [
            replace(
                b,
                description=_describe(b.description, b.action),
                tooltip=t(b.tooltip) if b.tooltip and has(b.tooltip) else b.tooltip,
            )
            for b in bindings
        ]


def _describe(description: str, action: str) -> str:
    if description and has(description):
        return t(description)
    builtin = "builtin." + action.replace(".", "_").replace("(True)", "_select")
    return t(builtin) if has(builtin) else description


def describe_binding(binding: Binding) -> str:
    """A binding's description in the current language, also for Textual's own widgets' keys."""
    return _describe(binding.description, binding.action)


class LocalizedMixin:
    """Mix into a Screen or Widget to localize its BINDINGS on construction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localize_bindings(self)  # type: ignore[arg-type]


def safe(text: str | None, *, single_line: bool = False, style: str = "") -> Text:
    """Caller text for the screen: never interpreted as markup, control characters made visible."""
    return Text(visible(text or "", single_line=single_line), style=style, end="")


class DeskBar(Widget):
    """The header: product name, desk and role, sync status and a clock that redraws once a minute."""

    DEFAULT_CSS = """
    DeskBar {
        dock: top;
        height: 1;
        background: $primary;
        color: $text;
        layout: horizontal;
    }
    DeskBar > #title { width: auto; padding: 0 1; text-style: bold; }
    DeskBar > #desk { width: 1fr; padding: 0 1; }
    DeskBar > #sync { width: auto; padding: 0 1; }
    DeskBar > #clock { width: auto; padding: 0 1; }
    """

    clock_text: reactive[str] = reactive("", layout=False)
    sync_text: reactive[str] = reactive("", layout=False)

    def __init__(self, desk_text: str, clock: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._desk_text = desk_text
        self._clock = clock

    def compose(self) -> ComposeResult:
        yield Static(t("app.title"), id="title")
        yield Static(safe(self._desk_text, single_line=True), id="desk")
        yield Static("", id="sync")
        yield Static("", id="clock")

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        now: datetime = self._clock()
        text = fmt_local(now)
        if text != self.clock_text:  # only the minute changes the screen: quiet over SSH
            self.clock_text = text

    def set_desk_text(self, text: str) -> None:
        """The desk and who is on shift changed (a sign-in)."""
        self._desk_text = text
        if self.is_mounted:
            self.query_one("#desk", Static).update(safe(text, single_line=True))

    def watch_clock_text(self, old: str, value: str) -> None:
        # Same width every minute: no relayout (which would repaint other widgets' scrollbars over SSH).
        self.query_one("#clock", Static).update(value, layout=len(old) != len(value))

    def watch_sync_text(self, value: str) -> None:
        self.query_one("#sync", Static).update(safe(value, single_line=True))


class ComposedLater:
    """Mix into a Screen whose content the console may compose after its first frame: while ``deferred`` the
    screen's ``compose`` yields its header only, and :meth:`compose_content` composes the rest.

    A console that asks who is on shift draws the sign-in first: the home screen under it (the intake, the
    cockpit) waits for that, with the modules only its content needs; and Textual draws a mode's first screen once
    inside its start-up batch and throws that drawing away, so content composed then would be drawn twice before
    the sign-in shows. The screen starts its content in :meth:`start_content` (from its ``on_mount``, or once
    composed later) and calls :meth:`content_started` at the end; ``content_ready`` is then set.
    """

    deferred = False

    @property
    def content_ready(self) -> asyncio.Event:
        """Set once the content is composed and started."""
        event: asyncio.Event | None = self.__dict__.get("_content_ready")
        if event is None:
            event = self.__dict__["_content_ready"] = asyncio.Event()
        return event

    async def compose_content(self) -> None:
        if not self.deferred:
            return
        self.deferred = False
        await self.recompose()  # type: ignore[attr-defined]  # a Screen's
        self.start_content()

    def start_content(self) -> None:
        self.content_started()

    def content_started(self) -> None:
        self.content_ready.set()


DRAIN_LIMIT = 1.0  # seconds an Enter or a Tab waits for the field it leaves to take the keys typed before it


async def drain(widget: Widget, limit: float = DRAIN_LIMIT) -> None:
    """Wait (at most ``limit`` seconds) until ``widget`` has taken the messages already in its queue: the keys of
    a fast burst (a script, a paste of keys, tmux, an IME committing a phrase). Called from a priority binding's
    action, while the app forwards nothing, so the keys after the Enter or Tab go to where the focus moves."""
    done = asyncio.Event()
    widget.call_later(done.set)
    try:
        await asyncio.wait_for(done.wait(), limit)
    except TimeoutError:
        pass
