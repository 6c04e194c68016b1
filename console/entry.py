"""The ``fengqiao`` command's entry point: a fast path for ``fengqiao [--db PATH] pop PHONE``, then the CLI.

A telephony system runs ``fengqiao pop`` on every call; with a console running on the store it only has to
connect to the console's socket (:mod:`fengqiao.console.popsock`) and write the number, which takes a few
milliseconds, while importing the whole command line (typer, the store, every command) takes a third of a
second. Then opening the console or the dashboard with plain options skips typer too
(:func:`fengqiao.console.launch.fast_start`). Anything else, or a pop with no console listening, goes to
:func:`fengqiao.console.cli.main`.
"""

from __future__ import annotations

import sys


def _fast_pop(argv: list[str]) -> int | None:
    """The exit status of a pop handed to a running console, or None to let the full CLI handle ``argv``."""
    db: str | None = None
    rest = list(argv)
    if len(rest) >= 2 and rest[0] == "--db":
        db, rest = rest[1], rest[2:]
    elif rest and rest[0].startswith("--db="):
        db, rest = rest[0][5:], rest[1:]
    if len(rest) != 2 or rest[0] != "pop" or rest[1].startswith("-"):
        return None
    from .popsock import clean_phone, send_pop, socket_path

    phone = clean_phone(rest[1])
    if phone is None:
        return None  # the CLI says what is wrong, in the desk's language
    reply = send_pop(socket_path(db), phone)
    if reply == "OK":
        return 0
    return None  # no console (or an odd answer): the CLI starts one or explains


def main() -> None:
    status = _fast_pop(sys.argv[1:])
    if status is None:  # `fengqiao`, `fengqiao run …`, `fengqiao dashboard …` with plain options: no typer
        from .launch import fast_start

        status = fast_start(sys.argv[1:])
    if status is not None:
        sys.exit(status)
    from .cli import main as cli_main

    cli_main()
