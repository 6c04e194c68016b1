"""Screen-pop into the running console: ``fengqiao pop PHONE`` through the store's Unix socket.

The console listens on one socket per store (0600, in the desk's state directory); a pop fills the phone of
an empty form, or waits as the next caller (Ctrl+T) when a call is being taken; with no console running,
``fengqiao pop`` starts one with the number.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import pytest
from textual.widgets import Input
from typer.testing import CliRunner

from fengqiao.console import entry
from fengqiao.console.cli import app as cli
from fengqiao.console.popsock import PopListener, clean_phone, send_pop, socket_path
from fengqiao.screens.intake import IntakeScreen

from .intake_helpers import fill, make_app, settle

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix domain sockets")
runner = CliRunner()


def test_one_socket_per_store_in_the_state_directory(tmp_path: Path) -> None:
    a, b = socket_path(tmp_path / "a.db"), socket_path(tmp_path / "b.db")
    assert a != b and a == socket_path(tmp_path / "a.db")
    assert a.name.startswith("pop-") and a.suffix == ".sock"
    assert len(str(a).encode()) <= 100  # fits a sockaddr_un, also from a deep folder


def test_clean_phone() -> None:
    assert clean_phone(" １３８５７５１２３４５ ") == "13857512345"
    assert clean_phone("（0575）83012345") == "(0575)83012345"
    assert clean_phone("anonymous") is None and clean_phone("") is None and clean_phone("1" * 80) is None


async def test_the_listener_is_private_replaces_a_stale_socket_and_never_steals(tmp_path: Path) -> None:
    path = socket_path(tmp_path / "desk.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("left by a console that died")
    got: list[str] = []
    first = PopListener(path, got.append)
    assert await first.start()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        second = PopListener(path, got.append)
        assert not await second.start()  # a second console on the store leaves the pops to the first
        assert await asyncio.to_thread(send_pop, path, "１３８５７５１２３４５") == "OK"
        assert await asyncio.to_thread(send_pop, path, "hello") == "ERR not a phone number"
        assert got == ["13857512345"]
    finally:
        first.stop()
    assert not path.exists()
    assert await asyncio.to_thread(send_pop, path, "13857512345") is None  # nobody listens


async def test_a_pop_reaches_the_running_console(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock, listen=True)
    path = socket_path(db.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.pops is not None
        await pilot.press("f6")  # on the board when the phone rings
        assert await asyncio.to_thread(send_pop, path, "13857512345") == "OK"
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        assert screen.query_one("#phone", Input).value == "13857512345"
        assert app.focused is screen.query_one("#town")


async def test_a_pop_never_overwrites_a_call_being_taken_it_waits(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock, listen=True)
    path = socket_path(db.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(pilot, "13857512345", "cl", "", "买到假货")
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        for number in ("13900000000", "13857512345", "139-0000-0000", "13911112222"):
            assert await asyncio.to_thread(send_pop, path, number) == "OK"
        await settle(pilot)
        assert screen.query_one("#phone", Input).value == "13857512345"
        assert screen.waiting == ["13900000000", "139-0000-0000", "13911112222"]  # the one on the form is not
        line = str(screen.query_one("#next").render())
        assert "13900000000" in line and "Ctrl+T" in line
        await pilot.press("ctrl+t")  # not while this call is on the form
        await settle(pilot)
        assert screen.query_one("#phone", Input).value == "13857512345"
        await pilot.press("ctrl+n", "ctrl+n")
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert screen.query_one("#phone", Input).value == "13900000000"
        assert screen.waiting[0] != "13900000000"


def test_fengqiao_pop_starts_a_console_when_none_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str | None] = []
    monkeypatch.setattr(
        "fengqiao.console.commands.console.run_console", lambda state, caller=None, **kw: started.append(caller)
    )
    result = runner.invoke(cli, ["--db", str(tmp_path / "desk.db"), "pop", "１３８５７５１２３４５"])
    assert result.exit_code == 0, result.stderr
    assert started == ["13857512345"]
    bad = runner.invoke(cli, ["--db", str(tmp_path / "desk.db"), "pop", "anonymous"])
    assert bad.exit_code != 0 and "anonymous" in bad.stderr and started == ["13857512345"]


async def test_the_fast_path_hands_the_number_over_without_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    got: list[str] = []
    listener = PopListener(socket_path(db), got.append)
    assert await listener.start()
    try:
        status = await asyncio.to_thread(entry._fast_pop, ["--db", str(db), "pop", "13857512345"])  # noqa: SLF001
        assert status == 0 and got == ["13857512345"]
        other = await asyncio.to_thread(entry._fast_pop, ["--db", str(db), "orders"])  # noqa: SLF001
        assert other is None  # anything else goes to the full command line
    finally:
        listener.stop()
    assert entry._fast_pop(["--db", str(db), "pop", "13857512345"]) is None  # noqa: SLF001 - no console: the CLI
