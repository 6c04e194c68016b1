"""Shared pieces for the intake screen's Pilot tests, snapshots and the drill."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.keys import _character_to_key

from fengqiao.console.app import FengqiaoApp
from fengqiao.models.clock import FixedClock
from fengqiao.models.intake import IntakeForm
from fengqiao.models.reference import Reference
from fengqiao.models.roles import make_desk
from fengqiao.store.db import Database


def make_app(db: Database, ref: Reference, clock: FixedClock, **kwargs: Any) -> FengqiaoApp:
    desk = make_desk(ref, "110-1", "call_taker", operator="张三")
    return FengqiaoApp(db=db, desk=desk, clock=clock, ref=ref, watch_store=False, **kwargs)


async def settle(pilot: Any) -> None:
    """Let workers finish and their messages land."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def type_text(pilot: Any, text: str) -> None:
    """Type text as keys, one key per character (Chinese characters and punctuation too).

    Pilot cannot name some keys (full-width punctuation such as "，"); those are sent as key events carrying the
    character, as a terminal would deliver them.
    """
    run: list[str] = []
    for ch in text:
        if ch == " ":
            run.append("space")
        elif ch.isalnum() or (ch.isascii() and ch.isprintable()):
            run.append(ch)
        else:
            if run:
                await pilot.press(*run)
                run = []
            send_burst(pilot.app, ch)
    if run:
        await pilot.press(*run)
    await pilot.pause()


BURST_KEYS = {"\n": ("enter", "\r"), "\t": ("tab", "\t"), "\b": ("shift+tab", None)}


def send_burst(app: Any, text: str) -> None:
    """``text`` as key events all at once, as a terminal delivers a burst (tmux send-keys, a script, an IME commit):
    ``\\n`` is Enter, ``\\t`` Tab, ``\\b`` Shift+Tab, anything else its character. Nothing waits between keys."""
    for ch in text:
        key, char = BURST_KEYS.get(ch, (None, ch))
        event = events.Key(key or _character_to_key(ch), char)
        event.set_sender(app)
        app._driver.send_message(event)  # noqa: SLF001 - what the terminal driver does with each key it reads


async def paste(pilot: Any, text: str) -> None:
    """Text arriving as a terminal paste into the focused field (quicker under Pilot than one key per character)."""
    if text:
        event = events.Paste(text)
        event.set_sender(pilot.app)
        pilot.app._driver.send_message(event)  # noqa: SLF001 - as the terminal driver delivers a paste
        await pilot.pause()


async def fill(pilot: Any, phone: str, town: str, address: str, description: str, *, typed: bool = False) -> None:
    """Phone, Enter, town, Enter, address, Enter, description: the keys of a call before the tag.

    The phone and town are typed key by key; the address and description are pasted unless ``typed``.
    """
    enter = type_text if typed else paste
    await settle(pilot)
    await type_text(pilot, phone)
    await pilot.press("enter")
    await type_text(pilot, town)
    await pilot.press("enter")
    await enter(pilot, address)
    await pilot.press("enter")
    await enter(pilot, description)
    await settle(pilot)


def earlier_call(
    store: Any,
    phone: str = "13857512345",
    town: str = "LS",
    tag: str = "B02",
    text: str = "小区物业把门禁停了，业主进不了门",
    address: str = "鹿山街道金桂苑3幢",
) -> Any:
    return store.dispatch(IntakeForm(phone=phone, town=town, description=text, address=address), tag)
