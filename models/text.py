"""Checks for free text typed or pasted by a person, and making it safe to show.

Text is stored exactly as given (a caller's ``[bold]`` or an escape sequence is evidence), except that NUL
and unpaired surrogates are refused: they cannot be stored faithfully. Showing text is a separate step:
:func:`visible` turns control characters into visible symbols so that nothing a caller said can style,
move or clear a terminal.
"""

from __future__ import annotations

import re

from rich.cells import cell_len, split_graphemes

from .errors import ValidationError
from .i18n import t

LIMITS = {
    "description": 4000,
    "address": 200,
    "name": 50,
    "note": 2000,
    "reason": 2000,
    "text": 4000,
}

_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters that must never reach a terminal as they are: C0 and C1 controls and DEL (ESC starts ANSI/OSC
# sequences; U+009B is a one-character CSI), bidirectional overrides and isolates (they reorder what is
# shown: "Trojan Source"), the Unicode line and paragraph separators, and lone surrogates (undecodable
# input, e.g. bytes that were not UTF-8). Tab and newline are kept in multi-line text.
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_CONTROL = re.compile(f"[{_UNSAFE}\u2028\u2029]")
_CONTROL_ALL = re.compile(f"[{_UNSAFE}\t\n\u2028\u2029]")
ELLIPSIS = "…"


def check_text(field: str, value: str | None, *, required: bool = False, limit: int | None = None) -> str:
    """Validate one text field and return it unchanged (only outer whitespace is trimmed).

    Raises :class:`ValidationError` naming the field and what is wrong.
    """
    label = t(f"field.{field}")
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(t("error.required", field=label), field=field)
    max_len = limit or LIMITS.get(field, LIMITS["text"])
    if len(text) > max_len:
        raise ValidationError(t("error.too_long", field=label, length=len(text), limit=max_len), field=field)
    if "\x00" in text:
        raise ValidationError(t("error.nul", field=label), field=field)
    if _SURROGATE.search(text):
        raise ValidationError(t("error.surrogate", field=label), field=field)
    return text


def visible(text: str, *, single_line: bool = False) -> str:
    """Make control characters visible: ESC becomes ``␛``, other controls ``\\xNN`` or ``\\uNNNN``.

    Bidirectional controls and lone surrogates are shown as ``\\uNNNN`` too, so the text reads in the order it
    was typed. With ``single_line``, newlines (and U+2028/U+2029) become ``⏎`` and tabs a space, so a table
    row stays one row. The result is plain text; callers still render it without markup (``Text(...)``, never
    ``[...]``). Nothing else changes: markup such as ``[bold]`` stays as typed.
    """

    def repl(match: re.Match[str]) -> str:
        ch = match.group(0)
        if ch == "\x1b":
            return "␛"
        if ch in "\n\u2028\u2029":
            return "⏎" if single_line else "\n"
        if ch in "\t\r":
            return " "
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    pattern = _CONTROL_ALL if single_line else _CONTROL
    return pattern.sub(repl, text)


_GLYPHS = re.compile(f"[{_UNSAFE}\t\u2028\u2029]")
_GLYPHS_KEEP_TAB = re.compile(f"[{_UNSAFE}\u2028\u2029]")


def glyphs(text: str, *, keep_tab: bool = False) -> str:
    """Make control characters visible *one character each*, for a field being edited (cursor positions stay).

    A C0 control becomes its Unicode control picture (ESC ``␛``, NUL ``␀``, TAB ``␉``), DEL ``␡``, and C1
    controls, bidirectional controls, line separators and lone surrogates ``�``. Only what is shown changes;
    the field's value (and what is stored) is exactly what was typed or pasted. :func:`visible` is for text
    that is only read (it spells out the code, ``\x9b``).
    """

    def repl(match: re.Match[str]) -> str:
        code = ord(match.group(0))
        if code < 0x20:
            return chr(0x2400 + code)
        return "␡" if code == 0x7F else "\ufffd"

    return (_GLYPHS_KEEP_TAB if keep_tab else _GLYPHS).sub(repl, text)


def clip(text: str, limit: int = 80) -> str:
    """``text`` made visible on one line and cut in the middle when longer than ``limit`` characters.

    For quoting what someone typed inside a message (an unknown code, a bad value): 100 KB pasted into a
    field must not become a 100 KB error line.
    """
    shown = visible(text, single_line=True)
    if len(shown) <= limit:
        return shown
    head = max(limit * 2 // 3, 1)
    tail = max(limit - head - 1, 0)
    return shown[:head] + ELLIPSIS + (shown[-tail:] if tail else "")


def cut_point(text: str, cells: int) -> tuple[int, int]:
    """Where to cut ``text`` to keep at most ``cells`` terminal cells: (index, cells kept).

    Cuts fall between grapheme clusters (an emoji ZWJ sequence, a letter with its combining marks, a character
    with its variation selector stay whole), so the kept text measures what the terminal shows.
    """
    spans, _ = split_graphemes(text)
    end, used = 0, 0
    for _start, stop, width in spans:
        if used + width > cells:
            break
        end, used = stop, used + width
    return end, used


def fit_cells(text: str, width: int) -> tuple[str, int]:
    """``text`` cut to ``width`` terminal cells with an ellipsis when it is longer, and the cells it takes."""
    size = cell_len(text)
    if size <= width:
        return text, size
    end, used = cut_point(text, width - 1)
    return text[:end] + ELLIPSIS, used + 1


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula (or a DDE command) if it were typed in a cell."""
    return text.startswith(FORMULA_START)


def spreadsheet_text(text: str, *, csv: bool = False) -> str:
    """Caller text for a report cell (xlsx or CSV), so that the spreadsheet shows it and never runs it.

    The one guard for every export (``console.kpi_report`` and anything else that writes a spreadsheet).
    Control characters are made visible (:func:`visible`; openpyxl refuses them outright, so one escape
    sequence in a description would otherwise abort the export). For xlsx also set ``cell.data_type = "s"``
    after assigning the value, and ``cell.quotePrefix = True`` when :func:`looks_like_formula`: openpyxl turns
    a string starting with ``=`` into a formula. For CSV, where there are no cell types, a leading
    ``= + - @``, tab or carriage return gets an apostrophe (the usual CSV-injection guard).
    """
    shown = visible(text)
    if csv and looks_like_formula(shown):
        return "'" + shown
    return shown


# An address typed with other spacing is the same address ("金桂苑 3幢", "金桂苑3幢", a Chinese input method's
# full-width space, a tab): store.orders.recent_calls compares addresses without these, by an index over the same
# expression (migration 0016_address_compact.sql), and the recent-calls panel counts them the same way.
ADDRESS_SPACES = (" ", "\u3000", "\t")


def compact_address(address: str) -> str:
    """``address`` without :data:`ADDRESS_SPACES`."""
    for space in ADDRESS_SPACES:
        address = address.replace(space, "")
    return address
