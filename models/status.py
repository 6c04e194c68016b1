"""An order's states (the state machine, :mod:`models.machine`, moves orders between them; its module re-exports
these). A module of its own: the board's and the cockpit's queries name states, and the cockpit opens without
importing the state machine."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    ARRIVED = "arrived"
    FED_BACK = "fed_back"
    VISITED = "visited"
    CLOSED = "closed"
    RETURNED = "returned"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset(
    {Status.DISPATCHED, Status.SIGNED, Status.ARRIVED, Status.RETURNED, Status.FED_BACK, Status.VISITED}
)
WORKING_STATUSES = frozenset({Status.DISPATCHED, Status.SIGNED, Status.ARRIVED, Status.RETURNED})
