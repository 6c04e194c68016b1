"""CLI commands for orders: ``dispatch`` (record a call and send its order), ``orders`` (the list), ``order`` (one in full) and ``act`` (an action on one)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fengqiao.console.privacy import AsDept, AsDesk, AsRole, AsTown, Unmasked, phones_for
from fengqiao.console.serialize import order_json
from fengqiao.console.state import order_store, parse_at
from fengqiao.console.textout import dumps, echo, table
from fengqiao.models.clock import fmt_duration, fmt_local
from fengqiao.models.errors import StoreError, ValidationError
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import MULTI_ORDER_ACTIONS, VISIBILITIES, Action, Intent
from fengqiao.models.privacy import phone_view
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.routing import describe_assignee
from fengqiao.models.text import visible


def _tag_text(ref: Reference, code: str, lang: str) -> str:
    """A tag's code and name; a code this reference data does not know (synced from elsewhere) is shown as such."""
    tag = ref.tags.get(code)
    if tag is None:
        return t("cli.unknown_code", code=visible(code, single_line=True))
    return f"{tag.code} {tag.name_zh if lang == 'zh' else tag.name_en}"


def _town_text(ref: Reference, code: str, lang: str) -> str:
    town = ref.towns.get(code)
    if town is None:
        return t("cli.unknown_code", code=visible(code, single_line=True))
    return town.name_zh if lang == "zh" else town.name_en


def dispatch_cmd(
    ctx: typer.Context,
    town: Annotated[str, typer.Option("--town", help="town code (HZ) or name (黄泽镇)")],
    tag: Annotated[str, typer.Option("--tag", help="tag code, e.g. B01")],
    text: Annotated[str, typer.Option("--text", help="what the caller said")],
    phone: Annotated[str, typer.Option("--phone", help="caller's phone (full-width digits are fine)")] = "",
    address: Annotated[str, typer.Option("--address")] = "",
    name: Annotated[str, typer.Option("--name")] = "",
    single: Annotated[bool, typer.Option("--single", help="send to the department alone")] = False,
    dual: Annotated[bool, typer.Option("--dual", help="send to the police station as well (一警双派)")] = False,
    dept: Annotated[str | None, typer.Option("--dept", help="override the routed department")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="why the department was overridden")] = None,
    at: Annotated[str | None, typer.Option("--at", help="when the call came in (ISO; local time if no offset)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    desk: Annotated[str | None, typer.Option("--desk")] = None,
    role: Annotated[str | None, typer.Option("--role")] = None,
    desk_town: Annotated[str | None, typer.Option("--desk-town", help="town of a township desk")] = None,
    no_number: Annotated[
        bool, typer.Option("--no-number", help="the call has no number (withheld, or taken on paper)")
    ] = False,
    village: Annotated[
        str | None,
        typer.Option("--village", help="village or community code (HZ-QY) or name; default: the one the address names"),
    ] = None,
    grid: Annotated[str | None, typer.Option("--grid", help="grid code (HZ-QY-1); default: by the address")] = None,
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="a co-handling unit (协办): department code, or ZZ for the township centre; repeatable, at most 3 "
            "with the police station of a dual dispatch",
        ),
    ] = None,
) -> None:
    """Record a call and send its order; prints the order number."""
    if single and dual:
        raise ValidationError(t("error.bad_mode", mode="--single --dual"), field="mode")
    mode = "single" if single else "dual" if dual else None
    when = parse_at(at)
    store = order_store(ctx, desk=desk, role=role, town=desk_town)
    try:
        state = store.dispatch(
            IntakeForm(
                phone=phone,
                town=town,
                description=text,
                name=name,
                address=address,
                no_number=no_number,
                village=village or "",
                grid=grid or "",
            ),
            tag,
            mode=mode,
            override_dept=dept,
            override_reason=reason,
            at=when,
            received_at=when,
            co=tuple(with_ or ()),
        )
    finally:
        store.db.close()
    if as_json:
        echo(
            dumps(
                {
                    "order_no": state.order_no,
                    "id": state.id,
                    "status": str(state.status),
                    "mode": state.mode,
                    "assignees": [a.assignee for a in state.assignments],
                    "co": [a.assignee for a in state.co_units],
                    "repeat_of": state.repeat_of,
                    "village": state.village,
                    "grid": state.grid,
                    "rule": state.rule,
                    "informed": list(state.informed),
                }
            )
        )
    else:
        echo(state.order_no)


