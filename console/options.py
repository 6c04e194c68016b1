"""Command-line options shared by the commands that open a screen."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fengqiao.models.i18n import set_lang
from fengqiao.models.reference import REFERENCE_ENV, default_reference, set_reference_dir


class Lang(StrEnum):
    zh = "zh"
    en = "en"


# ``fengqiao run --lang en`` and ``fengqiao dashboard --lang en`` read as naturally as ``fengqiao --lang en run``.
AsLang = Annotated[Lang | None, typer.Option("--lang", help="zh or en (the same as the global --lang)")]


def apply_lang(lang: Lang | None) -> None:
    if lang is not None:
        set_lang(lang.value)


def use_reference(directory: Path | None) -> None:
    """Make ``directory`` (the global --reference, or $FENGQIAO_REFERENCE read by typer) this process's reference
    data and validate it now, so a fault is one line before any command runs. The environment variable is set too,
    so worker processes (the demo's, the server's) load the same folder; None means the shipped fixtures."""
    set_reference_dir(directory)
    if directory is None:
        os.environ.pop(REFERENCE_ENV, None)
        return
    os.environ[REFERENCE_ENV] = str(directory)
    default_reference()
