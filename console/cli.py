"""The ``fengqiao`` command line (typer).

``fengqiao`` alone opens the console. Every command takes the global ``--db PATH``, ``--lang zh|en`` and
``--reference DIR`` (the reference-data folder, see docs/reference-data.md).
Bad input exits non-zero with one clear line on stderr and nothing written; never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import platformdirs
import typer
from typer.core import TyperGroup

from fengqiao.models.clock import fmt_duration, fmt_local, parse_user_time, system_clock
from fengqiao.models.errors import FengqiaoError, StoreError, ValidationError
from fengqiao.models.i18n import LANGS, get_lang, set_lang, t
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.models.privacy import phone_view
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.roles import Desk, make_desk
from fengqiao.models.routing import describe_assignee
from fengqiao.models.text import clip, visible

from .config import Config, load_config
from .options import REFERENCE_ENV, AsLang, Lang, apply_lang, use_reference
from .privacy import AsDept, AsDesk, AsRole, AsTown, Unmasked, phones_for
from .serialize import order_json
from .textout import dumps, echo, table

log = logging.getLogger("fengqiao")
ERROR_LIMIT = 400  # characters of an error line; longer ones are cut in the middle


def _crash_log() -> Path:
    return Path(platformdirs.user_log_dir("fengqiao", appauthor=False)) / "crash.log"


def report_unexpected(exc: BaseException) -> str:
    """Write the traceback to the crash log; return the one line to show."""
    from .redact import open_private_log, redact, redact_argv

    path = _crash_log()
    try:
        with open_private_log(path) as fh:  # 0600; no token ever written (console/redact.py)
            fh.write(f"--- {datetime.now().isoformat()} {' '.join(redact_argv(sys.argv))}\n")
            fh.write(redact("".join(traceback.format_exception(exc))))
    except OSError:
        pass
    return redact(t("error.unexpected", error=f"{type(exc).__name__}: {exc}", log=path))


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test runner's buffer)
        pass


class Group(TyperGroup):
    """Turns domain and store errors into one line on stderr (also under typer's CliRunner)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # typer's Context is click's
        try:
            return super().invoke(ctx)
        except FengqiaoError as exc:
            # Messages quote what was typed: one visible line, never a terminal escape or 100 KB of it.
            echo(f"fengqiao: {t('error.prefix')}: {clip(str(exc), ERROR_LIMIT)}", err=True)
            ctx.exit(exc.exit_code)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            ctx.exit(130)
        except BrokenPipeError:  # `fengqiao orders | head`: the reader has gone; nothing left to say
            _silence_stdout()
            ctx.exit(141)
        except Exception as exc:  # a bug: keep the traceback in the log, show one line
            echo(f"fengqiao: {clip(report_unexpected(exc), ERROR_LIMIT)}", err=True)
            ctx.exit(70)


app = typer.Typer(
    cls=Group,
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Fengqiao dispatch console: 枫桥式协同治理联动警情派单台.",
)


class State:
    """What the global options decided, shared by every command."""

    def __init__(self, db: Path | None, lang: str | None) -> None:
        self.db_path = db
        self.lang = lang
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config()
        return self._config

    def open_db(self, **kwargs: Any):  # noqa: ANN201 - returns store.db.Database
        from fengqiao.store.db import open_db

        return open_db(self.db_path, **kwargs)

    def desk(
        self,
        *,
        name: str | None = None,
        role: str | None = None,
        dept: str | None = None,
        town: str | None = None,
        use_config_role: bool = False,
    ) -> Desk:
        cfg = self.config
        if role is None and use_config_role:
            role, dept, town = cfg.role, dept or cfg.dept, town or cfg.town
        return make_desk(
            default_reference(),
            name or cfg.desk_name,
            role,
            dept=dept,
            town=town,
            operator=cfg.operator,
            prefix=cfg.prefix,
        )


def _state(ctx: typer.Context) -> State:
    assert isinstance(ctx.obj, State)
    return ctx.obj


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            help="SQLite file (default: $FENGQIAO_DB or the user data dir)",
            envvar="FENGQIAO_DB",
            show_envvar=False,
        ),
    ] = None,
    lang: Annotated[Lang | None, typer.Option("--lang", help="zh (default) or en")] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="reference-data folder (default: $FENGQIAO_REFERENCE or the shipped fixtures)",
            envvar=REFERENCE_ENV,
            show_envvar=False,
        ),
    ] = None,
) -> None:
    use_reference(reference)
    state = State(db, lang.value if lang else None)
    ctx.obj = state
    chosen = state.lang or (state.config.lang if state.config.lang in LANGS else None) or "zh"
    set_lang(chosen)
    if ctx.invoked_subcommand is None:
        _run_console(state)


# ---- the console -----------------------------------------------------------------------------------


def _run_console(state: State, *, desk: Desk | None = None, caller: str | None = None) -> None:
    from .app import FengqiaoApp, desk_context  # Textual is only imported when the console opens
    from .commands.sync import console_sync

    db = state.open_db()
    try:
        chosen = desk or state.desk(use_config_role=True)
        if chosen.role is None:
            chosen = make_desk(
                default_reference(), chosen.name, "call_taker", operator=chosen.operator, prefix=chosen.prefix
            )
        ctx = desk_context(db, chosen, lang=get_lang(), caller=caller, config=state.config)
        FengqiaoApp(ctx, sync=console_sync(state.config, db, chosen)).run()
    finally:
        db.close()