def orders_cmd(
    ctx: typer.Context,
    status: Annotated[list[str] | None, typer.Option("--status", help="dispatched, signed, ... (repeatable)")] = None,
    dept: Annotated[str | None, typer.Option("--dept", help="department or assignee code")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="only orders past a deadline")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    desk: Annotated[str | None, typer.Option("--desk")] = None,
    role: Annotated[str | None, typer.Option("--role")] = None,
    desk_dept: Annotated[str | None, typer.Option("--desk-dept", help="department of a department desk")] = None,
    desk_town: Annotated[str | None, typer.Option("--desk-town", help="town of a township desk")] = None,
    unmasked: Unmasked = False,
) -> None:
    """List orders, newest call first (callers' numbers masked for roles that do not call back)."""
    from fengqiao.models.machine import Status

    for s in status or []:
        if s not in {x.value for x in Status}:
            raise ValidationError(
                t("error.bad_choice", value=s, field=t("cli.status"), choices=", ".join(x.value for x in Status)),
                field="status",
            )
    from fengqiao.store.board import mark_overdue

    store = order_store(ctx, desk=desk, role=role, dept=desk_dept, town=desk_town, viewing=True)
    try:
        phone_view(store.desk, unmasked=unmasked)  # refused before anything is read
        try:
            mark_overdue(store.db, store.clock())  # record first overdue moments (KPIs) before listing
        except StoreError:
            pass  # a read-only or busy file: still list the orders
        rows = store.list_orders(status=status, dept=dept, overdue=overdue, limit=limit)
        now = store.clock()
        see = phones_for(store.db, store.desk, unmasked=unmasked, target="orders", orders=[r.order_no for r in rows])
    finally:
        store.db.close()
    lang = get_lang()
    if as_json:
        echo(
            dumps(
                {
                    "orders": [
                        {
                            "order_no": r.order_no,
                            "status": r.status,
                            "tag": r.tag,
                            "town": r.town,
                            "mode": r.mode,
                            "assignee": r.primary_assignee,
                            "police": r.police_assignee,
                            "phone": see(r.phone),
                            "call_at": r.call_at.isoformat(),
                            "next_due": r.next_due.isoformat() if r.next_due else None,
                            "next_due_kind": r.next_due_kind,
                            "overdue": bool(r.next_due and r.next_due < now),
                        }
                        for r in rows
                    ]
                }
            )
        )
        return
    if not rows:
        echo(t("cli.no_orders"))
        return
    ref = default_reference()
    out = []
    for r in rows:
        due = ""
        if r.next_due:
            due = f"{t(f'deadline.{r.next_due_kind}')} {fmt_duration(r.next_due - now)}"
        out.append(
            [
                r.order_no,
                t(f"status.{r.status}"),
                _tag_text(ref, r.tag, lang),
                describe_assignee(ref, r.primary_assignee, lang),
                _town_text(ref, r.town, lang),
                see(r.phone),
                fmt_local(r.call_at),
                due,
            ]
        )
    echo(
        table(
            [
                t("cli.order_no"),
                t("cli.status"),
                t("cli.tag"),
                t("cli.assignee"),
                t("cli.town"),
                t("field.phone"),
                t("cli.call_at"),
                t("cli.next_due"),
            ],
            out,
            max_width=24,
        )
    )


