"""One string catalogue per language (``fixtures/i18n/zh.toml``, ``en.toml``).

Chinese is the default. ``t("state.signed")`` looks a dotted key up in the current language, falls back
to Chinese, then to the key itself, and formats ``{placeholders}`` with the keyword arguments.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
CATALOGUES = Path(__file__).resolve().parent.parent / "fixtures" / "i18n"  # fengqiao/fixtures/i18n/<lang>.toml

_current = DEFAULT_LANG
_TABLE = re.compile(r"^\[([A-Za-z0-9_-]+)[.\]]", re.M)  # a table header's first name: [kpi] and [kpi.col] -> kpi


def _flatten(prefix: str, node: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in node.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


class Strings:
    """One language's catalogue, read a top-level table at a time: ``t("shift.name")`` parses ``[shift]`` (and
    ``[shift.*]``) the first time a key of it is asked for. The console's first frame needs a few tables of the
    catalogue, and parsing all of it (pure-Python TOML) cost that frame several milliseconds."""

    def __init__(self, text: str) -> None:
        self._chunks: dict[str, list[str]] = {}  # top-level name -> the text of its tables, in file order
        heads = list(_TABLE.finditer(text))
        root = text[: heads[0].start()] if heads else text  # keys before the first table
        for head, after in zip(heads, [*heads[1:], None], strict=True):
            chunk = text[head.start() : after.start() if after is not None else len(text)]
            self._chunks.setdefault(head.group(1), []).append(chunk)
        self._flat: dict[str, str] = {}
        self._lock = threading.Lock()
        self._parse(root)

    def _parse(self, text: str) -> None:
        import tomllib

        out: dict[str, str] = {}
        _flatten("", tomllib.loads(text), out)
        self._flat.update(out)

    def _load(self, table: str) -> bool:
        with self._lock:
            chunks = self._chunks.pop(table, None)
            if chunks is not None:
                self._parse("".join(chunks))
        return chunks is not None

    def get(self, key: str) -> str | None:
        text = self._flat.get(key)
        if text is None and self._chunks and self._load(key.partition(".")[0]):
            text = self._flat.get(key)
        return text

    def all(self) -> dict[str, str]:
        for table in list(self._chunks):
            self._load(table)
        return self._flat


@cache
def strings(lang: str) -> Strings:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGS)}")
    return Strings((CATALOGUES / f"{lang}.toml").read_text(encoding="utf-8"))


def catalogue(lang: str) -> dict[str, str]:
    """Every string of ``lang``, by dotted key."""
    return strings(lang).all()


_here = threading.local()  # a per-thread override: a server thread answering one request in its language


def set_lang(lang: str) -> None:
    global _current
    strings(lang)  # validates
    _current = lang


def get_lang() -> str:
    return getattr(_here, "lang", None) or _current


@contextmanager
def using(lang: str) -> Iterator[None]:
    """Answer in ``lang`` on this thread only, for the duration (the process's language stays)."""
    strings(lang)
    before = getattr(_here, "lang", None)
    _here.lang = lang
    try:
        yield
    finally:
        _here.lang = before


def t(key: str, /, lang: str | None = None, **kwargs: Any) -> str:
    lang = lang or get_lang()
    text = strings(lang).get(key)
    if text is None and lang != DEFAULT_LANG:
        text = strings(DEFAULT_LANG).get(key)
    if text is None:
        return key
    return text.format(**kwargs) if kwargs else text


def has(key: str, lang: str | None = None) -> bool:
    return strings(lang or get_lang()).get(key) is not None


def name(obj: Any, lang: str | None = None) -> str:
    """The localized name of anything with ``name_zh``/``name_en`` attributes."""
    return obj.name_en if (lang or get_lang()) == "en" else obj.name_zh