@app.command("run")
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
    state = _state(ctx)
    chosen = state.desk(name=desk, role=role, dept=dept, town=town, use_config_role=role is None)
    _run_console(state, desk=chosen, caller=caller)


# ---- setup and reference data ----------------------------------------------------------------------


@app.command("init")
def init_cmd(ctx: typer.Context) -> None:
    """Create the database (or bring its schema up to date). Safe to run again."""
    db = _state(ctx).open_db()
    try:
        echo(t("cli.initialized", path=db.path, version=db.schema_version()))
    finally:
        db.close()


@app.command("taxonomy")
def taxonomy_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    towns: Annotated[bool, typer.Option("--towns", help="list the towns and their police stations")] = False,
    departments: Annotated[bool, typer.Option("--departments", help="list the departments")] = False,
) -> None:
    """The tags by category with their departments and time limits (from the reference data in use)."""
    ref = default_reference()
    lang = get_lang()
    if towns:
        rows: list[dict[str, Any]] = [
            {
                "code": tw.code,
                "name_zh": tw.name_zh,
                "name_en": tw.name_en,
                "kind": tw.kind,
                "police_station": tw.station_code,
                "police_station_zh": tw.police_station_zh,
                "one_team_pilot": tw.one_team_pilot,
            }
            for tw in ref.towns.values()
        ]
        if as_json:
            echo(dumps({"towns": rows}))
        else:
            echo(
                table(
                    [t("cli.code"), t("cli.name"), t("cli.police")],
                    [
                        [
                            r["code"],
                            r["name_zh"] if lang == "zh" else r["name_en"],
                            r["police_station_zh"] if lang == "zh" else ref.stations[r["police_station"]].name_en,
                        ]
                        for r in rows
                    ],
                )
            )
        return
    if departments:
        rows = [
            {
                "code": d.code,
                "name_zh": d.name_zh,
                "name_en": d.name_en,
                "kind": d.kind,
                "routing": d.routing,
                "one_team": d.one_team,
            }
            for d in ref.departments.values()
        ]
        if as_json:
            echo(dumps({"departments": rows}))
        else:
            echo(
                table(
                    [t("cli.code"), t("cli.name")],
                    [[r["code"], r["name_zh"] if lang == "zh" else r["name_en"]] for r in rows],
                )
            )
        return
    if as_json:
        cats = []
        for cat in ref.categories.values():
            tags = []
            for tag in ref.tags_in(cat.code):
                dept = ref.departments[tag.department]
                tags.append(
                    {
                        "code": tag.code,
                        "name_zh": tag.name_zh,
                        "name_en": tag.name_en,
                        "department": tag.department,
                        "department_zh": dept.name_zh,
                        "department_en": dept.name_en,
                        "dispatch": tag.dispatch,
                        "onsite": tag.onsite,
                        "sign_min": tag.sign_min,
                        "arrive_min": tag.arrive_min,
                        "feedback_h": tag.feedback_h,
                        "keywords": list(tag.keywords),
                    }
                )
            cats.append({"code": cat.code, "name_zh": cat.name_zh, "name_en": cat.name_en, "tags": tags})
        echo(dumps({"categories": cats, "tag_count": len(ref.tags)}))
        return
    tag_rows: list[list[Any]] = []
    for tag in ref.tags.values():
        dept = ref.departments[tag.department]
        tag_rows.append(
            [
                tag.code,
                tag.name_zh if lang == "zh" else tag.name_en,
                dept.name_zh if lang == "zh" else dept.code,
                t(f"mode.{tag.dispatch}"),
                t("cli.yes") if tag.onsite else t("cli.no"),
                tag.sign_min,
                tag.arrive_min or "",
                tag.feedback_h,
            ]
        )
    echo(
        table(
            [
                t("cli.code"),
                t("cli.tag"),
                t("cli.department"),
                t("field.mode"),
                t("cli.onsite"),
                t("cli.sign_min"),
                t("cli.arrive_min"),
                t("cli.feedback_h"),
            ],
            tag_rows,
            max_width=30,
        )
    )


@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    orders: Annotated[int, typer.Option("--orders", min=1, max=5_000_000, help="how many orders")] = 1000,
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="spread over this many days up to now")] = 90,
    seed: Annotated[int, typer.Option("--seed", help="random seed (same seed, same history)")] = 1,
) -> None:
    """Fill the store with realistic synthetic history across the 21 towns."""
    from fengqiao.store.demo import generate

    state = _state(ctx)
    db = state.open_db()
    started = time.perf_counter()
    try:

        def progress(done: int, total: int) -> None:
            if sys.stderr.isatty():
                echo(t("cli.demo_progress", done=done, total=total), err=True)

        result = generate(db, orders=orders, days=days, seed=seed, clock=system_clock, progress=progress)
    finally:
        db.close()
    echo(
        t(
            "cli.demo_done",
            orders=result.orders,
            events=result.events,
            seconds=time.perf_counter() - started,
            path=db.path,
        )
    )


