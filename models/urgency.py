"""How urgent an order's next deadline is: overdue, near (under 20% of its window left) or in time.

Pure: the board, the detail screen and the CLI classify the same way from (due, window start, now).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

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
    seconds = abs(int(delta.total_seconds()))
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"
