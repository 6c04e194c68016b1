"""CLI commands for merging and splitting orders: ``merge KEEP OTHER…``, ``unmerge ORDER``, ``split ORDER --to DEPT…``
(store/merging.py; the events and their replay rules: models/merging.py, models/machine.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from fengqiao.console.serialize import order_json
from fengqiao.console.state import order_store, parse_at
from fengqiao.console.textout import dumps, echo
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.routing import describe_assignee
from fengqiao.models.text import check_text

Reason = Annotated[str, typer.Option("--reason", help="why (kept on every order's timeline)")]
At = Annotated[str | None, typer.Option("--at", help="when it really happened (late entry)")]
Json = Annotated[bool, typer.Option("--json")]
AsDesk = Annotated[str | None, typer.Option("--desk", help="act as this desk")]
AsRole = Annotated[str | None, typer.Option("--role", help="apply this role's rules")]
AsDept = Annotated[str | None, typer.Option("--dept", help="department of a department desk")]
AsTown = Annotated[str | None, typer.Option("--town", help="town of a township desk")]


def merge_cmd(
    ctx: typer.Context,
    keep: Annotated[str, typer.Argument(help="the order kept, e.g. SZ-20261128-0042")],
    others: Annotated[list[str] | None, typer.Argument(help="the orders merged into it (one or more)")] = None,
    reason: Reason = "",
    at: At = None,
    as_json: Json = False,
    desk: AsDesk = None,
    role: AsRole = None,
    dept: AsDept = None,
    town: AsTown = None,
) -> None:
    """Merge orders about one event into one: the others' assignments are withdrawn, their calls become linked
    calls of the order kept — one transaction."""
    reason = check_text("reason", reason)
    when = parse_at(at)
    store = order_store(ctx, desk=desk, role=role, dept=dept, town=town)
    try:
        result = store.merge(keep, others or [], reason=reason, at=when)
    finally:
        store.db.close()
    nos = [o.order_no for o in result.absorbed]
    if as_json:
        lang = get_lang()
        echo(
            dumps(
                {
                    "kept": order_json(store.ref, result.keep, lang=lang),
                    "merged": [order_json(store.ref, o, lang=lang) for o in result.absorbed],
                    "withdrawn": [{"order_no": no, "assignee": a.assignee} for no, a in result.withdrawn],
                }
            )
        )
        return
    echo(t("board.merged_done", others=" ".join(nos), order_no=result.keep.order_no))
    for no, a in result.withdrawn:
        who = describe_assignee(store.ref, a.assignee, get_lang())
        echo(t("cli.withdrawn", assignee=who, order_no=no, into=result.keep.order_no))


def unmerge_cmd(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="an order merged into another, or the order others are merged into")],
    reason: Reason = "",
    at: At = None,
    as_json: Json = False,
    desk: AsDesk = None,
    role: AsRole = None,
    dept: AsDept = None,
    town: AsTown = None,
) -> None:
    """Undo a merge: the order (or every order merged into it) is back at work, with fresh deadlines."""
    reason = check_text("reason", reason)
    when = parse_at(at)
    store = order_store(ctx, desk=desk, role=role, dept=dept, town=town)
    try:
        back = store.unmerge(number, reason=reason, at=when)
    finally:
        store.db.close()
    if as_json:
        echo(dumps({"unmerged": [order_json(store.ref, o, lang=get_lang()) for o in back]}))
        return
    echo(t("board.unmerged_done", orders=" ".join(o.order_no for o in back) or "-"))


def split_cmd(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="the order to split")],
    to: Annotated[
        list[str] | None, typer.Option("--to", help="a unit for one child order (repeat: --to SCJG --to ZJJ)")
    ] = None,
    reason: Reason = "",
    at: At = None,
    as_json: Json = False,
    desk: AsDesk = None,
    role: AsRole = None,
    dept: AsDept = None,
    town: AsTown = None,
) -> None:
    """Split an order into child orders, one per unit; the order cannot close while a child is open."""
    reason = check_text("reason", reason)
    when = parse_at(at)
    store = order_store(ctx, desk=desk, role=role, dept=dept, town=town)
    try:
        result = store.split(number, to or [], reason=reason, at=when)
    finally:
        store.db.close()
    if as_json:
        lang = get_lang()
        echo(
            dumps(
                {
                    "parent": order_json(store.ref, result.parent, lang=lang),
                    "children": [order_json(store.ref, c, lang=lang) for c in result.children],
                }
            )
        )
        return
    children = " ".join(f"{c.order_no}→{c.primary.assignee}" for c in result.children)
    echo(t("board.split_done", order_no=result.parent.order_no, children=children))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("merge")(merge_cmd)
    app.command("unmerge")(unmerge_cmd)
    app.command("split")(split_cmd)
