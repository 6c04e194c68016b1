"""A desk: its name, its role and where it works (a department, a town), and who is on shift at it.

What each role may see and do is :mod:`fengqiao.models.roles`; this module is only the desk, so that opening the
console (which needs the desk before its first frame) does not import the state machine the rules are about.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from .errors import ValidationError
from .i18n import t
from .names import check_name

if TYPE_CHECKING:
    from .machine import AssignmentState
    from .reference import Reference


class Role(StrEnum):
    CALL_TAKER = "call_taker"
    TOWNSHIP = "township"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Desk:
    """Who writes: the desk (its name, role, department or town, order-number prefix) and the operator on it."""

    name: str = "desk"
    role: Role | None = None
    dept: str | None = None  # department desks: SCJG, an assignee code such as GA-HZ / ZZ-HZ, or TJ-/WG-/SO-…
    town: str | None = None  # township desks (and ZZ/GA department desks)
    operator: str = ""
    prefix: str = "SZ"  # order numbers: SZ-20261128-0042

    @property
    def actor(self) -> str:
        return self.operator or self.name

    def assignee_codes(self, ref: Reference) -> frozenset[str]:
        """The assignee codes whose assignments this desk works on (empty: not tied to assignees). Kept per
        reference on the desk: the sync server asks for every event of a push."""
        cache: dict[int, tuple[Reference, frozenset[str]]] | None = self.__dict__.get("_codes")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_codes", cache)  # a frozen dataclass: a private memo, not a field
        hit = cache.get(id(ref))
        if hit is not None and hit[0] is ref:
            return hit[1]
        codes = self._assignee_codes(ref)
        cache[id(ref)] = (ref, codes)
        return codes

    def _assignee_codes(self, ref: Reference) -> frozenset[str]:
        if self.role == Role.DEPARTMENT and self.dept:
            code = self.dept.upper()
            if code in ("ZZ", "GA") and self.town:
                town = ref.town(self.town)
                return frozenset({f"ZZ-{town.code}"} if code == "ZZ" else {town.station_code})
            return frozenset({code})
        if self.role == Role.TOWNSHIP and self.town:
            town = ref.town(self.town)
            return frozenset({f"ZZ-{town.code}", town.station_code})
        return frozenset()

    def sees_all(self) -> bool:
        return self.role in (None, Role.CALL_TAKER, Role.SUPERVISOR)

    def works_on(self, ref: Reference, a: AssignmentState) -> bool:
        """Whether assignment ``a`` is this desk's own work (always False for desks not tied to assignees)."""
        if a.assignee not in self.assignee_codes(ref):
            return False
        if self.role == Role.TOWNSHIP and a.dept == "GA":
            return a.town == self.town  # the shared station's work for other towns belongs to their centres
        return True


def make_desk(
    ref: Reference,
    name: str,
    role: str | None,
    *,
    dept: str | None = None,
    town: str | None = None,
    operator: str = "",
    prefix: str | None = None,
) -> Desk:
    """Validate a desk definition (from the config file or the command line)."""
    name = check_name(name, what="desk")
    operator = check_name(operator or "", what="operator", required=False)
    if role is None or role == "":
        return Desk(name=name, operator=operator, prefix=prefix or "SZ")
    try:
        r = Role(role)
    except ValueError:
        raise ValidationError(
            t("error.unknown_role", role=role, roles=", ".join(r.value for r in Role)), field="role"
        ) from None
    if r == Role.DEPARTMENT:
        if not dept:
            raise ValidationError(t("error.role_needs_dept"), field="dept")
        code = dept.strip().upper()
        from .grassroots import GRASSROOTS_PREFIXES

        if code.startswith(GRASSROOTS_PREFIXES):
            # a grassroots unit (TJ-<village>, WG-<grid>, SO-<organisation>): works on its own assignments
            if not ref.assignee_known(code):
                raise ValidationError(t("error.unknown_dept", code=dept), field="dept")
            dept, town = code, (town or _grassroots_town(ref, code))
        elif code.startswith(("ZZ-", "GA-")):
            town_code = code[3:]
            if code.startswith("GA-"):
                if code not in ref.stations:
                    raise ValidationError(t("error.unknown_dept", code=dept), field="dept")
            else:
                ref.town(town_code)
            dept, town = code[:2], (town or town_code)
        else:
            ref.department(code)
            dept = code
            if code in ("ZZ", "GA"):
                if not town:
                    raise ValidationError(t("error.role_needs_town"), field="town")
                town = ref.town(town).code
    if r == Role.TOWNSHIP:
        if not town:
            raise ValidationError(t("error.role_needs_town"), field="town")
        town = ref.town(town).code
    return Desk(
        name=name,
        role=r,
        dept=dept,
        town=town,
        operator=operator,
        prefix=(prefix or (town if r == Role.TOWNSHIP and town else "SZ")).upper(),
    )


def _grassroots_town(ref: Reference, code: str) -> str | None:
    """The town of a grassroots unit (its village's); None for a social organisation (it may serve several)."""
    rest = code[3:]
    if code.startswith("TJ-"):
        return ref.villages[rest].town
    if code.startswith("WG-"):
        return ref.villages[ref.grids[rest].village].town
    return None


def shows_full_phone(desk: Desk) -> bool:
    """Callers' numbers are personal data: shown in full only to desks that must call back.

    Call-takers, township centres and departments contact callers; supervisors (and the cockpit, reports and
    exports) see ``138****5678`` unless they ask for the full number, which is audited.
    """
    return desk.role in (None, Role.CALL_TAKER, Role.TOWNSHIP, Role.DEPARTMENT)
