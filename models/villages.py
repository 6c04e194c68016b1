"""Villages (村), urban communities (社区), their grids (网格) and the social organisations that take part.

Reference data like the tags: four optional CSV files of the reference-data folder (docs/reference-data.md),
validated on load with one line naming the file, the line and the bad value.

* ``villages.csv``  ``code,town,name_zh,name_en,kind,mediator,mediator_phone`` — every village or community has
  its people's mediation committee (人民调解委员会; the head and a phone);
* ``grids.csv``  ``code,village,name_zh,name_en,area,worker,phone`` — the grid areas of a village, each with its
  grid worker (网格员); ``area`` lists words of addresses in the grid, separated by ``|``;
* ``organisations.csv``  ``code,name_zh,name_en,kind,contact,phone,serves`` — safety-minded social organisations
  (volunteer patrols, mediation studios, rescue teams); ``serves`` lists town or village codes (``|``) or ``*``;
* ``grassroots_routing.csv``  ``tag,town,village,primary,inform`` — which tags go to the grassroots (see
  :func:`fengqiao.models.routing.grassroots_route`).

A folder without these files has no villages and routes as before. Pure: no I/O beyond reading the files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ReferenceDataError

KINDS = ("village", "community")
INFORM = ("ZZ",)
_CODE = re.compile(r"[A-Za-z0-9_-]{1,24}")
_PHONE = re.compile(r"[0-9+() -]{5,20}")


@dataclass(frozen=True)
class Village:
    code: str  # HZ-QY
    town: str  # HZ
    name_zh: str  # 前岩村
    name_en: str  # Qianyan Village
    kind: str  # village | community
    mediator: str  # the head of its people's mediation committee
    mediator_phone: str
    grids: tuple[str, ...] = ()  # its grid codes, in file order (filled in on load)

    @property
    def mediation_zh(self) -> str:
        return f"{self.name_zh}人民调解委员会"

    @property
    def mediation_en(self) -> str:
        return f"{self.name_en} Mediation Committee"


@dataclass(frozen=True)
class Grid:
    code: str  # HZ-QY-1
    village: str
    name_zh: str  # 前岩村第一网格
    name_en: str  # Qianyan Grid 1
    area: tuple[str, ...]  # words of addresses in it: 上宅, 祠堂
    worker: str  # the grid worker (网格员)
    phone: str


@dataclass(frozen=True)
class Organisation:
    code: str  # HZ-PA
    name_zh: str
    name_en: str
    kind: str  # patrol | volunteer | mediation | rescue | ...
    contact: str
    phone: str
    serves: tuple[str, ...]  # town codes, village codes, or "*" (the whole county)

    def serves_call(self, town: str, village: str | None) -> bool:
        return "*" in self.serves or town in self.serves or (village is not None and village in self.serves)


@dataclass(frozen=True)
class GrassrootsRule:
    line: int  # in grassroots_routing.csv
    tag: str
    town: str  # a town code or "*"
    village: str  # a village code, "village", "community", "*" (any), or "" (with or without a village)
    primary: str  # TJ | WG | SO-<organisation>
    inform: str  # ZZ (the township centre is told) or ""

    @property
    def key(self) -> str:
        """A short name of the rule, kept in the dispatch event: ``B04/*/*→TJ``."""
        return f"{self.tag}/{self.town}/{self.village or '-'}→{self.primary}"

    def rank(self) -> tuple[int, int, int]:
        """Higher is more specific: a village's own row, then a town's rows, then a kind before * before empty."""
        exact = self.village not in ("", "*", *KINDS)
        level = 3 if exact else 2 if self.village in KINDS else 1 if self.village == "*" else 0
        return (int(exact), int(self.town != "*"), level)

    def applies(self, town: str, village: Village | None) -> bool:
        if self.town not in ("*", town):
            return False
        if self.village == "":
            return True
        if village is None:
            return False
        return self.village == "*" or self.village in (village.kind, village.code)


@dataclass(frozen=True)
class Grassroots:
    villages: dict[str, Village]
    grids: dict[str, Grid]
    organisations: dict[str, Organisation]
    rules: tuple[GrassrootsRule, ...]


def _fail(path: Path, line: int, code: str, problem: str) -> ReferenceDataError:
    where = f"{path.name} line {line}" + (f" ({code})" if code else "")
    return ReferenceDataError(f"{where}: {problem}")


def _code(path: Path, line: int, code: str, seen: dict[str, int]) -> None:
    if not code:
        raise ReferenceDataError(f"{path.name} line {line}: empty code")
    if not _CODE.fullmatch(code):
        raise _fail(path, line, "", f"bad code {code!r} (letters, digits, - and _, at most 24)")
    if code in seen:
        raise ReferenceDataError(f"{path.name} line {line}: duplicate code {code} (first on line {seen[code]})")
    seen[code] = line


def _need(path: Path, line: int, code: str, row: Mapping[str, str], *columns: str) -> None:
    for column in columns:
        if not row[column]:
            raise _fail(path, line, code, f"{column} is empty")


def _phone(path: Path, line: int, code: str, column: str, value: str) -> None:
    if not _PHONE.fullmatch(value):
        raise _fail(path, line, code, f"{column} is not a phone number: {value!r}")


def load_grassroots(base: Path, towns: Mapping[str, object], tags: Mapping[str, object]) -> Grassroots:
    """Read and check the four optional files of ``base`` against the towns and tags already loaded."""
    from .reference import _rows  # the same CSV reading (missing columns, UTF-8) as the other files

    villages: dict[str, Village] = {}
    names: dict[tuple[str, str], int] = {}
    path = base / "villages.csv"
    if path.exists():
        seen: dict[str, int] = {}
        for line, row in _rows(path, ("code", "town", "name_zh", "name_en", "kind", "mediator", "mediator_phone")):
            code = row["code"]
            _code(path, line, code, seen)
            if row["town"] not in towns:
                raise _fail(path, line, code, f"unknown town {row['town']!r}")
            _need(path, line, code, row, "name_zh", "name_en", "mediator", "mediator_phone")
            if row["kind"] not in KINDS:
                raise _fail(path, line, code, f"kind must be village or community, got {row['kind']!r}")
            _phone(path, line, code, "mediator_phone", row["mediator_phone"])
            same = (row["town"], row["name_zh"])
            if same in names:
                raise _fail(
                    path,
                    line,
                    code,
                    f"duplicate name {row['name_zh']} in town {row['town']} (first on line {names[same]})",
                )
            names[same] = line
            villages[code] = Village(
                code, row["town"], row["name_zh"], row["name_en"], row["kind"], row["mediator"], row["mediator_phone"]
            )

    grids: dict[str, Grid] = {}
    path = base / "grids.csv"
    if path.exists():
        seen = {}
        for line, row in _rows(path, ("code", "village", "name_zh", "name_en", "area", "worker", "phone")):
            code = row["code"]
            _code(path, line, code, seen)
            if row["village"] not in villages:
                raise _fail(path, line, code, f"grid of unknown village {row['village']!r}")
            _need(path, line, code, row, "name_zh", "name_en", "worker", "phone")
            _phone(path, line, code, "phone", row["phone"])
            area = tuple(w.strip() for w in row["area"].split("|") if w.strip())
            grids[code] = Grid(code, row["village"], row["name_zh"], row["name_en"], area, row["worker"], row["phone"])
        from dataclasses import replace

        for code, village in villages.items():
            villages[code] = replace(village, grids=tuple(g.code for g in grids.values() if g.village == code))

    organisations: dict[str, Organisation] = {}
    path = base / "organisations.csv"
    if path.exists():
        seen = {}
        for line, row in _rows(path, ("code", "name_zh", "name_en", "kind", "contact", "phone", "serves")):
            code = row["code"]
            _code(path, line, code, seen)
            _need(path, line, code, row, "name_zh", "name_en", "kind", "contact", "phone", "serves")
            _phone(path, line, code, "phone", row["phone"])
            serves = tuple(s.strip() for s in row["serves"].split("|") if s.strip())
            for where in serves:
                if where != "*" and where not in towns and where not in villages:
                    raise _fail(path, line, code, f"serves unknown town or village {where!r}")
            organisations[code] = Organisation(
                code, row["name_zh"], row["name_en"], row["kind"], row["contact"], row["phone"], serves
            )

    rules: list[GrassrootsRule] = []
    path = base / "grassroots_routing.csv"
    if path.exists():
        first: dict[tuple[str, str, str], int] = {}
        for line, row in _rows(path, ("tag", "town", "village", "primary", "inform")):
            tag, town, column, primary, inform = (row[c] for c in ("tag", "town", "village", "primary", "inform"))
            label = f"{tag}/{town}/{column or '-'}"
            if tag not in tags:
                raise _fail(path, line, label, f"unknown tag {tag!r}")
            if town != "*" and town not in towns:
                raise _fail(path, line, label, f"unknown town {town!r}")
            if column not in ("", "*", *KINDS):
                if column not in villages:
                    raise _fail(path, line, label, f"unknown village {column!r}")
                if town != villages[column].town:
                    raise _fail(path, line, label, f"village {column} is in town {villages[column].town}, not {town}")
            if primary in ("TJ", "WG"):
                if not column:
                    raise _fail(path, line, label, f"primary {primary} needs a village (the village column is empty)")
            elif primary.startswith("SO-"):
                org = organisations.get(primary[3:])
                if org is None:
                    raise _fail(path, line, label, f"unknown organisation {primary[3:]!r}")
                if town != "*" and not (
                    "*" in org.serves
                    or town in org.serves
                    or any(villages[v].town == town for v in org.serves if v in villages)
                ):
                    raise _fail(path, line, label, f"organisation {org.code} does not serve town {town}")
            else:
                raise _fail(path, line, label, f"primary must be TJ, WG or SO-<organisation>, got {primary!r}")
            if inform not in ("", *INFORM):
                raise _fail(path, line, label, f"inform must be ZZ or empty, got {inform!r}")
            if (tag, town, column) in first:
                raise _fail(path, line, label, f"duplicate rule (first on line {first[(tag, town, column)]})")
            first[(tag, town, column)] = line
            rules.append(GrassrootsRule(line, tag, town, column, primary, inform))
    return Grassroots(villages, grids, organisations, tuple(rules))


def village_in(villages: Mapping[str, Village], town: str, address: str) -> Village | None:
    """The village or community of ``town`` whose full name (前岩村, 鹿山社区) the address contains; the longest
    name when several do (前岩新村 before 前岩村); None when none does."""
    text = address.strip()
    if not text:
        return None
    found = [v for v in villages.values() if v.town == town and v.name_zh in text]
    return max(found, key=lambda v: len(v.name_zh)) if found else None


def grid_for(villages: Mapping[str, Village], grids: Mapping[str, Grid], village: str, address: str) -> Grid | None:
    """The grid of ``village`` for ``address``: the first grid (file order) one of whose area words the address
    contains, else the village's first grid; None when the village has no grids."""
    codes = villages[village].grids if village in villages else ()
    for code in codes:
        if any(word in address for word in grids[code].area):
            return grids[code]
    return grids[codes[0]] if codes else None
