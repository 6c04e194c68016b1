"""How the CLI (and reports and exports) show callers' phone numbers, and the record of every full view."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.globals import get_current_context

from fengqiao.models.clock import Clock, system_clock
from fengqiao.models.privacy import PhoneView, phone_view

if TYPE_CHECKING:
    from fengqiao.models.roles import Desk
    from fengqiao.store.db import Database

UNMASKED_HELP = "show full phone numbers (supervisor role only; recorded in the access log)"

# Options shared by the commands that show orders as a given desk would see them.
Unmasked = Annotated[bool, typer.Option("--unmasked", help=UNMASKED_HELP)]
AsDesk = Annotated[str | None, typer.Option("--desk", help="as this desk")]
AsRole = Annotated[str | None, typer.Option("--role", help="apply this role's rules (visibility, masking)")]
AsDept = Annotated[str | None, typer.Option("--dept", help="department of a department desk")]
AsTown = Annotated[str | None, typer.Option("--town", help="town of a township desk")]


def phones_for(
    db: Database,
    desk: Desk,
    *,
    unmasked: bool,
    target: str,
    orders: list[str],
    detail: dict[str, Any] | None = None,
    masked_by_default: bool = False,
    clock: Clock = system_clock,
) -> PhoneView:
    """How ``desk`` may see callers' numbers; an ``unmasked`` view is written to the access log first.

    Reports and exports call this too (``masked_by_default=True``, ``target="export"``, the file in
    ``detail``): refused unless the desk is a supervisor, and never shown without its log line.
    """
    view = phone_view(desk, unmasked=unmasked, masked_by_default=masked_by_default)
    if unmasked:
        from fengqiao.store.audit import record_access

        record_access(db, desk, target=target, detail={**_command(), "orders": orders, **(detail or {})}, clock=clock)
    return view


def _command() -> dict[str, Any]:
    """The command being run and its arguments (from click's context; also right under a test runner)."""
    ctx = get_current_context(silent=True)
    if ctx is None:
        return {"command": " ".join(["fengqiao", *sys.argv[1:]])}
    params = {
        k: v if isinstance(v, (str, int, float, bool)) else str(v)
        for k, v in ctx.params.items()
        if v not in (None, False, [], ())
    }
    return {"command": ctx.command_path, "params": params}
