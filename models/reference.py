"""The product's reference data: categories, tags, departments (with the one-team pilot set) and towns.

Loaded from the CSV files of a reference-data folder and validated on load. Any fault names the file, the line
and the code so the person editing the file can fix it. The shipped folder is ``fixtures/`` (4 categories,
75 tags, 30 departments, 21 towns); another county points ``--reference DIR`` or ``$FENGQIAO_REFERENCE`` at
its own folder, and :func:`default_reference` returns that one instead (see docs/reference-data.md).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ReferenceDataError

if TYPE_CHECKING:
    from .villages import Grassroots, GrassrootsRule, Grid, Organisation, Village

REFERENCE_ENV = "FENGQIAO_REFERENCE"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"  # the shipped reference data (fengqiao/fixtures)
BY_LOCATION = ("ZZ", "GA")  # resolved by the call's town
DISPATCH_MODES = ("single", "dual")


@dataclass(frozen=True)
class Category:
    """One of the four categories of linked incidents (A–D)."""

    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Department:
    """A county department or bureau that takes orders."""

    code: str
    name_zh: str
    name_en: str
    kind: str
    routing: str  # county | by_location
    one_team: bool = False  # in a one-team pilot town its orders go to the town's governance centre


@dataclass(frozen=True)
class Town:
    """A township or subdistrict: its police station, and whether it pilots a unified enforcement team."""

    code: str
    name_zh: str
    name_en: str
    kind: str
    police_station_zh: str
    one_team_pilot: bool
    station_code: str = ""  # filled in on load: GA-<code of the first town served by the station>


@dataclass(frozen=True)
class Station:
    """A police station (派出所)."""

    code: str  # e.g. GA-GLL
    name_zh: str
    name_en: str
    towns: tuple[str, ...]


@dataclass(frozen=True)
class Tag:
    """One of the 75 linked-incident tags: its category, owning department, dispatch mode, deadlines and keywords."""

    code: str
    category: str
    name_zh: str
    name_en: str
    department: str
    dispatch: str  # single | dual
    onsite: bool
    sign_min: int
    arrive_min: int | None
    feedback_h: int
    keywords: tuple[str, ...] = field(default=())
    photo: bool = False  # feedback must carry at least one photo (the phone page asks for it)


@dataclass(frozen=True)
class Reference:
    """The reference data the console works against: categories, tags, departments, towns, stations, directory."""

    categories: dict[str, Category]
    tags: dict[str, Tag]
    departments: dict[str, Department]
    towns: dict[str, Town]
    stations: dict[str, Station]
    directory: Path | None = None  # where it was loaded from
    # villages, communities, grids, social organisations and the grassroots routing rules (models/villages.py);
    # None: read from ``directory`` when first used (the shipped data: the console's first frame needs none of it)
    loaded_grassroots: Grassroots | None = field(default=None, repr=False)

    @cached_property
    def grassroots(self) -> Grassroots:
        if self.loaded_grassroots is not None:
            return self.loaded_grassroots
        from .villages import Grassroots, load_grassroots

        if self.directory is None:
            return Grassroots({}, {}, {}, ())
        return load_grassroots(self.directory, self.towns, self.tags)

    @property
    def villages(self) -> dict[str, Village]:
        return self.grassroots.villages

    @property
    def grids(self) -> dict[str, Grid]:
        return self.grassroots.grids

    @property
    def organisations(self) -> dict[str, Organisation]:
        return self.grassroots.organisations

    @property
    def grassroots_rules(self) -> tuple[GrassrootsRule, ...]:
        return self.grassroots.rules

    def assignee_known(self, code: str) -> bool:
        """Whether ``code`` names an assignee: a department, a station, ``ZZ-<town>``, ``TJ-<village>`` (its
        mediation committee), ``WG-<grid>`` (its grid worker) or ``SO-<organisation>``."""
        if code in self.departments or code in self.stations:
            return True
        prefix, rest = code[:3], code[3:]
        return (
            (prefix == "ZZ-" and rest in self.towns)
            or (prefix == "TJ-" and rest in self.villages)
            or (prefix == "WG-" and rest in self.grids)
            or (prefix == "SO-" and rest in self.organisations)
        )

    def town_villages(self, town: str) -> list[Village]:
        """The villages and communities of ``town``, in file order."""
        return [v for v in self.villages.values() if v.town == town]

    @property
    def one_team_depts(self) -> frozenset[str]:
        """The departments whose enforcement sits with a pilot town's unified team (一支队伍管执法)."""
        return frozenset(d.code for d in self.departments.values() if d.one_team)

    def tag_ranges(self) -> str:
        """The tag codes per category as ranges, e.g. ``A01–A18、B01–B22`` (computed from the loaded tags)."""
        from .i18n import t

        dash, sep = t("error.tag_range_dash"), t("error.tag_list_sep")
        parts: list[str] = []
        for cat in self.categories:
            parts.extend(_runs(sorted(tag.code for tag in self.tags_in(cat)), dash))
        return sep.join(parts)

    def tag(self, code: str) -> Tag:
        found = (self.tags.get(code) if isinstance(code, str) else None) or self.tags.get(code.strip().upper())
        if found is None:
            from .errors import ValidationError
            from .i18n import t

            raise ValidationError(t("error.unknown_tag_of", code=code, ranges=self.tag_ranges()), field="tag")
        return found

    def town(self, code: str) -> Town:
        found = (self.towns.get(code) if isinstance(code, str) else None) or self.towns.get(code.strip().upper())
        if found is not None:
            return found
        for town in self.towns.values():  # a Chinese or English name is fine too
            if code.strip() in (town.name_zh, town.name_en):
                return town
        from .errors import ValidationError
        from .i18n import t

        raise ValidationError(t("error.unknown_town", code=code), field="town")

    def department(self, code: str) -> Department:
        found = (self.departments.get(code) if isinstance(code, str) else None) or self.departments.get(
            code.strip().upper()
        )
        if found is None:
            from .errors import ValidationError
            from .i18n import t

            raise ValidationError(t("error.unknown_dept", code=code), field="dept")
        return found

    def tags_in(self, category: str) -> list[Tag]:
        return [tag for tag in self.tags.values() if tag.category == category]


