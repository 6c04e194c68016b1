"""Pinyin readings of the reference data's Chinese names, from a table shipped with them (fixtures/readings.tsv).

:func:`readings` gives every full-pinyin reading of a name and its initials (``黄泽镇`` → ``huangzezhen``,
``hzz``; a character with several readings gives each combination: 剡 is shan or yan). Working them out takes
pypinyin, whose dictionaries cost about 0.2 s to import, only to read the same fixed town, tag, department and
village names on every start; so the readings of the shipped names are worked out once, by
``python -m fengqiao.models.readings`` (which rewrites the table), and read from the table. A name not in it (a
``--reference`` folder of one's own, a label made up at run time) is read by pypinyin, imported then.

A test regenerates the table and compares it with the shipped file, so the two cannot drift apart.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from .reference import Reference, load_reference

MAX_READINGS = 8  # heteronym combinations kept per name
TABLE = "readings.tsv"
HEADER = "# name\tfull pinyin readings (comma-separated)\tinitials (comma-separated); made by python -m fengqiao.models.readings"

Readings = tuple[tuple[str, ...], tuple[str, ...]]
_table: dict[str, Readings] | None = None


def compute(text: str) -> Readings:
    """Full pinyin and initials of ``text`` by pypinyin, for each combination of a character's readings (a few at
    most); characters that are not Chinese stand for themselves, in lower case."""
    from pypinyin import Style, pinyin

    syllables = pinyin(text, style=Style.NORMAL, heteronym=True, errors=lambda s: list(s.lower()))  # type: ignore[arg-type,return-value]  # pypinyin accepts a list
    options = [tuple(dict.fromkeys(s)) or ("",) for s in syllables]
    combos = list(itertools.islice(itertools.product(*options), MAX_READINGS))
    full = tuple(dict.fromkeys("".join(c) for c in combos))
    initials = tuple(dict.fromkeys("".join(p[:1] for p in c) for c in combos))
    return full, initials


def table_path() -> Path:
    return Path(str(resources.files("fengqiao.fixtures"))) / TABLE


def parse(text: str) -> dict[str, Readings]:
    out: dict[str, Readings] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, full, initials = line.split("\t")
        out[name] = (tuple(full.split(",")), tuple(initials.split(",")))
    return out


def table() -> dict[str, Readings]:
    """The shipped table (read once; empty if the file is missing, then every name is read by pypinyin)."""
    global _table
    if _table is None:
        try:
            _table = parse(table_path().read_text(encoding="utf-8"))
        except OSError:
            _table = {}
    return _table


def readings(text: str) -> Readings:
    """Full pinyin readings and initials of ``text``: from the shipped table, else worked out by pypinyin."""
    hit = table().get(text)
    return hit if hit is not None else compute(text)


def _storable(name: str, got: Readings) -> bool:
    """Whether a name and its readings fit a line of the table (no tab, comma or line break in them)."""
    parts = (name, *got[0], *got[1])
    return bool(name) and not any(c in p for p in parts for c in "\t,\r\n") and not name.startswith("#")


def shipped_names(ref: Reference) -> list[str]:
    """Every Chinese name the finders read from ``ref``: towns, tags, departments, villages and communities (also
    without their 村/社区 ending), categories, police stations, grids and social organisations."""
    names: set[str] = set()
    names.update(t.name_zh for t in ref.towns.values())
    names.update(t.name_zh for t in ref.tags.values())
    names.update(d.name_zh for d in ref.departments.values())
    names.update(c.name_zh for c in ref.categories.values())
    names.update(s.name_zh for s in ref.stations.values())
    names.update(g.name_zh for g in ref.grids.values())
    names.update(o.name_zh for o in ref.organisations.values())
    for v in ref.villages.values():
        names.add(v.name_zh)
        names.add(v.name_zh.removesuffix("社区").removesuffix("村") or v.name_zh)
    return sorted(n for n in names if n)


def render(names: Iterable[str]) -> str:
    """The table's text for ``names`` (worked out by pypinyin; names that do not fit a line are left out)."""
    lines = [HEADER]
    for name in sorted(set(names)):
        got = compute(name)
        if _storable(name, got):
            lines.append(f"{name}\t{','.join(got[0])}\t{','.join(got[1])}")
    return "\n".join(lines) + "\n"


def shipped_table_text() -> str:
    """What fixtures/readings.tsv should hold for the shipped reference data."""
    shipped = Path(str(resources.files("fengqiao.fixtures")))
    return render(shipped_names(load_reference(shipped)))


def main(argv: list[str] | None = None) -> int:
    """``python -m fengqiao.models.readings [--check]``: rewrite the shipped table (or say whether it is current)."""
    args = sys.argv[1:] if argv is None else argv
    text = shipped_table_text()
    path = table_path()
    if "--check" in args:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        print(f"{path}: {'current' if current == text else 'OUT OF DATE'}")
        return 0 if current == text else 1
    path.write_text(text, encoding="utf-8")
    print(f"{path}: {text.count(chr(10)) - 1} names")
    return 0


if __name__ == "__main__":
    sys.exit(main())
