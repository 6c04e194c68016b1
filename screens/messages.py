"""Messages that cross the app: posted by the console's runtime or by widgets, handled by screens or the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from textual.widgets import Input, TextArea


class StoreChanged(Message):
    """Another write reached the store (this desk's or anyone's). ``seq`` is the newest event number."""

    def __init__(self, seq: int) -> None:
        super().__init__()
        self.seq = seq


class PasteRefused(Message):
    """A paste into ``field`` was refused: ``length`` characters where at most ``limit`` fit."""

    def __init__(self, field: Input | TextArea, length: int, limit: int) -> None:
        super().__init__()
        self.field, self.length, self.limit = field, length, limit


class UrgeRequested(Message):
    """Someone asked to urge (催办) the assignee of order ``order_no`` (the repeat-call panel's key)."""

    def __init__(self, order_no: str) -> None:
        super().__init__()
        self.order_no = order_no
