"""Routing rules: which desk gets an order. Pure functions over the reference data.

* A tag's owner department gets the order (a county bureau or company).
* ``ZZ`` (township governance centre) and ``GA`` (police station) resolve by the call's town.
* In a one-team pilot town (``one_team_pilot`` in towns.csv, 黄泽镇 in the shipped data), tags owned by the
  enforcement departments in residence there (``one_team`` = 1 in departments.csv) go to that town's
  governance centre instead of the county bureau (一支队伍管执法).
* Dual dispatch (一警双派) adds the town's police station as a second assignee.

* Grassroots routing (``grassroots_routing.csv``, models/villages.py): per tag and town or village, an order goes
  to the village's people's mediation committee (``TJ``), the grid worker of the call's grid (``WG``) or a social
  organisation (``SO-<code>``) instead of the tag's department, optionally with the township centre informed
  (``inform`` ZZ). The most specific matching row wins (:func:`grassroots_route`); it comes before the one-team
  rule. A dual order keeps the town's police station as its second assignee, so a dual tag routed to a grid
  worker pairs the station with the grid worker.

Assignee codes: a county department's own code (``SCJG``), ``ZZ-<town>`` for a township centre and
``GA-<town>`` for a police station (named after the town the station sits in, which may serve several);
``TJ-<village>`` a village's or community's mediation committee, ``WG-<grid>`` a grid's worker and
``SO-<organisation>`` a social organisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ValidationError
from .grassroots import GRASSROOTS, GRASSROOTS_PREFIXES
from .i18n import get_lang, t
from .reference import Reference, Tag, Town

if TYPE_CHECKING:  # the villages' module loads with their data (Reference.villages), not with routing
    from .villages import GrassrootsRule, Village


@dataclass(frozen=True)
class Assignee:
    """A unit an order goes to (its code, department, town and names), and in what role."""

    code: str  # SCJG | ZZ-HZ | GA-HZ
    dept: str  # SCJG | ZZ | GA
    town: str | None  # the town for ZZ/GA assignees
    name_zh: str
    name_en: str
    role: str  # primary (the lead unit, 主办) | police | co (a co-handling unit, 协办) | informed


@dataclass(frozen=True)
class Route:
    """Where a tag's order goes in a town: single or dual, the primary unit, the police, the co-handling and
    informed units, and the grassroots rule that chose them."""

    tag: str
    town: str
    mode: str  # single | dual
    primary: Assignee
    police: Assignee | None
    one_team: bool  # redirected to a pilot town's unified enforcement team
    overridden: bool  # the call-taker chose the department by hand
    village: str | None = None  # the call's village or community (villages.csv)
    grid: str | None = None  # ... and its grid (grids.csv)
    rule: GrassrootsRule | None = None  # the grassroots routing row that chose the primary assignee
    informed: tuple[Assignee, ...] = ()  # told of the order without an assignment (the township centre)
    co: tuple[Assignee, ...] = ()  # co-handling units (协办): each has its own assignment; they do not hold the order

    @property
    def assignees(self) -> list[Assignee]:
        return [self.primary] + ([self.police] if self.police else []) + list(self.co)


MAX_CO_UNITS = 3  # co-handling units on one order, the police station of a dual dispatch included


def co_units(ref: Reference, town: Town, codes: Sequence[str], taken: Sequence[Assignee]) -> tuple[Assignee, ...]:
    """The co-handling units (``--with``) for a call in ``town``: each a department code (or ZZ for the township
    centre, or a grassroots unit of the town), resolved like an override (no pilot redirect); not the police station
    (that is a dual dispatch), not a unit already on the order, at most :data:`MAX_CO_UNITS` with the police station
    of a dual dispatch."""
    named = [code for code in codes if code.strip()]
    out = distinct_units(
        ref, town, named, taken, role="co", field="with", police="error.co_police", twice="error.co_twice"
    )
    police = sum(1 for a in taken if a.role == "police")
    if len(out) + police > MAX_CO_UNITS:
        raise ValidationError(t("error.co_too_many", limit=MAX_CO_UNITS, asked=len(out) + police), field="with")
    return out


def distinct_units(
    ref: Reference,
    town: Town,
    codes: Sequence[str],
    taken: Sequence[Assignee] = (),
    *,
    role: str,
    field: str,
    police: str,
    twice: str,
) -> tuple[Assignee, ...]:
    """Units named by hand for a call in ``town`` (co-units, a split's children), each resolved by
    :func:`unit_assignee`. Raises ValidationError (``field``) with the message ``police``
    for the police station and ``twice`` for a unit named twice or already in ``taken``."""
    out: list[Assignee] = []
    seen = {a.code for a in taken}
    for code in codes:
        who = unit_assignee(ref, code, town, role=role, field=field)
        if who.dept == "GA":
            raise ValidationError(t(police), field=field)
        if who.code in seen:
            raise ValidationError(t(twice, unit=name_of(who), code=who.code), field=field)
        seen.add(who.code)
        out.append(who)
    return tuple(out)


def unit_assignee(ref: Reference, code: str, town: Town, *, role: str = "primary", field: str = "dept") -> Assignee:
    """The unit ``code`` names for a call in ``town``, resolved like an override (no pilot redirect): a department
    code (ZZ the town's centre, GA its police station), or a grassroots unit of the town: ``TJ-<village>`` (its
    mediation committee), ``WG-<grid>`` (a grid's worker) or ``SO-<organisation>`` (one that serves the town).
    Raises ValidationError naming the code for an unknown unit or one of another town."""
    key = code.strip().upper()
    prefix, rest = key[:3], key[3:]
    zh = get_lang() == "zh"
    here = town.name_zh if zh else town.name_en
    if prefix == "TJ-" and rest in ref.villages:
        village = ref.villages[rest]
        if village.town != town.code:
            raise ValidationError(t("error.unit_other_town", unit=key, town=here), field=field)
        return mediation(ref, village, role)
    if prefix == "WG-" and rest in ref.grids:
        if ref.villages[ref.grids[rest].village].town != town.code:
            raise ValidationError(t("error.unit_other_town", unit=key, town=here), field=field)
        return grid_worker(ref, rest, town.code, role)
    if prefix == "SO-" and rest in ref.organisations:
        if not ref.organisations[rest].serves_call(town.code, None):
            raise ValidationError(t("error.unit_other_town", unit=key, town=here), field=field)
        return organisation(ref, rest, town.code, role)
    if prefix in GRASSROOTS_PREFIXES:
        raise ValidationError(t("error.unknown_unit", code=code), field=field)
    if key not in ref.departments:
        raise ValidationError(t("error.unknown_dept", code=code), field=field)
    return department_assignee(ref, key, town, pilot=False, role=role)[0]


def name_of(who: Assignee) -> str:
    return who.name_en if get_lang() == "en" else who.name_zh


def centre(ref: Reference, town: Town, role: str = "primary") -> Assignee:
    return Assignee(
        f"ZZ-{town.code}", "ZZ", town.code, f"{town.name_zh}综治中心", f"{town.name_en} Governance Centre", role
    )


def station(ref: Reference, town: Town, role: str = "police") -> Assignee:
    st = ref.stations[town.station_code]
    return Assignee(st.code, "GA", town.code, st.name_zh, st.name_en, role)


def department_assignee(
    ref: Reference, dept_code: str, town: Town, *, pilot: bool = True, role: str = "primary"
) -> tuple[Assignee, bool]:
    """Resolve a department code for a call in ``town``; returns the assignee and whether the one-team rule fired."""
    dept = ref.department(dept_code)
    if dept.code == "ZZ":
        return centre(ref, town, role), False
    if dept.code == "GA":
        return station(ref, town, role), False
    if pilot and town.one_team_pilot and dept.one_team:
        return centre(ref, town, role), True
    return Assignee(dept.code, dept.code, None, dept.name_zh, dept.name_en, role), False


def check_village(ref: Reference, town: Town, village: str | None, grid: str | None = None) -> Village | None:
    """The village ``village`` (a code, or its name) of ``town``; None for none. Raises ValidationError for an
    unknown village, a village of another town, or a grid not of that village."""
    if village is None or not village.strip():
        if grid:
            raise ValidationError(t("grassroots.grid_needs_village", grid=grid), field="village")
        return None
    zh = get_lang() == "zh"

    def name(x: Town | Village) -> str:
        return x.name_zh if zh else x.name_en

    key = village.strip().upper()
    found = ref.villages.get(key) or next(
        (v for v in ref.town_villages(town.code) if village.strip() in (v.name_zh, v.name_en)), None
    )
    if found is None:
        raise ValidationError(t("grassroots.unknown_village", code=village, town=name(town)), field="village")
    if found.town != town.code:
        other = ref.towns[found.town]
        raise ValidationError(
            t("grassroots.village_other_town", code=found.code, name=name(found), town=name(other), chosen=name(town)),
            field="village",
        )
    if grid and grid.strip().upper() not in found.grids:
        raise ValidationError(t("grassroots.grid_not_in_village", grid=grid, village=name(found)), field="grid")
    return found


def mediation(ref: Reference, village: Village, role: str = "primary") -> Assignee:
    return Assignee(f"TJ-{village.code}", "TJ", village.town, village.mediation_zh, village.mediation_en, role)


def grid_worker(ref: Reference, grid_code: str, town: str, role: str = "primary") -> Assignee:
    g = ref.grids[grid_code]
    return Assignee(
        f"WG-{g.code}", "WG", town, f"{g.name_zh}网格员（{g.worker}）", f"{g.name_en} grid worker ({g.worker})", role
    )


def organisation(ref: Reference, code: str, town: str, role: str = "primary") -> Assignee:
    o = ref.organisations[code]
    return Assignee(f"SO-{o.code}", "SO", town, o.name_zh, o.name_en, role)


def grassroots_route(
    ref: Reference, tag: str, town: Town, village: Village | None, grid: str | None = None
) -> tuple[GrassrootsRule, Assignee] | None:
    """The grassroots rule for ``tag`` in ``town`` (and ``village``) and the assignee it names, or None.

    Rows apply by tag, town (``*`` any) and village (its code; ``village`` or ``community`` a kind; ``*`` any
    village; empty: with or without one). The most specific applicable row wins (a village's own row, then a
    town's, then a kind before ``*`` before empty; the first among equals). A row naming a grid worker skips a
    village without grids; one naming an organisation skips a town or village it does not serve."""
    best: tuple[tuple[int, int, int], GrassrootsRule, Assignee] | None = None
    for rule in ref.grassroots_rules:
        if rule.tag != tag or not rule.applies(town.code, village):
            continue
        who: Assignee | None = None
        if rule.primary == "TJ" and village is not None:
            who = mediation(ref, village)
        elif rule.primary == "WG" and village is not None:
            chosen = grid or (village.grids[0] if village.grids else None)
            who = grid_worker(ref, chosen, town.code) if chosen else None
        elif rule.primary.startswith("SO-"):
            org = ref.organisations[rule.primary[3:]]
            if org.serves_call(town.code, village.code if village else None):
                who = organisation(ref, org.code, town.code)
        if who is not None and (best is None or rule.rank() > best[0]):
            best = (rule.rank(), rule, who)
    return (best[1], best[2]) if best else None


def route(
    ref: Reference,
    tag_code: str,
    town_code: str,
    *,
    mode: str | None = None,
    override_dept: str | None = None,
    village: str | None = None,
    grid: str | None = None,
    co: Sequence[str] = (),
) -> Route:
    """Where an order for ``tag_code`` in ``town_code`` (and ``village``, its ``grid``) goes.

    ``mode`` overrides the tag's default single/dual; ``override_dept`` sends the order to another
    department chosen by the call-taker (a township code ``ZZ``/``GA`` still resolves by town; a county
    bureau chosen by hand is taken as asked, without the pilot redirect, and no grassroots rule applies).
    Without an override a grassroots rule (:func:`grassroots_route`) comes first, then the one-team rule.
    ``co``: department codes of co-handling units (:func:`co_units`).
    """
    tag: Tag = ref.tag(tag_code)
    town = ref.town(town_code)
    chosen_mode = mode or tag.dispatch
    if chosen_mode not in ("single", "dual"):
        raise ValidationError(t("error.bad_mode", mode=chosen_mode), field="mode")
    place = check_village(ref, town, village, grid)
    grid_code = grid.strip().upper() if grid and grid.strip() else None
    if place is not None and grid_code is None and place.grids:
        grid_code = place.grids[0]
    rule: GrassrootsRule | None = None
    informed: tuple[Assignee, ...] = ()
    if override_dept:
        primary, one_team = department_assignee(ref, override_dept, town, pilot=False)
        overridden = True
    else:
        found = grassroots_route(ref, tag.code, town, place, grid_code)
        if found is not None:
            rule, primary = found
            one_team = False
            if rule.inform == "ZZ":
                informed = (centre(ref, town, "informed"),)
        else:
            primary, one_team = department_assignee(ref, tag.department, town)
        overridden = False
    if primary.dept == "GA":
        # An order routed to the police station alone is not a linked incident; dual would be the same desk twice.
        raise ValidationError(t("error.override_police"), field="dept")
    police = station(ref, town) if chosen_mode == "dual" else None
    helpers = co_units(ref, town, co, [primary, *([police] if police else [])]) if co else ()
    return Route(
        tag.code,
        town.code,
        chosen_mode,
        primary,
        police,
        one_team,
        overridden,
        place.code if place else None,
        grid_code if place else None,
        rule,
        informed,
        helpers,
    )


def village_for(ref: Reference, town: str, address: str) -> tuple[str | None, str | None]:
    """The village and grid an address names in ``town`` (models/villages.py: the village's full name in the
    address; the grid by its area words, else the village's first grid); (None, None) when none."""
    from .villages import grid_for, village_in

    found = village_in(ref.villages, town, address)
    if found is None:
        return None, None
    g = grid_for(ref.villages, ref.grids, found.code, address)
    return found.code, g.code if g else None


def describe_assignee(ref: Reference, code: str, lang: str = "zh") -> str:
    """Display name for an assignee code (``SCJG``, ``ZZ-HZ``, ``GA-GLL``, ``TJ-HZ-QY``, ``WG-HZ-QY-1``,
    ``SO-HZ-PA``); a bare grassroots kind (``TJ``, ``WG``, ``SO``) is named as a kind."""
    prefix, rest = code[:3], code[3:]
    if prefix == "TJ-" and rest in ref.villages:
        v = ref.villages[rest]
        return v.mediation_zh if lang == "zh" else v.mediation_en
    if prefix == "WG-" and rest in ref.grids:
        g = ref.grids[rest]
        return f"{g.name_zh}网格员（{g.worker}）" if lang == "zh" else f"{g.name_en} grid worker ({g.worker})"
    if prefix == "SO-" and rest in ref.organisations:
        o = ref.organisations[rest]
        return o.name_zh if lang == "zh" else o.name_en
    if code in GRASSROOTS and code not in ref.departments:
        return t(f"grassroots.kind_{code}", lang=lang)
    if code.startswith("ZZ-") and code[3:] in ref.towns:
        town = ref.towns[code[3:]]
        return f"{town.name_zh}综治中心" if lang == "zh" else f"{town.name_en} Governance Centre"
    if code in ref.stations:
        st = ref.stations[code]
        return st.name_zh if lang == "zh" else st.name_en
    if code in ref.departments:
        dept = ref.departments[code]
        return dept.name_zh if lang == "zh" else dept.name_en
    return code
