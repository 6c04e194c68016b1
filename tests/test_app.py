"""The console shell: it opens on a real store, shows the desk, F1 lists the keys, ctrl+q quits."""

from __future__ import annotations

from fengqiao.console.app import FengqiaoApp
from fengqiao.models.roles import make_desk
from fengqiao.screens.base import DeskBar
from fengqiao.screens.help import HelpScreen


async def test_shell_opens_with_desk_and_help(db, ref, clock) -> None:
    app = FengqiaoApp(db=db, desk=make_desk(ref, "110-1", "call_taker", operator="张三"), clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.screen.query_one(DeskBar)
        assert bar.clock_text == "2026-11-28 09:30"
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("ctrl+q")
    assert app.return_code == 0


async def test_shell_speaks_english(db, ref, clock) -> None:
    app = FengqiaoApp(db=db, desk=make_desk(ref, "desk-en", "supervisor"), clock=clock, lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        descriptions = {b.description for _, b, _, _ in app.screen.active_bindings.values()}
        assert "Help" in descriptions and "Quit" in descriptions
