"""The ``fengqiao`` command line (typer).

``fengqiao`` alone opens the console. Every command takes the global ``--db PATH``, ``--lang zh|en`` and
``--reference DIR`` (the reference-data folder, see docs/reference-data.md).
Bad input exits non-zero with one clear line on stderr and nothing written; never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import platformdirs
import typer
from typer.core import TyperGroup

from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import t
from fengqiao.models.text import clip

from .launch import apply_globals
from .options import REFERENCE_ENV, Lang
from .textout import echo

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


class FeatureTyper(typer.Typer):
    """The main app: the feature modules' commands are registered when typer first reads them (at the first
    ``app()``, CliRunner invoke or ``--help``): all of them, or only the module :func:`main` chose for the
    command being run."""

    features: Any = None  # what registers the commands, run once

    def _load_features(self) -> None:
        load, self.features = self.features, None
        if load is not None:
            load()

    @property
    def registered_commands(self) -> Any:
        self._load_features()
        return self.__dict__["_commands"]

    @registered_commands.setter
    def registered_commands(self, value: Any) -> None:
        self.__dict__["_commands"] = value

    @property
    def registered_groups(self) -> Any:
        self._load_features()
        return self.__dict__["_groups"]

    @registered_groups.setter
    def registered_groups(self, value: Any) -> None:
        self.__dict__["_groups"] = value


app = FeatureTyper(
    cls=Group,
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Fengqiao dispatch console: 枫桥式协同治理联动警情派单台.",
)


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
    state = apply_globals(db, lang.value if lang else None, reference)
    ctx.obj = state
    if ctx.invoked_subcommand is None:
        from .commands.console import run_console

        run_console(state)


def _register_features(only: tuple[str, ...] | None = None) -> None:
    import importlib

    from .commands import FEATURES

    for name in FEATURES:
        if only is None or name in only:
            importlib.import_module(f"fengqiao.console.commands.{name}").register(app)


app.features = _register_features  # every command, when typer first asks (tests, --help)
GLOBAL_VALUE_OPTIONS = ("--db", "--lang", "--reference")  # the global options that take a value


def feature_of(argv: list[str]) -> str | None:
    """The feature module whose command ``argv`` runs (``console`` for ``fengqiao`` alone), or None when it is
    not plain which (``--help``, an unknown command or option): then every module is registered."""
    from .commands import COMMANDS

    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in GLOBAL_VALUE_OPTIONS:
            i += 2
        elif arg.startswith(tuple(f"{o}=" for o in GLOBAL_VALUE_OPTIONS)):
            i += 1
        elif arg.startswith("-"):
            return None
        else:
            return next((module for module, names in COMMANDS.items() if arg in names), None)
    return "console"  # no command: the console opens


def main() -> None:
    """Console-script entry point: registers only the command being run (typer builds every command it knows)."""
    feature = feature_of(sys.argv[1:])
    if feature is not None and app.features is not None:
        app.features = lambda: _register_features((feature,))
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
