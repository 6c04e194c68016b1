"""Opening the console and the dashboard, and a start without typer for the commands that only open them.

``fengqiao``, ``fengqiao run …`` and ``fengqiao dashboard …`` with plain options (each known, each with its value)
start here straight from the entry point (:func:`fast_start`): the typer command line would cost the console's
first paint a tenth of a second to import, build its fifty commands and check each option through pydantic.
Anything else — ``--help``, an unknown or misspelt option, a missing value, ``--lang fr`` — goes to the typer CLI,
which says what is wrong in its usual way. What the two paths do is the same code: the CLI's ``run`` and
``dashboard`` commands call :func:`run_console` and :func:`open_dashboard` below, after the global options were
applied as :func:`apply_globals` does; errors are reported as the CLI reports them (one line, the same exit codes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from fengqiao.models.desk import Desk, make_desk
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import LANGS, get_lang, set_lang, t
from fengqiao.models.reference import REFERENCE_ENV, default_reference, set_reference_dir

from .state import State

ERROR_LIMIT = 400  # characters of an error line (as console/cli.py)


def use_reference(directory: Path | None) -> None:
    """Make ``directory`` (the global --reference, or $FENGQIAO_REFERENCE) this process's reference data and
    validate it now, so a fault is one line before any command runs. The environment variable is set too, so
    worker processes (the demo's, the server's) load the same folder; None means the shipped fixtures."""
    set_reference_dir(directory)
    if directory is None:
        os.environ.pop(REFERENCE_ENV, None)
        return
    os.environ[REFERENCE_ENV] = str(directory)
    default_reference()


def apply_globals(db: Path | None, lang: str | None, reference: Path | None) -> State:
    """What the global options ``--db``, ``--lang`` and ``--reference`` decide (the CLI's callback does this)."""
    use_reference(reference)
    state = State(db, lang)
    chosen = state.lang or (state.config.lang if state.config.lang in LANGS else None) or "zh"
    set_lang(chosen)
    return state


def run_console(state: State, *, desk: Desk | None = None, caller: str | None = None) -> None:
    from fengqiao.console.app import FengqiaoApp, desk_context  # Textual is only imported when the console opens
    from fengqiao.models.alerts import check_bell, parse_night

    from .syncsetup import console_sync

    check_bell(state.config.bell)  # a bad setting is said before anything opens
    parse_night(state.config.night)
    db = state.open_db()
    try:
        chosen = desk or state.desk(use_config_role=True)
        if chosen.role is None:
            chosen = make_desk(
                default_reference(), chosen.name, "call_taker", operator=chosen.operator, prefix=chosen.prefix
            )
        ctx = desk_context(db, chosen, lang=get_lang(), caller=caller, config=state.config, sign_in=True)
        FengqiaoApp(ctx, sync=console_sync(state.config, db, chosen)).run()
    finally:
        db.close()


def open_dashboard(
    state: State,
    *,
    desk: str | None = None,
    role: str | None = None,
    dept: str | None = None,
    town: str | None = None,
    unmasked: bool = False,
) -> None:
    """``fengqiao dashboard``: the cockpit read-only, as the desk's config (or the options) says."""
    from fengqiao.models.desk import Role
    from fengqiao.models.kpi import Weights
    from fengqiao.models.privacy import check_unmasked

    from .dashboard import run_dashboard
    from .syncsetup import console_sync

    cfg = state.config
    weights = Weights.from_config(cfg.section("kpi"))
    chosen = state.desk(name=desk, role=role, dept=dept, town=town, use_config_role=True)
    if unmasked:
        check_unmasked(chosen)  # refused before anything opens
    # A supervisor's cockpit may show full numbers (u, --unmasked): a separate writer for the access log.
    access_db = state.open_db() if chosen.role == Role.SUPERVISOR else None
    db = state.open_db()
    run_dashboard(
        db,
        chosen,
        lang=get_lang(),
        weights=weights,
        unmasked=unmasked,
        access_db=access_db,
        sync=console_sync(cfg, db, chosen),
    )  # as the console: the [sync] section, if any


# ---- the start without typer ----------------------------------------------------------------------------
GLOBALS = ("--db", "--lang", "--reference")
COMMAND_OPTIONS = {
    "run": ("--desk", "--role", "--dept", "--town", "--caller", "--lang"),
    "dashboard": ("--desk", "--role", "--dept", "--town", "--lang"),
}
FLAGS = {"run": (), "dashboard": ("--unmasked",)}


def parse_plain(argv: list[str]) -> tuple[str, dict[str, str], dict[str, Any]] | None:
    """``(command, global options, command options)`` for a plain start of the console or the dashboard, else
    None (the typer CLI handles it). The command is ``""`` for ``fengqiao`` alone."""
    glob: dict[str, str] = {}
    opts: dict[str, Any] = {}
    command: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        allowed = GLOBALS if command is None else COMMAND_OPTIONS[command]
        name, eq, value = arg.partition("=")
        if command is None and not arg.startswith("-"):
            if arg not in COMMAND_OPTIONS:
                return None
            command = arg
            i += 1
            continue
        if command is not None and arg in FLAGS[command]:
            opts[arg] = True
            i += 1
            continue
        if name not in allowed:
            return None  # --help, an unknown option, a stray argument
        if not eq:
            if i + 1 >= len(argv):
                return None
            value = argv[i + 1]
            i += 2
        else:
            i += 1
        if name == "--lang" and value not in LANGS:
            return None
        if name in (glob if command is None else opts):
            return None  # given twice: let the CLI decide as it always has
        (glob if command is None else opts)[name] = value
    return command or "", glob, opts


def fast_start(argv: list[str]) -> int | None:
    """Open the console or the dashboard for a plain command line (exit status), or None for the typer CLI."""
    parsed = parse_plain(argv)
    if parsed is None:
        return None
    command, glob, opts = parsed
    try:
        db = glob.get("--db") or os.environ.get("FENGQIAO_DB") or None
        ref = glob.get("--reference") or os.environ.get(REFERENCE_ENV) or None
        state = apply_globals(Path(db) if db else None, glob.get("--lang"), Path(ref) if ref else None)
        if "--lang" in opts:
            set_lang(opts["--lang"])
        if command == "":
            run_console(state)  # `fengqiao` alone: what the CLI's callback does
        elif command == "dashboard":
            open_dashboard(
                state,
                desk=opts.get("--desk"),
                role=opts.get("--role"),
                dept=opts.get("--dept"),
                town=opts.get("--town"),
                unmasked=bool(opts.get("--unmasked")),
            )
        else:  # run: as console/commands/console.py's run_cmd
            from fengqiao.models.phone import fold_width

            caller, role = opts.get("--caller"), opts.get("--role")
            chosen = state.desk(
                name=opts.get("--desk"),
                role=role,
                dept=opts.get("--dept"),
                town=opts.get("--town"),
                use_config_role=role is None,
            )
            run_console(state, desk=chosen, caller=fold_width(caller).strip() if caller else None)
        return 0
    except FengqiaoError as exc:  # the error line as the CLI writes it (typer's echo: only now imported)
        from fengqiao.models.text import clip

        from .textout import echo

        echo(f"fengqiao: {t('error.prefix')}: {clip(str(exc), ERROR_LIMIT)}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: the traceback in the crash log, one line here (as the CLI does)
        from fengqiao.models.text import clip

        from .cli import report_unexpected
        from .textout import echo

        echo(f"fengqiao: {clip(report_unexpected(exc), ERROR_LIMIT)}", err=True)
        return 70


if __name__ == "__main__":  # pragma: no cover - for trying it out
    status = fast_start(sys.argv[1:])
    sys.exit(0 if status is None else status)
