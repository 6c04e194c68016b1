"""Plain-text output for the CLI: aligned tables (CJK-width aware) and JSON, never interpreted markup."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import typer
from rich.cells import cell_len

from fengqiao.models.text import fit_cells, visible


def _fit(text: str, width: int) -> str:
    """Pad ``text`` to ``width`` terminal cells, cutting it with an ellipsis when longer (between graphemes)."""
    cut, used = fit_cells(text, width)
    return cut + " " * (width - used)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_width: int = 40) -> str:
    cells = [[visible("" if c is None else str(c), single_line=True) for c in row] for row in rows]
    heads = [visible(h, single_line=True) for h in headers]
    widths = [min(max([cell_len(h)] + [cell_len(r[i]) for r in cells]), max_width) for i, h in enumerate(heads)]
    lines = ["  ".join(_fit(h, w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines.append("  ".join("─" * w for w in widths))
    for row in cells:
        lines.append("  ".join(_fit(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


# json.dumps escapes C0 controls but writes C1 controls (U+009B is a one-character CSI), DEL, bidirectional
# controls and line separators as they are; escaping them too keeps the same JSON value and a safe terminal.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def dumps(obj: Any) -> str:
    """JSON for the terminal or a pipe: UTF-8 text kept readable, every control character escaped."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def echo(text: str = "", *, err: bool = False) -> None:
    typer.echo(text, err=err, color=False)