def order_cmd(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="order number, e.g. SZ-20261128-0042")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    unmasked: Unmasked = False,
    desk: AsDesk = None,
    role: AsRole = None,
    dept: AsDept = None,
    town: AsTown = None,
) -> None:
    """One order in full: the call, the routing, each assignment and every event."""
    store = order_store(ctx, desk=desk, role=role, dept=dept, town=town, viewing=True)
    try:
        phone_view(store.desk, unmasked=unmasked)  # refused before anything is read
        state, entries = store.timeline(number)
        see = phones_for(store.db, store.desk, unmasked=unmasked, target="order", orders=[state.order_no])
        merged, children = store.merged_calls(state), store.children(state)  # merge and split (store/merging.py)
    finally:
        store.db.close()
    lang = get_lang()
    ref = store.ref
    if as_json:
        echo(dumps(order_json(ref, state, lang=lang, view=see, timeline=entries)))
        return
    echo(
        f"{state.order_no}  {t(f'status.{state.status}')}  {_tag_text(ref, state.tag, lang)}  {t(f'mode.{state.mode}')}"
    )

    echo(
        f"{t('cli.caller')}: {see(state.call.phone)} {visible(state.call.name, single_line=True)}  "
        f"{_town_text(ref, state.town, lang)} {visible(state.call.address, single_line=True)}"
    )
    if state.village and state.village in ref.villages:  # grassroots: the village, its grid, the rule, who is told
        echo(t("grassroots.cli_village", **village_lines(ref, state, lang)))
    echo(f"{t('field.description')}: {visible(state.call.description)}")
    _merge_lines(state, merged, children, see)
    echo("")
    rows = []
    for a in state.assignments:
        rows.append(
            [
                describe_assignee(ref, a.assignee, lang) + (t("detail.co_role") if a.role == "co" else ""),
                t(f"asg_status.{a.status}"),
                fmt_local(a.sign_due),
                fmt_local(a.arrive_due),
                fmt_local(a.feedback_due),
                fmt_local(a.signed_at),
                fmt_local(a.arrived_at),
                fmt_local(a.fed_back_at),
            ]
        )
    echo(
        table(
            [
                t("cli.assignee"),
                t("cli.status"),
                f"{t('deadline.sign')}≤",
                f"{t('deadline.arrive')}≤",
                f"{t('deadline.feedback')}≤",
                t("deadline.sign"),
                t("deadline.arrive"),
                t("deadline.feedback"),
            ],
            rows,
        )
    )
    _field_lines(ref, state, lang)
    echo("")
    ev_rows = []
    for entry in entries:
        ev = entry.event
        detail = ", ".join(f"{k}={v}" for k, v in ev.payload.items() if k not in ("call", "assignments", "assignment"))
        call = ev.payload.get("call")
        if ev.kind == "link" and isinstance(call, dict):  # a repeat call: who called again and what they said
            detail = f"{see(str(call.get('phone', '')))} {visible(str(call.get('description', '')), single_line=True)}"
        kind = t(f"action.{ev.kind}")
        if entry.status != "applied":  # conflicts, repeats and refusals stay on the timeline, marked
            kind += f" ({t(f'sync.status_{entry.status}')})"
            if entry.reason and entry.status in ("conflict", "refused"):
                detail = f"{detail}; {entry.reason}" if detail else entry.reason
        ev_rows.append(
            [
                fmt_local(ev.event_at, seconds=True),
                fmt_local(ev.recorded_at, seconds=True),
                kind,
                ev.actor,
                ev.desk,
                detail,
            ]
        )
    echo(
        table(
            [t("cli.event_at"), t("cli.recorded_at"), t("cli.kind"), t("cli.actor"), t("cli.desk"), t("cli.detail")],
            ev_rows,
            max_width=48,
        )
    )


def _merge_lines(state: Any, merged: list[Any], children: list[tuple[str, str, str]], see: Any) -> None:
    """Where a merged order went, the orders merged into this one (their calls), a split's parent or children."""
    if state.merge is not None:
        link = state.merge
        echo(
            t(
                "cli.merged_into",
                order_no=link.into_no,
                at=fmt_local(link.at),
                reason=visible(link.reason, single_line=True) or "-",
            )
        )
    if merged:
        listed = "; ".join(
            f"{x.order_no} {see(x.call.phone)} {visible(x.call.description, single_line=True)}" for x in merged
        )
        echo(t("cli.merged_from", orders=listed))
    if state.parent is not None:
        echo(t("cli.split_from", order_no=state.parent[1]))
    if children:
        echo(
            t(
                "cli.split_children",
                children=", ".join(
                    f"{no}→{unit} {t(f'status.{st}') if st != '-' else '-'}" for no, unit, st in children
                ),
            )
        )


def village_lines(ref: Any, state: Any, lang: str) -> dict[str, str]:
    """The parts of ``grassroots.cli_village``: the village, its grid (and worker), the rule, who is informed."""
    from fengqiao.models.i18n import name

    v = ref.villages[state.village]
    g = ref.grids.get(state.grid or "")
    return {
        "village": f"{name(v, lang)}（{v.code}）" if lang == "zh" else f"{name(v, lang)} ({v.code})",
        "grid": f"{name(g, lang)} {g.worker} {g.phone}" if g else "-",
        "rule": state.rule or "-",
        "informed": "、".join(describe_assignee(ref, c, lang) for c in state.informed) or "-",
    }


def _field_lines(ref: Any, state: Any, lang: str) -> None:
    """What the phone page added: who holds each assignment, where the arrival was, the feedback's photos."""
    from fengqiao.models import geo

    place = geo.find_place(ref.directory, state.town, state.call.address)
    for a in state.assignments:
        who = describe_assignee(ref, a.assignee, lang)
        if a.holder_name:
            echo(t("mobile.cli_holder", assignee=who, name=visible(a.holder_name, single_line=True)))
        if a.location:
            where = f"{a.location['lat']:.5f}, {a.location['lon']:.5f}"
            if place is not None:
                metres = round(geo.distance_m(place.lat, place.lon, a.location["lat"], a.location["lon"]))
                where += " " + t("mobile.cli_distance", metres=metres, place=place.name)
            echo(t("mobile.cli_location", assignee=who, where=where))
        for n, photo in enumerate(a.photos, start=1):
            echo(
                t(
                    "mobile.cli_photo",
                    n=n,
                    assignee=who,
                    kb=max(1, round(photo["size"] / 1024)),
                    at=fmt_local(a.fed_back_at),
                    sha=photo["sha256"],
                )
            )
    if any(a.photos for a in state.assignments):
        echo(t("mobile.cli_photo_hint", order_no=state.order_no))


