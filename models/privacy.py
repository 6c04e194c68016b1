"""Callers' phone numbers are personal data: who sees them in full, and the record of every full view.

* Desks that must call back (call-takers, township centres, departments, the operator's CLI) see full
  numbers (:func:`models.desk.shows_full_phone`); supervisors, the cockpit, reports and exports see
  ``138****5678``.
* ``--unmasked`` (full numbers where they would be masked) is for the supervisor role only, and every use is
  written to the access log (``store.audit.record_access``): an append-only, hash-chained table like the
  event log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .desk import Desk, Role, shows_full_phone
from .errors import PermissionDenied
from .i18n import t
from .phone import mask_phone, show_no_number

PhoneView = Callable[[str], str]

UNMASKED = "unmasked"  # the access-log action for a full-number view


def _same(phone: str) -> str:
    return show_no_number(phone)


def phone_view(desk: Desk, *, unmasked: bool = False, masked_by_default: bool = False) -> PhoneView:
    """How ``desk`` sees a caller's number: in full or masked.

    ``masked_by_default`` is for the cockpit, reports and exports (masked for every role); ``unmasked`` asks
    for full numbers and is refused unless the desk is a supervisor (see :func:`check_unmasked`).
    """
    if unmasked:
        check_unmasked(desk)
        return _same
    if masked_by_default or not shows_full_phone(desk):
        return mask_phone
    return _same


def check_unmasked(desk: Desk) -> None:
    """Raise :class:`PermissionDenied` unless ``desk`` may ask for full numbers (the supervisor role)."""
    if desk.role != Role.SUPERVISOR:
        role = t(f"role.{desk.role}") if desk.role else t("audit.no_role")
        raise PermissionDenied(
            t("audit.unmasked_needs_supervisor", desk=desk.name, role=role), action=UNMASKED, reason="role"
        )


def is_masked(view: PhoneView | None) -> bool:
    """Whether ``view`` hides callers' numbers (None: the raw data, not masked)."""
    return view is not None and view is not _same


def shown_hash(value: str | None, view: PhoneView | None, key: bytes | None) -> str | None:
    """An event (or chain link) hash as ``view`` may show it.

    An event's hash covers its full payload, the caller's number included: beside a masked number it would give
    the number back to anyone hashing the ten thousand candidates. A masked view therefore shows the hash keyed
    with the store's secret (``k:`` + HMAC-SHA256, see :mod:`fengqiao.store.viewkey`), which still lets a reader
    follow the chain (each keyed ``prev_hash`` equals the keyed ``hash`` before it) but reveals nothing about
    the data; without a key it shows nothing.
    """
    if value is None or not is_masked(view):
        return value
    if key is None:
        return None
    import hashlib  # only where a masked view shows a hash (the audit views), not at every start
    import hmac

    return "k:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def mask_payload(payload: dict[str, Any], view: PhoneView) -> dict[str, Any]:
    """An event payload as ``view`` shows it: the caller's number in ``call.phone`` passed through ``view``."""
    call = payload.get("call")
    if view is _same or not isinstance(call, dict) or not isinstance(call.get("phone"), str):
        return payload
    return {**payload, "call": {**call, "phone": view(call["phone"])}}


@dataclass(frozen=True)
class AccessRecord:
    """One line of the access log: who saw what in full, when, and its place in the desk's access chain."""

    id: str
    desk: str
    desk_seq: int
    actor: str
    role: str
    action: str
    target: str
    detail: str  # JSON text, exactly as stored
    at: str  # record time, stored UTC text
    prev_hash: str
    hash: str


def access_hash(
    *,
    id: str,
    desk: str,
    desk_seq: int,
    actor: str,
    role: str,
    action: str,
    target: str,
    detail: str,
    at: str,
    prev_hash: str,
) -> str:
    """The hash of one access-log line from its stored column values (same scheme as events)."""
    from .events import chain_digest  # the event model: the cockpit's masked numbers do without it

    return chain_digest((id, desk, str(desk_seq), actor, role, action, target, detail, at, prev_hash))
