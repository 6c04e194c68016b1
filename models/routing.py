"""Routing rules: which desk gets an order. Pure functions over the reference data.

* A tag's owner department gets the order (a county bureau or company).
* ``ZZ`` (township governance centre) and ``GA`` (police station) resolve by the call's town.
* In a one-team pilot town (``one_team_pilot`` in towns.csv, 黄泽镇 in the shipped data), tags owned by the
  enforcement departments in residence there (``one_team`` = 1 in departments.csv) go to that town's
  governance centre instead of the county bureau (一支队伍管执法).
* Dual dispatch (一警双派) adds the town's police station as a second assignee.

Assignee codes: a county department's own code (``SCJG``), ``ZZ-<town>`` for a township centre and
``GA-<town>`` for a police station (named after the town the station sits in, which may serve several).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ValidationError
from .i18n import t
from .reference import Reference, Tag, Town


@dataclass(frozen=True)
class Assignee:
    code: str  # SCJG | ZZ-HZ | GA-HZ
    dept: str  # SCJG | ZZ | GA
    town: str | None  # the town for ZZ/GA assignees
    name_zh: str
    name_en: str
    role: str  # primary | police


@dataclass(frozen=True)
class Route:
    tag: str
    town: str
    mode: str  # single | dual
    primary: Assignee
    police: Assignee | None
    one_team: bool  # redirected to a pilot town's unified enforcement team
    overridden: bool  # the call-taker chose the department by hand

    @property
    def assignees(self) -> list[Assignee]:
        return [self.primary] + ([self.police] if self.police else [])


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


def route(
    ref: Reference, tag_code: str, town_code: str, *, mode: str | None = None, override_dept: str | None = None
) -> Route:
    """Where an order for ``tag_code`` in ``town_code`` goes.

    ``mode`` overrides the tag's default single/dual; ``override_dept`` sends the order to another
    department chosen by the call-taker (a township code ``ZZ``/``GA`` still resolves by town; a county
    bureau chosen by hand is taken as asked, without the pilot redirect).
    """
    tag: Tag = ref.tag(tag_code)
    town = ref.town(town_code)
    chosen_mode = mode or tag.dispatch
    if chosen_mode not in ("single", "dual"):
        raise ValidationError(t("error.bad_mode", mode=chosen_mode), field="mode")
    if override_dept:
        primary, one_team = department_assignee(ref, override_dept, town, pilot=False)
        overridden = True
    else:
        primary, one_team = department_assignee(ref, tag.department, town)
        overridden = False
    if primary.dept == "GA":
        # An order routed to the police station alone is not a linked incident; dual would be the same desk twice.
        raise ValidationError(t("error.override_police"), field="dept")
    police = station(ref, town) if chosen_mode == "dual" else None
    return Route(tag.code, town.code, chosen_mode, primary, police, one_team, overridden)


def describe_assignee(ref: Reference, code: str, lang: str = "zh") -> str:
    """Display name for an assignee code (``SCJG``, ``ZZ-HZ``, ``GA-GLL``)."""
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
