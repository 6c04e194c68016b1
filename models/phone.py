"""Caller phone numbers: mainland mobiles and landlines, normalized, with a precise message when wrong.

Accepted (spaces, hyphens and brackets are ignored; full-width digits and punctuation from a Chinese input
method, ``１３８５７５１２３４５`` or ``（0575）``, are read as the ASCII ones: Unicode NFKC):

* mobiles: ``13857512345``, ``+86 138 5751 2345``, ``0086-13857512345``  → ``13857512345``
* landlines with area code: ``0575-83012345``, ``(0575)83012345``, ``010-12345678`` → ``0575-83012345``
* local landlines (7–8 digits) get the county's area code: ``83012345`` → ``0575-83012345``
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .errors import ValidationError
from .i18n import t

LOCAL_AREA_CODE = "0575"
# Area codes with two digits after the 0: Beijing 010 and 020–029.
_SHORT_AREA = re.compile(r"^0(10|2\d)")
_SEPARATORS = re.compile(r"[\s\-()（）—–.]")


def _fail(key: str, **kw: Any) -> ValidationError:
    return ValidationError(t(f"phone.{key}", **kw), field="phone")


def fold_width(text: str) -> str:
    """Full-width digits, letters and punctuation as their ASCII forms (Unicode NFKC): what a Chinese input
    method types (``１３８``, ``（0575）``, ``＋86``) reads as what it means. For any text a number is typed in."""
    return unicodedata.normalize("NFKC", text)


def normalize_phone(raw: str | None, *, area_code: str = LOCAL_AREA_CODE) -> str:
    """Return the canonical form of a phone number, or raise :class:`ValidationError` saying what is wrong."""
    text = fold_width(raw or "").strip()
    if not text:
        raise _fail("empty")
    compact = _SEPARATORS.sub("", text)
    plus = compact.startswith("+")
    if plus:
        compact = compact[1:]
    bad = next((ch for ch in compact if not ch.isascii() or not ch.isdigit()), None)
    if bad is not None:
        shown = bad if bad.isprintable() else f"U+{ord(bad):04X}"
        raise _fail("bad_char", char=shown)
    digits = compact
    international = plus or digits.startswith("0086")
    if plus and not digits.startswith("86"):
        raise _fail("foreign")
    if digits.startswith("0086"):
        digits = digits[2:]
    if international:
        digits = digits[2:]  # drop the country code 86
        if not digits.startswith("1"):
            digits = "0" + digits.lstrip("0")  # +86 575 8301 2345 is 0575-83012345
    elif len(digits) == 13 and digits.startswith("861"):
        digits = digits[2:]
    if digits.startswith("1"):
        if len(digits) != 11:
            raise _fail("mobile_length", length=len(digits))
        if digits[1] not in "3456789":
            raise _fail("mobile_prefix", prefix=digits[:2])
        return digits
    if digits.startswith("0"):
        area_len = 3 if _SHORT_AREA.match(digits) else 4
        area, number = digits[:area_len], digits[area_len:]
        if len(number) not in (7, 8):
            raise _fail("landline_length", area=area, length=len(number))
        if number[0] in "01":
            raise _fail("landline_start", area=area)
        return f"{area}-{number}"
    if len(digits) in (7, 8):
        if digits[0] in "01":
            raise _fail("landline_start", area=area_code)
        return f"{area_code}-{digits}"
    if len(digits) < 7:
        raise _fail("too_short", length=len(digits))
    raise _fail("unknown_shape", length=len(digits))


def show_no_number(phone: str) -> str:
    """A call taken without a number (withheld, or on paper) is stored with an empty phone and shown as 无号码."""
    return phone or t("phone.none")


def mask_phone(phone: str) -> str:
    """Hide the middle digits: ``138****5678``, ``0575-****2345`` (无号码 for a call without one)."""
    if not phone:
        return show_no_number(phone)
    if "-" in phone:
        area, number = phone.split("-", 1)
        return f"{area}-{'*' * max(len(number) - 4, 0)}{number[-4:]}"
    if len(phone) >= 7:
        return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"
    return "*" * len(phone)
