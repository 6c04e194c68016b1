"""Caller text on screen: markup and escape sequences are shown literally by the shared widgets every screen
uses (screens.base.safe and the desk header). The detail screen's own snapshot comes with that screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Footer, Static

from fengqiao.models.clock import FixedClock
from fengqiao.screens.base import DeskBar, safe
from tests.conftest import T0
from tests.test_hostile import HOSTILE, assert_inert

DESCRIPTION = "\n".join(HOSTILE)
DESK = "[reverse]席位[/] \x1b[5m闪烁\x1b[0m \x1b]0;标题\x07"


class Probe(App[None]):
    """The header and a description panel, as a detail screen would show a hostile call."""

    def compose(self) -> ComposeResult:
        yield DeskBar(DESK, FixedClock(T0), id="deskbar")
        yield Static(safe("来电人：" + "[i]王[/i]\x1b[31m某", single_line=True), id="caller")
        yield Static(safe(DESCRIPTION), id="description")
        yield Footer()


def test_safe_text_has_no_markup_and_no_raw_controls() -> None:
    for text in HOSTILE:
        rendered = safe(text)
        assert isinstance(rendered, Text) and not rendered.spans  # never styled by what the caller said
        assert_inert(rendered.plain)


def test_snapshot_of_hostile_text_rendered_literally(snap_compare) -> None:
    assert snap_compare(Probe(), terminal_size=(80, 24))


async def test_hostile_text_is_on_screen_as_typed() -> None:
    app = Probe()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = str(app.query_one("#description", Static).render())
        assert "[bold red]紧急[/bold red]" in shown and "␛[2J" in shown and "[link=https://evil.example]" in shown
        assert_inert(shown)