# ---- orders ----------------------------------------------------------------------------------------


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


def _at(value: str | None) -> datetime | None:
    return None if value is None else parse_user_time(value)


def _store(
    ctx: typer.Context,
    *,
    desk: str | None = None,
    role: str | None = None,
    dept: str | None = None,
    town: str | None = None,
    viewing: bool = False,
):  # noqa: ANN202 - returns store.orders.OrderStore
    """The store as ``desk`` sees it. ``viewing`` (the read-only views ``orders`` and ``order``): without
    ``--role`` the desk of the config file, so a supervisor's machine masks numbers; otherwise (``dispatch``,
    ``act``) without ``--role`` it is the local operator's tool."""
    from fengqiao.store.orders import OrderStore

    state = _state(ctx)
    chosen = state.desk(name=desk, role=role, dept=dept, town=town, use_config_role=viewing)
    return OrderStore(state.open_db(), desk=chosen, clock=system_clock)


@app.command("dispatch")
def dispatch_cmd(
    ctx: typer.Context,
    phone: Annotated[str, typer.Option("--phone", help="caller's phone")],
    town: Annotated[str, typer.Option("--town", help="town code (HZ) or name (黄泽镇)")],
    tag: Annotated[str, typer.Option("--tag", help="tag code, e.g. B01")],
    text: Annotated[str, typer.Option("--text", help="what the caller said")],
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
) -> None:
    """Record a call and send its order; prints the order number."""
    if single and dual:
        raise ValidationError(t("error.bad_mode", mode="--single --dual"), field="mode")
    mode = "single" if single else "dual" if dual else None
    when = _at(at)
    store = _store(ctx, desk=desk, role=role, town=desk_town)
    try:
        state = store.dispatch(
            IntakeForm(phone=phone, town=town, description=text, name=name, address=address),
            tag,
            mode=mode,
            override_dept=dept,
            override_reason=reason,
            at=when,
            received_at=when,
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
                    "repeat_of": state.repeat_of,
                }
            )
        )
    else:
        echo(state.order_no)


@app.command("orders")
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

    store = _store(ctx, desk=desk, role=role, dept=desk_dept, town=desk_town, viewing=True)
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


@app.command("order")
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
    store = _store(ctx, desk=desk, role=role, dept=dept, town=town, viewing=True)
    try:
        phone_view(store.desk, unmasked=unmasked)  # refused before anything is read
        state, entries = store.timeline(number)
        see = phones_for(store.db, store.desk, unmasked=unmasked, target="order", orders=[state.order_no])
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
    echo(f"{t('field.description')}: {visible(state.call.description)}")
    echo("")
    rows = []
    for a in state.assignments:
        rows.append(
            [
                describe_assignee(ref, a.assignee, lang),
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
    echo("")
    ev_rows = []
    for entry in entries:
        ev = entry.event
        detail = ", ".join(f"{k}={v}" for k, v in ev.payload.items() if k not in ("call", "assignments", "assignment"))
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


@app.command("act")
def act_cmd(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="order number")],
    action: Annotated[
        str,
        typer.Argument(
            help="sign, arrive, feedback, return, reassign, extend, approve-extension, "
            "refuse-extension, escalate, visit, reopen, close, cancel, judge-return"
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
    at: Annotated[str | None, typer.Option("--at", help="when it really happened (late entry)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    desk: Annotated[str | None, typer.Option("--desk", help="act as this desk")] = None,
    role: Annotated[str | None, typer.Option("--role", help="apply this role's rules")] = None,
    dept: Annotated[str | None, typer.Option("--dept", help="department of a department desk")] = None,
    town: Annotated[str | None, typer.Option("--town", help="town of a township desk")] = None,
) -> None:
    """Take an action on an order (sign, arrive, feedback, …) — one transaction."""
    valid = [a.value for a in Action if a not in (Action.DISPATCH, Action.LINK)]
    if action not in valid:
        raise ValidationError(
            t("error.bad_choice", value=action, field=t("field.action"), choices=", ".join(valid)), field="action"
        )
    if result is not None and result not in ("resolved", "unresolved"):
        raise ValidationError(t("error.need_result"), field="result")
    if satisfaction is not None and satisfaction not in ("satisfied", "basic", "unsatisfied"):
        raise ValidationError(t("error.need_satisfaction"), field="satisfaction")
    from fengqiao.models.text import check_text

    note = check_text("note", note)
    when = _at(at)
    store = _store(ctx, desk=desk, role=role, dept=dept, town=town)
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
            ),
            at=when,
        )
    finally:
        store.db.close()
    if as_json:
        echo(dumps(order_json(store.ref, state, lang=get_lang())))
    else:
        echo(t("cli.acted", order_no=state.order_no, action=t(f"action.{action}"), status=t(f"status.{state.status}")))


def _register_features() -> None:
    import importlib

    from .commands import FEATURES

    for name in FEATURES:
        importlib.import_module(f"fengqiao.console.commands.{name}").register(app)


_register_features()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
