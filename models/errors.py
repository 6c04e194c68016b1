"""Errors with a message meant for the person at the desk.

Every error the console or the CLI shows to a user is a :class:`FengqiaoError`; anything else is a bug.
"""

from __future__ import annotations


class FengqiaoError(Exception):
    """An error whose ``str()`` is one clear, user-facing line."""

    exit_code = 1


class ReferenceDataError(FengqiaoError):
    """A fixture file (taxonomy, departments, towns) is malformed."""


class ValidationError(FengqiaoError):
    """Bad input: a malformed phone number, an unknown code, an empty or oversized text."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(FengqiaoError):
    """An order number (or other key) that is not in the store."""


class DomainError(FengqiaoError):
    """An action the order state machine refuses.

    The message names the order, its current state and the refused action.
    """

    def __init__(
        self, message: str, *, order_no: str = "", state: str = "", action: str = "", reason: str = ""
    ) -> None:
        super().__init__(message)
        self.order_no = order_no
        self.state = state
        self.action = action
        self.reason = reason


class Redundant(DomainError):
    """The action's effect is already in place (e.g. the assignment is already signed)."""


class PermissionDenied(DomainError):
    """The desk's role may not take this action or see this order."""


class StoreError(FengqiaoError):
    """The database cannot be used: not ours, locked, read-only, full, corrupt, too new."""
