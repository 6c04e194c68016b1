"""Checks for free text typed or pasted by a person, and making it safe to show.

Text is stored exactly as given (a caller's ``[bold]`` or an escape sequence is evidence), except that NUL
and unpaired surrogates are refused: they cannot be stored faithfully. Showing text is a separate step:
:func:`visible` turns control characters into visible symbols so that nothing a caller said can style,
move or clear a terminal.
"""

from __future__ import annotations

import re

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
# C0 and C1 controls and DEL, except tab and newline (allowed in multi-line text).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f-\x9f]")


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
    """Make control characters visible: ESC becomes ``␛``, other controls ``\\xNN``.

    With ``single_line``, newlines and tabs become ``⏎`` and a space so a table row stays one row.
    The result is plain text; callers still render it without markup (``Text(...)``, never ``[...]``).
    """

    def repl(match: re.Match[str]) -> str:
        ch = match.group(0)
        if ch == "\x1b":
            return "␛"
        if ch == "\n":
            return "⏎"
        if ch in "\t\r":
            return " "
        return f"\\x{ord(ch):02x}"

    pattern = _CONTROL_ALL if single_line else _CONTROL
    return pattern.sub(repl, text)
