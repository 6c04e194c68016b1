"""One string catalogue per language (``fixtures/i18n/zh.toml``, ``en.toml``).

Chinese is the default. ``t("state.signed")`` looks a dotted key up in the current language, falls back
to Chinese, then to the key itself, and formats ``{placeholders}`` with the keyword arguments.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from typing import Any

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

_current = DEFAULT_LANG


def _flatten(prefix: str, node: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in node.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def catalogue(lang: str) -> dict[str, str]:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGS)}")
    text = resources.files("fengqiao.fixtures").joinpath("i18n", f"{lang}.toml").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    _flatten("", tomllib.loads(text), out)
    return out


_here = threading.local()  # a per-thread override: a server thread answering one request in its language


def set_lang(lang: str) -> None:
    global _current
    catalogue(lang)  # validates
    _current = lang


def get_lang() -> str:
    return getattr(_here, "lang", None) or _current


@contextmanager
def using(lang: str) -> Iterator[None]:
    """Answer in ``lang`` on this thread only, for the duration (the process's language stays)."""
    catalogue(lang)
    before = getattr(_here, "lang", None)
    _here.lang = lang
    try:
        yield
    finally:
        _here.lang = before


def t(key: str, /, lang: str | None = None, **kwargs: Any) -> str:
    lang = lang or get_lang()
    text = catalogue(lang).get(key)
    if text is None and lang != DEFAULT_LANG:
        text = catalogue(DEFAULT_LANG).get(key)
    if text is None:
        return key
    return text.format(**kwargs) if kwargs else text


def has(key: str, lang: str | None = None) -> bool:
    return key in catalogue(lang or get_lang())


def name(obj: Any, lang: str | None = None) -> str:
    """The localized name of anything with ``name_zh``/``name_en`` attributes."""
    return obj.name_en if (lang or get_lang()) == "en" else obj.name_zh
