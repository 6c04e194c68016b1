"""Fixtures of the browser tests: one Chromium per module, a fresh server world and phone per test.

Every test here is skipped, with the reason and how to install what is missing, when playwright or Debian's
Chromium is not there (``apt-get install chromium``; CI's .ci/run installs it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .world import World, chromium, phone_context, why_no_browser

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per module, stopped before the next module's tests: Playwright's sync API keeps an event loop
    running in this thread while it lives, and every later asyncio.run (Pilot, snapshots) would refuse to start."""
    reason = why_no_browser()
    if reason:
        pytest.skip(reason)
    with chromium() as b:
        yield b


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


@pytest.fixture
def context(browser: Browser, world: World) -> Iterator[BrowserContext]:
    ctx = phone_context(browser, world)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Content Security Policy" in m.text else None,
    )
    yield p
    assert not errors, errors  # no script error and nothing the Content-Security-Policy refused
