"""Plain-text output for the CLI: aligned tables (CJK-width aware) and JSON, never interpreted markup."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer

from rich.cells import cell_len

from models.text import visible


def _fit(text: str, width: int) -> str:
    """Pad ``text`` to ``width`` terminal cells, cutting it with an ellipsis when longer."""
    if cell_len(text) <= width:
        return text + " " * (width - cell_len(text))
    out, used = "", 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width - 1:
            break
        out += ch
        used += w
    return out + "…" + " " * (width - used - 1)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_width: int = 40) -> str:
    cells = [[visible("" if c is None else str(c), single_line=True) for c in row] for row in rows]
    heads = [visible(h, single_line=True) for h in headers]
    widths = [min(max([cell_len(h)] + [cell_len(r[i]) for r in cells]), max_width) for i, h in enumerate(heads)]
    lines = ["  ".join(_fit(h, w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines.append("  ".join("─" * w for w in widths))
    for row in cells:
        lines.append("  ".join(_fit(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def echo(text: str = "", *, err: bool = False) -> None:
    typer.echo(text, err=err, color=False)
