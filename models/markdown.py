"""Caller and desk text inside Markdown (DingTalk messages, ``report --format md``): shown literally.

Every character Markdown gives a meaning inline is backslash-escaped (CommonMark allows it before any ASCII
punctuation), so ``[x](http://…)`` is no link, ``![](…)`` no remote image, ``**x**`` no bold, ``<b>`` no
HTML; bare URLs are broken up (``http\\://``, ``www\\.``) so no renderer autolinks them either. Control
characters are made visible first (:func:`fengqiao.models.text.visible`).
"""

from __future__ import annotations

import re

from .text import visible

_SPECIAL = re.compile(r"([\\`*_\[\]()#!<>|~{}$=^\"'])")
_AUTOLINK = re.compile(r"(?i)(\w):(?=//)|\b(www)\.")


def md_escape(text: str, *, single_line: bool = True) -> str:
    out = _SPECIAL.sub(r"\\\1", visible(text, single_line=single_line))
    out = _AUTOLINK.sub(lambda m: f"{m.group(1)}\\:" if m.group(1) else f"{m.group(2)}\\.", out)
    return out.replace("&", "&amp;")
