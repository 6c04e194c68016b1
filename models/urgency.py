"""How urgent an order's next deadline is: overdue, near (under 20% of its window left) or in time.

Pure: the board, the detail screen and the CLI classify the same way from (due, window start, now).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from .clock import fmt_duration

NEAR_FRACTION = 0.2


class Urgency(StrEnum):
    NONE = "none"  # no pending deadline (fed back, visited, closed, cancelled)
    OK = "ok"
    NEAR = "near"
    OVERDUE = "overdue"


def urgency(due: datetime | None, start: datetime | None, now: datetime) -> Urgency:
    """``due`` passed: overdue; less than 20% of the window (``start`` .. ``due``) left: near."""
    if due is None:
        return Urgency.NONE
    left = due - now
    if left < timedelta(0):
        return Urgency.OVERDUE
    window = due - start if start is not None else timedelta(0)
    if window > timedelta(0) and left < window * NEAR_FRACTION:
        return Urgency.NEAR
    return Urgency.OK


def countdown(delta: timedelta) -> str:
    """Remaining (or, negative, overdue) time, to the second under an hour: ``4m07s``, ``1h05m``, ``2d03h``.

    Shown without sign: the caller says whether it is time left or time over.
    """
    return fmt_duration(abs(delta), seconds=True)
