"""Sync's errors (no I/O library here, so any layer may name them)."""

from __future__ import annotations

from fengqiao.models.errors import FengqiaoError


class SyncError(FengqiaoError):
    """Sync cannot go on until someone acts (token refused, desk mismatch, diverged history)."""


class SyncUnavailable(SyncError):
    """The server cannot be reached or gave no usable answer: retried later, nothing is lost."""


class SyncTooLarge(SyncError):
    """The server answered 413: the request body is over its limit (the client sends a smaller batch)."""


class SyncAuthError(SyncError):
    """The server refused the token (wrong, revoked)."""


class SimulatedCrash(BaseException):
    """Raised by test crash hooks: a BaseException so no ``except Exception`` swallows it."""
