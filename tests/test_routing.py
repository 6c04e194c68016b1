"""Routing: owner department, township and police resolution by town, the 黄泽镇 one-team pilot, dual dispatch."""

from __future__ import annotations

import pytest

from fengqiao.models.errors import ValidationError
from fengqiao.models.routing import route


def test_county_department_owns_the_tag(ref) -> None:
    r = route(ref, "B01", "SHH")
    assert (r.primary.code, r.mode, r.police, r.one_team) == ("SCJG", "single", None, False)


def test_township_centre_and_police_resolve_by_town(ref) -> None:
    r = route(ref, "B04", "GM")  # neighbour dispute in 贵门乡: centre + police, dual by default
    assert r.primary.code == "ZZ-GM" and r.primary.name_zh == "贵门乡综治中心"
    assert r.police is not None and r.police.code == "GA-GLL" and r.police.name_zh == "谷来派出所"


@pytest.mark.parametrize("tag", ["B01", "A07", "A06", "A01", "C17", "A05", "A12"])
def test_one_team_pilot_routes_enforcement_tags_to_the_town(ref, tag: str) -> None:
    assert ref.tags[tag].department in ref.one_team_depts
    r = route(ref, tag, "HZ")
    assert r.primary.code == "ZZ-HZ" and r.one_team
    assert route(ref, tag, "CR").primary.code == ref.tags[tag].department


@pytest.mark.parametrize("tag", ["B03", "C01", "B02", "D01"])
def test_one_team_pilot_leaves_other_departments_alone(ref, tag: str) -> None:
    r = route(ref, tag, "HZ")
    assert r.primary.code == ref.tags[tag].department and not r.one_team


def test_dual_dispatch_adds_the_town_police_station(ref) -> None:
    r = route(ref, "A03", "HZ")  # illegal dumping in 黄泽镇: the report's own example
    assert r.mode == "dual"
    assert [a.code for a in r.assignees] == ["ZZ-HZ", "GA-HZ"]
    assert route(ref, "B01", "SHH", mode="dual").police.code == "GA-SHH"
    assert route(ref, "B02", "LS", mode="single").police is None


def test_override_department(ref) -> None:
    r = route(ref, "B01", "HZ", override_dept="SCJG")  # by hand: the county bureau, no pilot redirect
    assert r.primary.code == "SCJG" and r.overridden and not r.one_team
    assert route(ref, "B01", "HZ", override_dept="ZZ").primary.code == "ZZ-HZ"
    with pytest.raises(ValidationError):
        route(ref, "B01", "HZ", override_dept="GA")
    with pytest.raises(ValidationError, match="未知部门"):
        route(ref, "B01", "HZ", override_dept="XYZ")


def test_unknown_codes(ref) -> None:
    with pytest.raises(ValidationError, match="未知标签"):
        route(ref, "Z99", "HZ")
    with pytest.raises(ValidationError, match="未知镇街"):
        route(ref, "B01", "ATLANTIS")
    assert route(ref, "b01", "黄泽镇").town == "HZ"
