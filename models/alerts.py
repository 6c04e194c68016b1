"""When the terminal bell may ring for something that needs someone (pure: the rule and its settings).

The desk's config file sets it (``[desk] bell``)::

    bell = "on"            # on (default) | off | day: not during the night hours
    night = "22:00-07:00"  # the night hours for bell = "day" (Shanghai time; may wrap past midnight)

The toast always shows; only the bell follows this rule.
"""

from __future__ import annotations

from datetime import datetime, time

from .clock import local
from .errors import ValidationError
from .i18n import t

BELL_MODES = ("on", "off", "day")
DEFAULT_NIGHT = (time(22, 0), time(7, 0))
REASONS = ("new", "returned", "overdue")  # why an order needs someone: a new order, a return, a deadline passed


def parse_night(text: str | None) -> tuple[time, time]:
    """``"22:00-07:00"`` as (start, end). Raises :class:`ValidationError` naming the setting."""
    if text is None or not str(text).strip():
        return DEFAULT_NIGHT
    try:
        start, end = (time.fromisoformat(p.strip()) for p in str(text).split("-", 1))
    except ValueError:
        raise ValidationError(t("config.bad_night", value=str(text)[:40]), field="night") from None
    return start, end


def check_bell(mode: str | None) -> str:
    value = (mode or "on").strip().lower()
    if value not in BELL_MODES:
        raise ValidationError(t("config.bad_bell", value=value[:20], choices=" | ".join(BELL_MODES)), field="bell")
    return value


def is_night(now: datetime, night: tuple[time, time]) -> bool:
    at = local(now).time()
    start, end = night
    if start <= end:
        return start <= at < end
    return at >= start or at < end  # the night wraps past midnight


def bell_rings(mode: str, now: datetime, night: tuple[time, time] = DEFAULT_NIGHT) -> bool:
    """Whether the bell rings at ``now`` under ``mode`` (on | off | day)."""
    if mode == "off":
        return False
    if mode == "day":
        return not is_night(now, night)
    return True
