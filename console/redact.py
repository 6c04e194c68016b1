"""Secrets kept out of logs: desk tokens (``fq1_…``) and the value of ``--token`` wherever they appear."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

TOKEN_RE = re.compile(r"fq1_[A-Za-z0-9_\-]+")
SECRET_OPTIONS = ("--token",)
HIDDEN = "***"


def redact(text: str) -> str:
    """``text`` with every desk token replaced by ``fq1_***``."""
    return TOKEN_RE.sub("fq1_" + HIDDEN, text)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line with the values of secret options hidden (``--token X`` and ``--token=X``)."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(HIDDEN)
            hide_next = False
            continue
        name, eq, _value = arg.partition("=")
        if name in SECRET_OPTIONS:
            if eq:
                out.append(f"{name}={HIDDEN}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(redact(arg))
    return out


def open_private_log(path: Path):  # noqa: ANN201 - a text file object
    """Open ``path`` for appending, readable by its owner only (0600, also when it already existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        pass
    return os.fdopen(fd, "a", encoding="utf-8")