def _runs(codes: list[str], dash: str) -> list[str]:
    """Consecutive codes (same prefix and width, numbers one apart) as ``first–last``; others on their own."""
    out: list[str] = []
    run: list[str] = []

    def key(code: str) -> tuple[str, int, int] | None:
        m = re.fullmatch(r"(.*?)(\d+)", code)
        return (m.group(1), len(m.group(2)), int(m.group(2))) if m else None

    def close() -> None:
        if run:
            out.append(run[0] if len(run) == 1 else f"{run[0]}{dash}{run[-1]}")
            run.clear()

    for code in sorted(codes, key=lambda c: (key(c) or (c, 0, 0), c)):
        prev = key(run[-1]) if run else None
        cur = key(code)
        if not (prev and cur and prev[:2] == cur[:2] and cur[2] == prev[2] + 1):
            close()
        run.append(code)
    close()
    return out


def _rows(path: Path, required: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [col for col in required if col not in (reader.fieldnames or [])]
            if missing:
                raise ReferenceDataError(f"{path.name}: missing column(s) {', '.join(missing)}")
            return [(i, {k: (v or "").strip() for k, v in row.items() if k}) for i, row in enumerate(reader, start=2)]
    except FileNotFoundError:
        raise ReferenceDataError(f"{path.name}: file not found at {path}") from None
    except UnicodeDecodeError as exc:
        raise ReferenceDataError(f"{path.name}: not UTF-8 text ({exc.reason})") from None


def _int(path: Path, line: int, code: str, column: str, value: str, *, optional: bool = False) -> int | None:
    if value == "" and optional:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ReferenceDataError(
            f"{path.name} line {line} ({code}): {column} must be a whole number, got {value!r}"
        ) from None
    if number <= 0:
        raise ReferenceDataError(f"{path.name} line {line} ({code}): {column} must be positive, got {number}")
    return number


def _unique(path: Path, line: int, code: str, seen: dict[str, int]) -> None:
    if not code:
        raise ReferenceDataError(f"{path.name} line {line}: empty code")
    if code in seen:
        raise ReferenceDataError(f"{path.name} line {line}: duplicate code {code} (first on line {seen[code]})")
    seen[code] = line


def load_reference(directory: Path | str | None = None, *, grassroots_later: bool = False) -> Reference:
    """Load and validate the four CSV files from ``directory`` (default: the packaged ``fixtures/``), and the
    grassroots files (villages, grids, organisations, their routing) now or, ``grassroots_later``, when first
    used."""
    base = Path(directory) if directory is not None else FIXTURES

    path = base / "categories.csv"
    categories: dict[str, Category] = {}
    seen: dict[str, int] = {}
    for line, row in _rows(path, ("code", "name_zh", "name_en")):
        _unique(path, line, row["code"], seen)
        categories[row["code"]] = Category(row["code"], row["name_zh"], row["name_en"])

    path = base / "departments.csv"
    departments: dict[str, Department] = {}
    seen = {}
    for line, row in _rows(path, ("code", "name_zh", "name_en", "kind", "routing", "one_team")):
        _unique(path, line, row["code"], seen)
        if row["routing"] not in ("county", "by_location"):
            raise ReferenceDataError(
                f"{path.name} line {line} ({row['code']}): routing must be county or by_location, got {row['routing']!r}"
            )
        if not row["name_zh"] or not row["name_en"]:
            raise ReferenceDataError(f"{path.name} line {line} ({row['code']}): name_zh and name_en are both required")
        if row["one_team"] not in ("0", "1"):
            raise ReferenceDataError(
                f"{path.name} line {line} ({row['code']}): one_team must be 0 or 1, got {row['one_team']!r}"
            )
        one_team = row["one_team"] == "1"
        if one_team and row["routing"] != "county":
            raise ReferenceDataError(
                f"{path.name} line {line} ({row['code']}): one_team applies to county departments only (routing is {row['routing']})"
            )
        departments[row["code"]] = Department(
            row["code"], row["name_zh"], row["name_en"], row["kind"], row["routing"], one_team
        )
    for code in BY_LOCATION:
        if code not in departments:
            raise ReferenceDataError(f"{path.name}: department {code} is required (resolved by the call's town)")
        if departments[code].routing != "by_location":
            raise ReferenceDataError(
                f"{path.name} line {seen[code]} ({code}): routing must be by_location (resolved by the call's town)"
            )

    path = base / "towns.csv"
    towns: dict[str, Town] = {}
    seen = {}
    station_towns: dict[str, list[str]] = {}
    for line, row in _rows(path, ("code", "name_zh", "name_en", "kind", "police_station_zh", "one_team_pilot")):
        _unique(path, line, row["code"], seen)
        if row["one_team_pilot"] not in ("yes", "no"):
            raise ReferenceDataError(
                f"{path.name} line {line} ({row['code']}): one_team_pilot must be yes or no, got {row['one_team_pilot']!r}"
            )
        if not row["police_station_zh"]:
            raise ReferenceDataError(f"{path.name} line {line} ({row['code']}): police_station_zh is empty")
        station_towns.setdefault(row["police_station_zh"], []).append(row["code"])
        towns[row["code"]] = Town(
            row["code"],
            row["name_zh"],
            row["name_en"],
            row["kind"],
            row["police_station_zh"],
            row["one_team_pilot"] == "yes",
        )
    stations: dict[str, Station] = {}
    for station_zh, served in station_towns.items():
        # A station is named after the town it sits in; it takes that town's code when one matches.
        home = next((c for c in served if station_zh.startswith(towns[c].name_zh[:2])), served[0])
        code = f"GA-{home}"
        stations[code] = Station(code, station_zh, f"{towns[home].name_en.split()[0]} Police Station", tuple(served))
        for town_code in served:
            towns[town_code] = _with_station(towns[town_code], code)

    path = base / "taxonomy.csv"
    tags: dict[str, Tag] = {}
    seen = {}
    columns = (
        "code",
        "category",
        "name_zh",
        "name_en",
        "department",
        "dispatch",
        "onsite",
        "sign_min",
        "arrive_min",
        "feedback_h",
        "keywords",
    )
    for line, row in _rows(path, columns):
        code = row["code"]
        _unique(path, line, code, seen)
        if row["category"] not in categories:
            raise ReferenceDataError(f"{path.name} line {line} ({code}): unknown category {row['category']!r}")
        if not code.startswith(row["category"]):
            raise ReferenceDataError(
                f"{path.name} line {line} ({code}): code does not start with its category {row['category']}"
            )
        if row["department"] not in departments:
            raise ReferenceDataError(f"{path.name} line {line} ({code}): unknown department {row['department']!r}")
        if row["department"] == "GA":
            raise ReferenceDataError(
                f"{path.name} line {line} ({code}): a linked incident cannot be owned by the police (GA)"
            )
        if row["dispatch"] not in DISPATCH_MODES:
            raise ReferenceDataError(
                f"{path.name} line {line} ({code}): dispatch must be single or dual, got {row['dispatch']!r}"
            )
        if row["onsite"] not in ("yes", "no"):
            raise ReferenceDataError(
                f"{path.name} line {line} ({code}): onsite must be yes or no, got {row['onsite']!r}"
            )
        if not row["name_zh"] or not row["name_en"]:
            raise ReferenceDataError(f"{path.name} line {line} ({code}): name_zh and name_en are both required")
        onsite = row["onsite"] == "yes"
        sign = _int(path, line, code, "sign_min", row["sign_min"])
        arrive = _int(path, line, code, "arrive_min", row["arrive_min"], optional=not onsite)
        if not onsite and arrive is not None:
            raise ReferenceDataError(f"{path.name} line {line} ({code}): arrive_min must be empty when onsite is no")
        feedback = _int(path, line, code, "feedback_h", row["feedback_h"])
        assert sign is not None and feedback is not None
        if arrive is not None and arrive <= sign:
            raise ReferenceDataError(
                f"{path.name} line {line} ({code}): arrive_min ({arrive}) must be later than sign_min ({sign})"
            )
        keywords = tuple(k.strip() for k in row["keywords"].split("|") if k.strip())
        photo = row.get("photo", "") or "no"  # an optional column: older reference folders have none
        if photo not in ("yes", "no"):
            raise ReferenceDataError(f"{path.name} line {line} ({code}): photo must be yes or no, got {photo!r}")
        tags[code] = Tag(
            code,
            row["category"],
            row["name_zh"],
            row["name_en"],
            row["department"],
            row["dispatch"],
            onsite,
            sign,
            arrive,
            feedback,
            keywords,
            photo == "yes",
        )
    if not tags:
        raise ReferenceDataError(f"{path.name}: no tags")
    for cat in categories:
        if not any(tag.category == cat for tag in tags.values()):
            raise ReferenceDataError(f"{path.name}: category {cat} has no tags")
    if grassroots_later:
        return Reference(categories, tags, departments, towns, stations, base)
    from .villages import load_grassroots

    return Reference(categories, tags, departments, towns, stations, base, load_grassroots(base, towns, tags))


def _with_station(town: Town, code: str) -> Town:
    from dataclasses import replace

    return replace(town, station_code=code)


_chosen_dir: Path | None = None  # set by --reference (set_reference_dir); wins over $FENGQIAO_REFERENCE


def set_reference_dir(directory: Path | str | None) -> None:
    """Make ``directory`` the reference data of this process (None: back to $FENGQIAO_REFERENCE or the shipped)."""
    global _chosen_dir
    _chosen_dir = Path(directory) if directory not in (None, "") else None


def reference_dir() -> Path | None:
    """The chosen reference-data folder: --reference, else $FENGQIAO_REFERENCE, else None (the shipped fixtures)."""
    if _chosen_dir is not None:
        return _chosen_dir
    env = os.environ.get(REFERENCE_ENV, "").strip()
    return Path(env) if env else None


@cache
def shipped_reference() -> Reference:
    """The packaged reference data, loaded once per process (its villages and grids when first used: checked by
    the tests, they need no checking at start)."""
    return load_reference(grassroots_later=True)


@cache
def _reference_at(directory: str) -> Reference:
    return load_reference(directory)


def default_reference() -> Reference:
    """The reference data this process uses: the chosen folder (loaded once per folder), else the shipped one."""
    chosen = reference_dir()
    if chosen is None:
        return shipped_reference()
    return _reference_at(str(chosen.expanduser().resolve()))
