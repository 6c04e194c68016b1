"""CLI commands for risk warnings and task-force cases (专班)::

    fengqiao warnings [--closed | --all] [--json]            # open warnings, most urgent first
    fengqiao warning show|sign|measure|close NO [--note TEXT]
    fengqiao warning escalate NO --title TEXT [--owner UNIT] [--member UNIT]… [--follow-up DATE]
    fengqiao case list [--closed | --all] [--json]
    fengqiao case show NO [--json]
    fengqiao case open --title TEXT --town HZ [--owner UNIT] [--member UNIT]… [--order NO]… [--address TEXT]
    fengqiao case add NO --order ORDER_NO
    fengqiao case note NO --text TEXT
    fengqiao case close NO --resolution TEXT [--follow-up DATE]

Every command takes ``--desk``/``--role``/``--desk-dept``/``--desk-town`` like ``act``. Numbers are the
warning's ``YJ-…`` or the case's ``ZB-…`` (or their ids).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from fengqiao.console.state import state_of
from fengqiao.console.textout import dumps, echo, table
from fengqiao.models.clock import fmt_local, system_clock
from fengqiao.models.governance import CaseState, WarningState
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.privacy import phone_view
from fengqiao.models.routing import describe_assignee
from fengqiao.models.text import visible

Desk_ = Annotated[str | None, typer.Option("--desk")]
Role_ = Annotated[str | None, typer.Option("--role")]
DeskDept = Annotated[str | None, typer.Option("--desk-dept", help="department of a department desk")]
DeskTown = Annotated[str | None, typer.Option("--desk-town", help="town of a township desk")]
Json = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@contextmanager
def _opened(
    ctx: typer.Context, desk: str | None, role: str | None, dept: str | None, town: str | None
) -> Iterator[Any]:
    """The desk's GovernanceStore for one command; its database is closed afterwards, also after an error."""
    store = _store(ctx, desk, role, dept, town)
    try:
        yield store
    finally:
        store.db.close()


def _store(ctx: typer.Context, desk: str | None, role: str | None, dept: str | None, town: str | None):  # noqa: ANN202
    from dataclasses import replace

    from fengqiao.store.governance import GovernanceStore
    from fengqiao.store.shifts import on_shift

    state = state_of(ctx)
    chosen = state.desk(name=desk, role=role, dept=dept, town=town, use_config_role=role is None)
    db = state.open_db()
    operator = on_shift(db, chosen)
    if operator:
        chosen = replace(chosen, operator=operator)
    return GovernanceStore(db, desk=chosen, clock=system_clock, rules=state.rules())


def _which(closed: bool, every: bool) -> str:
    return "all" if every else "closed" if closed else "open"


def _town(store: Any, code: str) -> str:
    town = store.ref.towns.get(code)
    if town is None:
        return code
    return town.name_zh if get_lang() == "zh" else town.name_en


def warning_json(store: Any, w: WarningState, show: Any) -> dict[str, Any]:
    return {
        "no": w.no,
        "id": w.id,
        "rule": w.rule,
        "level": w.level,
        "town": w.town,
        "address": w.address,
        "phone": show(w.phone) if w.phone else "",
        "summary": w.summary,
        "status": w.status,
        "raised_at": w.raised_at.isoformat(),
        "signed_by": w.signed_by,
        "calls": len(w.calls),
        "orders": w.orders,
        "case_id": w.case_id,
        "timeline": [
            {"kind": e.kind, "at": e.at.isoformat(), "actor": e.actor, "desk": e.desk, "text": e.text}
            for e in w.timeline
        ],
    }


def case_json(store: Any, c: CaseState, orders: list[Any], show: Any) -> dict[str, Any]:
    return {
        "no": c.no,
        "id": c.id,
        "title": c.title,
        "town": c.town,
        "address": c.address,
        "owner": c.owner,
        "members": c.members,
        "status": c.status,
        "opened_at": c.opened_at.isoformat(),
        "follow_up": c.follow_up,
        "warning_id": c.warning_id,
        "resolution": c.resolution,
        "orders": [
            {
                "order_no": o.order_no,
                "status": o.status,
                "tag": o.tag,
                "assignee": o.primary_assignee,
                "phone": show(o.phone),
            }
            for o in orders
        ],
        "timeline": [
            {"kind": e.kind, "at": e.at.isoformat(), "actor": e.actor, "desk": e.desk, "text": e.text}
            for e in c.timeline
        ],
    }


