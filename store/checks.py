"""What ``fengqiao check`` adds to store/audit.py's chain and projection checks (issue 11).

* :func:`is_missing_order` — tells an order this desk never had from a deleted one. An event that a broken or
  hostile desk pushed for an order that exists nowhere is stored by the server as a ``conflict`` (it keeps
  everything a desk that sees all orders sends) and reaches every call-taker and supervisor desk. Such an
  order has no row here and its events are all conflicts on the server too: nothing was deleted, so it is a
  note, not a fault. An order whose row is present, or any of whose events the server applied (so the server
  had its dispatch), and which has no dispatch here, still is a deleted dispatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

STATUS = 11  # position of the server outcome in store.audit's event rows


def is_missing_order(rows: Sequence[Sequence[Any]]) -> bool:
    """Whether the shared events ``rows`` of an order with no row belong to an order no one ever had."""
    return bool(rows) and all(r[3] != "dispatch" and r[STATUS] == "conflict" for r in rows)
