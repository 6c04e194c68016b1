"""Reading a TOML settings file with one clear, localized error for each way it can be wrong."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .errors import ValidationError
from .i18n import t


def read_toml(path: Path) -> dict[str, Any]:
    """The file's tables, or :class:`ValidationError` naming the file (unreadable, not UTF-8, not TOML)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(t("config.unreadable", path=path, error=exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(t("config.bad_toml", path=path, error=exc)) from None


def table(raw: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    """Section ``name`` of a parsed file (empty when absent), refusing a value that is not a table."""
    section = raw.get(name, {})
    if not isinstance(section, dict):
        raise ValidationError(t("config.bad_toml", path=path, error=f"[{name}] must be a table"))
    return section