def act_cmd(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="order number")],
    action: Annotated[
        str,
        typer.Argument(
            help="sign, arrive, feedback, return, reassign, extend, approve-extension, "
            "refuse-extension, escalate, visit, reopen, close, cancel, judge-return, note, urge"
        ),
    ],
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="which assignment on a dual order (GA, ZZ, SCJG…)")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="feedback text, reason or note")] = "",
    result: Annotated[str | None, typer.Option("--result", help="resolved | unresolved")] = None,
    satisfaction: Annotated[str | None, typer.Option("--satisfaction", help="satisfied | basic | unsatisfied")] = None,
    to: Annotated[str | None, typer.Option("--to", help="reassign: the new department")] = None,
    hours: Annotated[int | None, typer.Option("--hours", help="extend: hours asked for")] = None,
    justified: Annotated[bool | None, typer.Option("--justified/--unjustified", help="judge-return")] = None,
    visibility: Annotated[
        str | None, typer.Option("--visibility", help="note: internal (default) | caller (to tell the caller)")
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="when it really happened (late entry)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    desk: Annotated[str | None, typer.Option("--desk", help="act as this desk")] = None,
    role: Annotated[str | None, typer.Option("--role", help="apply this role's rules")] = None,
    dept: Annotated[str | None, typer.Option("--dept", help="department of a department desk")] = None,
    town: Annotated[str | None, typer.Option("--town", help="town of a township desk")] = None,
) -> None:
    """Take an action on an order (sign, arrive, feedback, …) — one transaction."""
    valid = [a.value for a in Action if a not in (Action.DISPATCH, Action.LINK) and a not in MULTI_ORDER_ACTIONS]
    if action not in valid:
        raise ValidationError(
            t("error.bad_choice", value=action, field=t("field.action"), choices=", ".join(valid)), field="action"
        )
    if result is not None and result not in ("resolved", "unresolved"):
        raise ValidationError(t("error.need_result"), field="result")
    if satisfaction is not None and satisfaction not in ("satisfied", "basic", "unsatisfied"):
        raise ValidationError(t("error.need_satisfaction"), field="satisfaction")
    if visibility is not None and visibility not in VISIBILITIES:
        raise ValidationError(t("error.bad_visibility", value=visibility), field="visibility")
    from fengqiao.models.text import check_text

    note = check_text("note", note)
    when = parse_at(at)
    store = order_store(ctx, desk=desk, role=role, dept=dept, town=town)
    try:
        state = store.act(
            number,
            Intent(
                Action(action),
                assignee=assignee,
                note=note,
                result=result,
                satisfaction=satisfaction,
                to=to,
                hours=hours,
                justified=justified,
                visibility=visibility,
            ),
            at=when,
        )
    finally:
        store.db.close()
    if as_json:
        echo(dumps(order_json(store.ref, state, lang=get_lang())))
    else:
        echo(t("cli.acted", order_no=state.order_no, action=t(f"action.{action}"), status=t(f"status.{state.status}")))


def note_cmd(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="order number")],
    text: Annotated[str, typer.Argument(help="the note (progress, what was agreed, what to tell the caller)")],
    caller: Annotated[bool, typer.Option("--caller", help="a note for the caller (else internal)")] = False,
    at: Annotated[str | None, typer.Option("--at", help="when it really happened (late entry)")] = None,
    desk: Annotated[str | None, typer.Option("--desk", help="act as this desk")] = None,
    role: Annotated[str | None, typer.Option("--role", help="apply this role's rules")] = None,
    dept: Annotated[str | None, typer.Option("--dept", help="department of a department desk")] = None,
    town: Annotated[str | None, typer.Option("--town", help="town of a township desk")] = None,
) -> None:
    """Add a progress note to an order (on its timeline, synced; changes no state). Same as ``act NO note``."""
    from fengqiao.models.text import check_text

    note = check_text("note", text)
    when = parse_at(at)
    store = order_store(ctx, desk=desk, role=role, dept=dept, town=town)
    try:
        intent = Intent(Action.NOTE, note=note, visibility="caller" if caller else "internal")
        state = store.act(number, intent, at=when)
    finally:
        store.db.close()
    echo(t("cli.acted", order_no=state.order_no, action=t("action.note"), status=t(f"status.{state.status}")))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("dispatch")(dispatch_cmd)
    app.command("orders")(orders_cmd)
    app.command("order")(order_cmd)
    app.command("act")(act_cmd)
    app.command("note")(note_cmd)