def _print_warning(store: Any, w: WarningState, show: Any) -> None:
    echo(f"{w.no}  {t(f'gov.level_{w.level}_long')}  {t(f'gov.status_{w.status}')}")
    echo(f"  {t(f'gov.rule_{w.rule}')}: {visible(w.summary, single_line=True)}")
    echo(f"  {_town(store, w.town)}  {visible(w.address, single_line=True)}  {show(w.phone) if w.phone else ''}")
    for e in w.timeline:
        echo(
            f"  {fmt_local(e.at)}  {t(f'gov.kind_{e.kind}')}  {visible(e.actor, single_line=True)}  {visible(e.text, single_line=True)}"
        )
    if w.case_id:
        echo(f"  → {w.case_id}")


def _print_case(store: Any, c: CaseState, orders: list[Any], show: Any) -> None:
    lang = get_lang()
    echo(f"{c.no}  {visible(c.title, single_line=True)}  {t(f'gov.case_status_{c.status}')}")
    owner = describe_assignee(store.ref, c.owner, lang)
    members = "、".join(describe_assignee(store.ref, m, lang) for m in c.members) or "-"
    echo(f"  {t('govcli.owner')}: {owner}  {t('govcli.members')}: {members}")
    echo(
        f"  {_town(store, c.town)}  {visible(c.address, single_line=True)}  {t('govcli.follow_up')}: {c.follow_up or '-'}"
    )
    if orders:
        echo(
            table(
                [
                    t("govcli.col_order"),
                    t("govcli.col_status"),
                    t("govcli.col_tag"),
                    t("govcli.col_unit"),
                    t("govcli.col_phone"),
                ],
                [[o.order_no, t(f"status.{o.status}"), o.tag, o.primary_assignee, show(o.phone)] for o in orders],
            )
        )
    for e in c.timeline:
        echo(
            f"  {fmt_local(e.at)}  {t(f'gov.kind_{e.kind}')}  {visible(e.actor, single_line=True)}  {visible(e.text, single_line=True)}"
        )
    if c.resolution:
        echo(f"  {t('govcli.resolution')}: {visible(c.resolution, single_line=True)}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""

    @app.command("warnings")
    def warnings_cmd(
        ctx: typer.Context,
        closed: Annotated[bool, typer.Option("--closed", help="closed and escalated warnings")] = False,
        every: Annotated[bool, typer.Option("--all", help="every warning")] = False,
        as_json: Json = False,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Risk warnings (预警), most urgent first: open ones unless --closed or --all."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            rows = store.warnings(status=_which(closed, every))
        show = phone_view(store.desk)
        if as_json:
            echo(
                dumps(
                    {
                        "warnings": [
                            {
                                "no": r.no,
                                "id": r.id,
                                "rule": r.rule,
                                "level": r.level,
                                "town": r.town,
                                "address": r.address,
                                "phone": show(r.phone) if r.phone else "",
                                "summary": r.summary,
                                "calls": r.calls,
                                "status": r.status,
                                "raised_at": r.raised_at.isoformat(),
                                "measures": r.measures,
                                "case_id": r.case_id,
                                "twin_of": r.twin_of,
                            }
                            for r in rows
                        ]
                    }
                )
            )
            return
        if not rows:
            echo(t("govcli.no_warnings"))
            return
        echo(
            table(
                [
                    t("govcli.col_no"),
                    t("govcli.col_level"),
                    t("govcli.col_status"),
                    t("govcli.col_town"),
                    t("govcli.col_what"),
                ],
                [
                    [
                        r.no,
                        t(f"gov.level_{r.level}"),
                        t(f"gov.status_{r.status}"),
                        _town(store, r.town),
                        (t("gov.twin_of", no=r.twin_of) + " " if r.twin_of else "")
                        + visible(f"{r.summary} · {r.address}" if r.address else r.summary, single_line=True),
                    ]
                    for r in rows
                ],
                max_width=60,
            )
        )

    warning = typer.Typer(
        help="One risk warning: show, sign, measure, close, escalate to a case.", no_args_is_help=True
    )
    app.add_typer(warning, name="warning")

    @warning.command("show")
    def warning_show(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument(help="YJ-… number or id")],
        as_json: Json = False,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """A warning with its timeline."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            w = store.warning(no)
        show = phone_view(store.desk)
        if as_json:
            echo(dumps(warning_json(store, w, show)))
        else:
            _print_warning(store, w, show)

    def _step(ctx: typer.Context, fn: str, no: str, note: str, desk: Any, role: Any, dd: Any, dt: Any) -> None:
        with _opened(ctx, desk, role, dd, dt) as store:
            w = getattr(store, fn)(no, note)
        echo(f"{w.no}  {t(f'gov.status_{w.status}')}")

    @warning.command("sign")
    def warning_sign(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument()],
        note: Annotated[str, typer.Option("--note")] = "",
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Sign for a warning (its town's centre or police station)."""
        _step(ctx, "sign", no, note, desk, role, desk_dept, desk_town)

    @warning.command("measure")
    def warning_measure(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument()],
        note: Annotated[str, typer.Option("--note", help="what was done")] = "",
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Record a measure taken on a signed warning."""
        _step(ctx, "measure", no, note, desk, role, desk_dept, desk_town)

    @warning.command("close")
    def warning_close(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument()],
        note: Annotated[str, typer.Option("--note", help="why it is closed")] = "",
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Close a signed warning with what settled it."""
        _step(ctx, "close", no, note, desk, role, desk_dept, desk_town)

    @warning.command("escalate")
    def warning_escalate(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument()],
        title: Annotated[str, typer.Option("--title", help="the case's title")],
        owner: Annotated[str | None, typer.Option("--owner", help="owner unit (default: the town's centre)")] = None,
        member: Annotated[list[str] | None, typer.Option("--member", help="member unit (repeatable)")] = None,
        follow_up: Annotated[str | None, typer.Option("--follow-up", help="follow-up date, 2026-12-31")] = None,
        note: Annotated[str, typer.Option("--note")] = "",
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Open a task-force case (专班) from a warning; its orders join the case."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            w, c = store.escalate(no, title=title, owner=owner, members=member or [], follow_up=follow_up, note=note)
        echo(f"{w.no}  {t(f'gov.status_{w.status}')}  → {c.no}")

    register_notices(app)
    register_answers(app)

    case = typer.Typer(help="Task-force cases (专班): list, show, open, add, note, close.", no_args_is_help=True)
    app.add_typer(case, name="case")

    @case.command("list")
    def case_list(
        ctx: typer.Context,
        closed: Annotated[bool, typer.Option("--closed")] = False,
        every: Annotated[bool, typer.Option("--all")] = False,
        as_json: Json = False,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Cases, newest first: open ones unless --closed or --all."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            rows = store.cases(status=_which(closed, every))
        if as_json:
            echo(
                dumps(
                    {
                        "cases": [
                            {
                                "no": r.no,
                                "id": r.id,
                                "title": r.title,
                                "town": r.town,
                                "owner": r.owner,
                                "members": list(r.members),
                                "status": r.status,
                                "opened_at": r.opened_at.isoformat(),
                                "follow_up": r.follow_up,
                                "orders": r.orders,
                                "open_orders": r.open_orders,
                            }
                            for r in rows
                        ]
                    }
                )
            )
            return
        if not rows:
            echo(t("govcli.no_cases"))
            return
        lang = get_lang()
        echo(
            table(
                [
                    t("govcli.col_no"),
                    t("govcli.col_title"),
                    t("govcli.col_unit"),
                    t("govcli.col_status"),
                    t("govcli.col_orders"),
                ],
                [
                    [
                        r.no,
                        visible(r.title, single_line=True),
                        describe_assignee(store.ref, r.owner, lang),
                        t(f"gov.case_status_{r.status}"),
                        f"{r.open_orders}/{r.orders}",
                    ]
                    for r in rows
                ],
                max_width=40,
            )
        )

    @case.command("show")
    def case_show(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument(help="ZB-… number or id")],
        as_json: Json = False,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """A case: its units, orders and timeline."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            c = store.case(no)
            orders = store.case_orders(c)
        show = phone_view(store.desk)
        if as_json:
            echo(dumps(case_json(store, c, orders, show)))
        else:
            _print_case(store, c, orders, show)

    @case.command("open")
    def case_open(
        ctx: typer.Context,
        title: Annotated[str, typer.Option("--title")],
        town: Annotated[str, typer.Option("--town", help="town code (HZ) or name")],
        owner: Annotated[str | None, typer.Option("--owner", help="owner unit (default: the town's centre)")] = None,
        member: Annotated[list[str] | None, typer.Option("--member", help="member unit (repeatable)")] = None,
        order: Annotated[list[str] | None, typer.Option("--order", help="an order of the case (repeatable)")] = None,
        address: Annotated[str, typer.Option("--address")] = "",
        follow_up: Annotated[str | None, typer.Option("--follow-up", help="2026-12-31")] = None,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Open a case for one underlying problem; prints its number."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            c = store.open_case(
                title=title,
                town=town,
                owner=owner,
                members=member or [],
                order_nos=order or [],
                address=address,
                follow_up=follow_up,
            )
        echo(c.no)

    @case.command("add")
    def case_add(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument()],
        order: Annotated[str, typer.Option("--order", help="the order to add")],
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Add an order to a case."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            c = store.add_to_case(no, order)
        echo(f"{c.no}  {len(c.orders)}")

    @case.command("note")
    def case_note(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument()],
        text: Annotated[str, typer.Option("--text")],
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Add a note to a case's timeline."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            c = store.note_case(no, text)
        echo(c.no)

    @case.command("close")
    def case_close(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument()],
        resolution: Annotated[str, typer.Option("--resolution", help="how the problem was settled")],
        follow_up: Annotated[str | None, typer.Option("--follow-up", help="2026-12-31")] = None,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Close a case; its orders waiting to be closed are closed with it."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            c, closed = store.close_case(no, resolution, follow_up=follow_up)
        echo(f"{c.no}  {t(f'gov.case_status_{c.status}')}" + (f"  ({', '.join(closed)})" if closed else ""))


def notice_json(n: Any) -> dict[str, Any]:
    return {
        "no": n.no,
        "id": n.id,
        "kind": n.kind,
        "title": n.title,
        "script": n.script,
        "towns": n.towns,
        "keywords": n.keywords,
        "owner": n.owner,
        "starts": n.starts.isoformat(),
        "ends": n.ends.isoformat(),
        "every": n.every,
        "calls": len(n.calls),
        "status": n.status,
    }


def register_notices(app: typer.Typer) -> None:
    """``fengqiao notice post|list|show|take|end``: outage and event notices (停水停电通知)."""
    from fengqiao.console.state import parse_at

    notice = typer.Typer(
        help="Outage and event notices: calls about them are answered from the notice, nothing dispatched.",
        no_args_is_help=True,
    )
    app.add_typer(notice, name="notice")

    @notice.command("post")
    def notice_post(
        ctx: typer.Context,
        kind: Annotated[str, typer.Option("--kind", help="water | power | gas | traffic | incident | other")],
        title: Annotated[str, typer.Option("--title")],
        town: Annotated[list[str], typer.Option("--town", help="a town it covers (repeatable)")],
        starts: Annotated[str, typer.Option("--from", help="start (ISO; local time if no offset)")],
        ends: Annotated[str, typer.Option("--to", help="end (ISO; local time if no offset)")],
        script: Annotated[str, typer.Option("--script", help="what to tell the caller")] = "",
        keyword: Annotated[list[str] | None, typer.Option("--keyword", help="a word a matching call holds")] = None,
        owner: Annotated[str | None, typer.Option("--owner", help="the posting unit (default: this desk's)")] = None,
        every: Annotated[int, typer.Option("--every", help="a summary to the owner every this many calls")] = 10,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Post a notice; prints its number."""
        start, end = parse_at(starts), parse_at(ends)
        assert start is not None and end is not None
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            n = store.post_notice(
                kind=kind,
                title=title,
                towns=town,
                starts=start,
                ends=end,
                script=script,
                keywords=keyword or [],
                owner=owner,
                every=every,
            )
        echo(n.no)

    @notice.command("list")
    def notice_list(
        ctx: typer.Context,
        every_one: Annotated[bool, typer.Option("--all", help="ended ones too")] = False,
        as_json: Json = False,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Notices in force (or all), newest first."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            rows = store.notices(status="all" if every_one else "open")
        if as_json:
            echo(dumps({"notices": [notice_json(n) for n in rows]}))
            return
        if not rows:
            echo(t("notice.none"))
            return
        echo(
            table(
                [
                    t("notice.col_no"),
                    t("notice.col_kind"),
                    t("notice.col_title"),
                    t("notice.col_window"),
                    t("notice.col_calls"),
                ],
                [
                    [
                        n.no,
                        t(f"notice.kind_{n.kind}"),
                        visible(n.title, single_line=True),
                        f"{fmt_local(n.starts)}–{fmt_local(n.ends, date=False)}",
                        str(len(n.calls)),
                    ]
                    for n in rows
                ],
                max_width=40,
            )
        )

    @notice.command("show")
    def notice_show(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument(help="TZ-… number or id")],
        as_json: Json = False,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """A notice: towns, window, script, calls."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            n = store.notice(no)
        if as_json:
            echo(dumps(notice_json(n)))
            return
        echo(
            f"{n.no}  {t(f'notice.kind_{n.kind}')}  {visible(n.title, single_line=True)}  {t(f'notice.status_{n.status}')}"
        )
        echo(f"  {fmt_local(n.starts)} – {fmt_local(n.ends)}  {', '.join(n.towns)}  {t('govcli.owner')}: {n.owner}")
        echo(f"  {visible(n.script, single_line=True)}")
        echo(f"  {t('notice.col_calls')}: {len(n.calls)}")

    @notice.command("take")
    def notice_take(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument()],
        town: Annotated[str, typer.Option("--town")],
        text: Annotated[str, typer.Option("--text", help="what the caller said")] = "",
        phone: Annotated[str, typer.Option("--phone")] = "",
        address: Annotated[str, typer.Option("--address")] = "",
        no_number: Annotated[bool, typer.Option("--no-number")] = False,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Record a call as answered from a notice (no order)."""
        from fengqiao.models.intake import IntakeForm

        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            n = store.take_call(
                no, IntakeForm(phone=phone, town=town, description=text, address=address, no_number=no_number)
            )
        echo(t("notice.taken", no=n.no, count=len(n.calls)))

    @notice.command("end")
    def notice_end(
        ctx: typer.Context,
        no: Annotated[str, typer.Argument()],
        note: Annotated[str, typer.Option("--note")] = "",
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """End a notice before its window closes (the water is back)."""
        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            n = store.end_notice(no, note)
        echo(f"{n.no}  {t(f'notice.status_{n.status}')}")


def register_answers(app: typer.Typer) -> None:
    """``fengqiao answers`` (the knowledge base) and ``fengqiao answer`` (a call answered on the spot)."""

    @app.command("answers")
    def answers_cmd(
        ctx: typer.Context,
        expired: Annotated[bool, typer.Option("--expired", help="only the expired ones (for their owners)")] = False,
        owner: Annotated[str | None, typer.Option("--owner", help="one owner unit's answers")] = None,
        as_json: Json = False,
    ) -> None:
        """The knowledge base: answers in force (or expired), by owner; synced from the server when this desk
        syncs, else the reference folder's answers.toml."""
        from fengqiao.models.answers import as_dict
        from fengqiao.models.clock import local
        from fengqiao.models.reference import default_reference
        from fengqiao.store.kb import answers_in_use, synced

        ref = default_reference()
        today = local(system_clock()).date()
        with _opened(ctx, None, None, None, None) as store:
            everything = answers_in_use(store.db, ref)
            copy = synced(store.db)
        rows = [
            a
            for a in everything
            if a.in_force(today) != expired and (owner is None or a.owner == owner.strip().upper())
        ]
        source = (
            {"from": "server", "sha256": copy.sha256, "synced_at": copy.synced_at.isoformat()}
            if copy
            else {"from": "file"}
        )
        if as_json:
            echo(dumps({"answers": [as_dict(a) for a in rows], "source": source}))
            return
        if copy is not None:
            echo(t("kb.from_server", at=fmt_local(copy.synced_at), sha=copy.sha256[:12]))
        if not rows:
            echo(t("kb.none"))
            return
        lang = get_lang()
        echo(
            table(
                ["ID", t("kb.col_title"), t("govcli.col_unit"), t("kb.expires")],
                [[a.id, a.title, describe_assignee(ref, a.owner, lang), a.expires.isoformat()] for a in rows],
                max_width=40,
            )
        )

    @app.command("answer")
    def answer_cmd(
        ctx: typer.Context,
        answer_id: Annotated[str, typer.Argument(help="the answer used, e.g. KB001")],
        town: Annotated[str, typer.Option("--town")],
        text: Annotated[str, typer.Option("--text", help="what the caller asked")] = "",
        phone: Annotated[str, typer.Option("--phone")] = "",
        tag: Annotated[str | None, typer.Option("--tag", help="the call's tag (default: the answer's first)")] = None,
        no_number: Annotated[bool, typer.Option("--no-number")] = False,
        desk: Desk_ = None,
        role: Role_ = None,
        desk_dept: DeskDept = None,
        desk_town: DeskTown = None,
    ) -> None:
        """Record a call answered on the spot from the knowledge base (直接办结): no order is dispatched."""
        from fengqiao.models.intake import IntakeForm

        with _opened(ctx, desk, role, desk_dept, desk_town) as store:
            done = store.answer_call(
                IntakeForm(phone=phone, town=town, description=text, no_number=no_number), answer_id, tag=tag
            )
        echo(t("kb.done", id=done.answer_id, title=done.title))
