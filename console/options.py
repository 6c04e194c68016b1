"""Command-line options shared by the commands that open a screen."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from fengqiao.models.i18n import set_lang
from fengqiao.models.reference import REFERENCE_ENV

from .launch import use_reference

__all__ = ["REFERENCE_ENV", "AsLang", "Lang", "apply_lang", "use_reference"]


class Lang(StrEnum):
    zh = "zh"
    en = "en"


# ``fengqiao run --lang en`` and ``fengqiao dashboard --lang en`` read as naturally as ``fengqiao --lang en run``.
AsLang = Annotated[Lang | None, typer.Option("--lang", help="zh or en (the same as the global --lang)")]


def apply_lang(lang: Lang | None) -> None:
    if lang is not None:
        set_lang(lang.value)
