"""Names that reach every desk's terminal (desk names, operator names): no control characters.

A desk name travels on every event and in every sync answer; an operator name is every event's actor. A C0 or
C1 control (ESC starts a terminal escape sequence), a bidirectional override or mark (U+202E makes text read
backwards), a zero-width space or BOM, a line or paragraph separator or a lone surrogate in one (the zero-width
joiners U+200C/U+200D stay: emoji sequences and some scripts need them) would be a way to write on other desks'
screens. They are refused where a name is defined: ``server desk-add``, ``desk set`` and the config file.
"""

from __future__ import annotations

import re

from .errors import ValidationError
from .i18n import t
from .text import visible

_BAD = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff\ud800-\udfff]"
)


def check_name(value: str, *, what: str = "desk", required: bool = True) -> str:
    """``value`` trimmed, or :class:`ValidationError` naming the first unsafe character (shown escaped)."""
    text = value.strip()
    label = t(f"error.name_{what}")
    if required and not text:
        raise ValidationError(t("error.empty_name", what=label), field=what)
    bad = _BAD.search(text)
    if bad:
        ch = bad.group(0)
        code = f"U+{ord(ch):04X}"
        raise ValidationError(
            t("error.unsafe_name", what=label, name=visible(text, single_line=True), char=code), field=what
        )
    return text
