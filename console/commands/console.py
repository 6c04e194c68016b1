"""CLI commands for the console itself: ``run`` (and the console that ``fengqiao`` alone opens).

The console is opened by :func:`fengqiao.console.launch.run_console` (also reached without typer, see there).
"""

from __future__ import annotations

from typing import Annotated

import typer

from fengqiao.console.launch import run_console
from fengqiao.console.options import AsLang, apply_lang
from fengqiao.console.state import state_of
from fengqiao.models.errors import ValidationError
from fengqiao.models.i18n import t
from fengqiao.models.phone import fold_width
from fengqiao.models.text import visible


def run_cmd(
    ctx: typer.Context,
    desk: Annotated[str | None, typer.Option("--desk", help="desk name")] = None,
    role: Annotated[str | None, typer.Option("--role", help="call_taker | township | department | supervisor")] = None,
    dept: Annotated[str | None, typer.Option("--dept", help="department code for a department desk")] = None,
    town: Annotated[str | None, typer.Option("--town", help="town code for a township desk")] = None,
    caller: Annotated[str | None, typer.Option("--caller", help="screen-pop: open intake with this phone")] = None,
    lang: AsLang = None,
) -> None:
    """Open the console (optionally as a given desk, or with a caller's number filled in)."""
    apply_lang(lang)
    state = state_of(ctx)
    chosen = state.desk(name=desk, role=role, dept=dept, town=town, use_config_role=role is None)
    run_console(state, desk=chosen, caller=fold_width(caller).strip() if caller else None)


def pop_cmd(
    ctx: typer.Context,
    phone: Annotated[str, typer.Argument(help="the caller's number, as the telephony system gives it")],
    lang: AsLang = None,
) -> None:
    """Screen-pop: hand PHONE to the console running on this store (returns at once), or start one with it.

    A call being taken is never overwritten: the number waits on the form as the next caller (Ctrl+T)."""
    from fengqiao.console.popsock import clean_phone, send_pop, socket_path

    apply_lang(lang)
    number = clean_phone(phone)
    if number is None:
        raise ValidationError(t("intake.pop_not_a_number", phone=visible(phone, single_line=True)), field="phone")
    state = state_of(ctx)
    reply = send_pop(socket_path(state.db_path), number)
    if reply == "OK":
        return
    if reply is not None:
        raise ValidationError(t("intake.pop_refused", reply=visible(reply, single_line=True)), field="phone")
    run_console(state, caller=number)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("run")(run_cmd)
    app.command("pop")(pop_cmd)
