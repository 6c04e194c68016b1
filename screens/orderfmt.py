"""How orders read on screen: labels, countdowns and flags shared by the board and the detail screen.

Urgency never depends on colour alone (a monochrome SSH session must read it too): overdue cells start with
``✖`` and say "超时"/"late" in reverse video, near-due cells start with ``⚠`` in bold.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text

from fengqiao.models.clock import fmt_duration, local
from fengqiao.models.i18n import name, t
from fengqiao.models.reference import Reference
from fengqiao.models.routing import describe_assignee
from fengqiao.models.urgency import Urgency, countdown, urgency

OVERDUE_STYLE = "bold reverse red"
NEAR_STYLE = "bold yellow"
OVERDUE_MARK = "✖"
NEAR_MARK = "⚠"
# What an order waits for when no deadline runs (status -> i18n key).
WAITING = {"fed_back": "board.wait_visit", "visited": "board.wait_close", "returned": "board.wait_reassign"}


def short_no(order_no: str) -> str:
    """``SZ-20261128-0042`` -> ``SZ-1128-0042`` (narrow screens; search finds either)."""
    parts = order_no.split("-")
    if len(parts) == 3 and len(parts[1]) == 8:
        return f"{parts[0]}-{parts[1][4:]}-{parts[2]}"
    return order_no


def tag_label(ref: Reference, code: str) -> str:
    tag = ref.tags.get(code)
    return f"{code} {name(tag)}" if tag else code


def assignee_label(ref: Reference, code: str | None, lang: str) -> str:
    return describe_assignee(ref, code, lang) if code else ""


def town_label(ref: Reference, code: str) -> str:
    town = ref.towns.get(code)
    return name(town) if town else code


def status_label(status: str, *, short: bool = False) -> str:
    """An order's state; ``short`` for the board's column (``to sign`` rather than ``awaiting sign-off``)."""
    return t(f"board.st_{status}") if short else t(f"status.{status}")


def when(dt: datetime | None, now: datetime) -> str:
    """A time on screen: ``09:40`` today, ``11-29 09:40`` another day (Asia/Shanghai)."""
    if dt is None:
        return "—"
    here = local(dt)
    return here.strftime("%H:%M") if here.date() == local(now).date() else here.strftime("%m-%d %H:%M")


def stamp(dt: datetime) -> str:
    """An event's time to the second, without the year: ``11-28 09:35:12`` (Asia/Shanghai)."""
    return local(dt).strftime("%m-%d %H:%M:%S")


def age_text(call_at: datetime, now: datetime) -> str:
    return fmt_duration(max(now - call_at, timedelta(0)))


def countdown_cell(
    status: str, kind: str | None, due: datetime | None, start: datetime | None, now: datetime
) -> tuple[Text, Urgency]:
    """The countdown to the next deadline, marked by urgency; or what the order waits for."""
    level = urgency(due, start, now)
    if due is None or kind is None:
        key = WAITING.get(status)
        return Text(" " + t(key) if key else "", style="dim"), level
    step = t(f"board.step_{kind}")
    left = countdown(due - now)
    if level == Urgency.OVERDUE:
        return Text(f"{OVERDUE_MARK}{t('board.late', step=step, time=left)}", style=OVERDUE_STYLE), level
    if level == Urgency.NEAR:
        return Text(f"{NEAR_MARK}{step} {left}", style=NEAR_STYLE), level
    return Text(f" {step} {left}"), level


def flags_text(mode: str, repeat: bool, escalations: int) -> str:
    """Compact marks: 双 dual dispatch, 重 repeat call, 督 escalated."""
    out = ""
    if mode == "dual":
        out += t("board.flag_dual")
    if repeat:
        out += t("board.flag_repeat")
    if escalations:
        out += t("board.flag_escalated")
    return out
