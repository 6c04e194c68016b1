"""Time: an injectable clock, UTC storage and Asia/Shanghai display.

Logic never calls ``datetime.now()``; it receives a :data:`Clock` (a callable returning an aware UTC
datetime). Storage text is fixed-width ISO-8601 UTC (``2026-11-28T01:30:00.000000Z``) so that string
order equals time order in SQL indexes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .errors import ValidationError

UTC = UTC
SHANGHAI = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real clock. Pass this (or a test clock) into logic; never call it deep inside."""
    return datetime.now(UTC)


class FixedClock:
    """A clock for tests and demos that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = ensure_utc(start)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now = self.now + timedelta(**kwargs)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = ensure_utc(when)


def ensure_utc(dt: datetime) -> datetime:
    """Return ``dt`` in UTC; refuse naive datetimes (they are ambiguous)."""
    tz = dt.tzinfo
    if tz is UTC:
        return dt
    if tz is None or tz.utcoffset(dt) is None:
        raise ValueError(f"naive datetime {dt!r}: times must be timezone-aware")
    return dt.astimezone(UTC)


@lru_cache(maxsize=1 << 14)  # the same moment is written several times (an event, its row, a deadline)
def to_db(dt: datetime) -> str:
    """Fixed-width UTC text, 27 characters: ``2026-11-28T01:30:00.000000Z``."""
    return ensure_utc(dt).isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"


def to_db_opt(dt: datetime | None) -> str | None:
    return None if dt is None else to_db(dt)


@lru_cache(maxsize=1 << 14)
def from_db(text: str) -> datetime:
    if len(text) != 27 or text[-1] != "Z":
        raise ValueError(f"not a stored UTC time: {text!r}")
    try:  # the stored form: Python reads the "Z" itself (ten times faster than a replace of the zone)
        return datetime.fromisoformat(text)
    except ValueError:  # anything else it read before, read as before
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def from_db_opt(text: str | None) -> datetime | None:
    return None if text is None else from_db(text)


def local(dt: datetime) -> datetime:
    return ensure_utc(dt).astimezone(SHANGHAI)


def fmt_local(dt: datetime | None, *, seconds: bool = False, date: bool = True) -> str:
    """Format for the screen in Asia/Shanghai: ``2026-11-28 09:30``."""
    if dt is None:
        return ""
    fmt = ("%Y-%m-%d " if date else "") + ("%H:%M:%S" if seconds else "%H:%M")
    return local(dt).strftime(fmt)


def local_day(dt: datetime) -> str:
    """The Asia/Shanghai calendar day as ``YYYYMMDD`` (order numbers are by local day)."""
    return local(dt).strftime("%Y%m%d")


def parse_user_time(text: str, field: str = "at") -> datetime:
    """Parse an ISO time typed by a user. A time without offset is Asia/Shanghai wall time."""
    from .i18n import t

    raw = text.strip()
    try:
        dt = datetime.fromisoformat(raw.replace(" ", "T", 1) if "T" not in raw else raw)
    except ValueError:
        raise ValidationError(t("error.bad_time", value=text), field=field) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=SHANGHAI)
    if dt.year < EARLIEST.year:  # also before converting: year 1 does not survive the move to UTC
        raise ValidationError(t("error.at_too_early", at=raw, earliest=fmt_local(EARLIEST)), field=field)
    try:
        dt = dt.astimezone(UTC)
    except OverflowError:  # the last hours of year 9999
        raise ValidationError(t("error.bad_time", value=text), field=field) from None
    check_not_too_early(dt, field)
    return dt


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no event of this desk's world happened before (a sane floor)


def check_not_too_early(dt: datetime, field: str = "at") -> None:
    """Raise :class:`ValidationError` for a time before :data:`EARLIEST` (``--at 1970-01-01``, a zero clock)."""
    if ensure_utc(dt) < EARLIEST:
        from .i18n import t

        raise ValidationError(
            t("error.at_too_early", at=fmt_local(ensure_utc(dt)), earliest=fmt_local(EARLIEST, date=True)), field=field
        )


def fmt_duration(delta: timedelta, *, seconds: bool = False) -> str:
    """Compact signed duration for countdowns: ``1h05m``, ``-12m``, ``2d03h`` (``seconds``: ``4m07s`` under an hour)."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    days, rem = divmod(abs(total), 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    return f"{sign}{minutes}m{secs:02d}s" if seconds else f"{sign}{minutes}m"
