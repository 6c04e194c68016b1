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


def test_the_palettes_built_in_commands_speak_the_desks_language(db, ref, clock) -> None:  # noqa: ANN001
    """Textual's own commands (Theme, Quit, Keys, Screenshot, …) are translated like ours."""
    import asyncio

    from fengqiao.models.i18n import set_lang

    from .intake_helpers import make_app

    async def titles(lang: str) -> list[str]:
        set_lang(lang)
        app = make_app(db, ref, clock, lang=lang)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            return [c.title for c in app.get_system_commands(app.screen)]

    zh = asyncio.run(titles("zh"))
    assert {"主题", "退出", "按键面板", "截图"} <= set(zh)
    assert not {"Theme", "Quit", "Keys", "Screenshot"} & set(zh)
    en = asyncio.run(titles("en"))
    assert {"Theme", "Quit", "Keys", "Screenshot"} <= set(en)
