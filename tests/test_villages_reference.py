"""Villages, grids, social organisations and grassroots routing rules as reference data (issue 16, item 1):
the shipped files load, a broken row is refused with its file, line and bad value, and the rules route by tag,
town and village."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fengqiao.models.errors import ReferenceDataError, ValidationError
from fengqiao.models.reference import load_reference
from fengqiao.models.routing import describe_assignee, route, village_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target, ignore=shutil.ignore_patterns("*.py", "__pycache__", "i18n"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_villages_cover_every_town(ref) -> None:
    for town in ref.towns:
        places = ref.town_villages(town)
        assert 4 <= len(places) <= 8, town
        assert all(1 <= len(v.grids) <= 3 for v in places), town
    for code in ("SHH", "SJ", "LS", "PK"):  # the subdistricts are mostly communities
        kinds = [v.kind for v in ref.town_villages(code)]
        assert kinds.count("community") > kinds.count("village"), code
    qy = ref.villages["HZ-QY"]  # places.csv's 前岩村 in 黄泽镇
    assert (qy.town, qy.name_zh, qy.kind) == ("HZ", "前岩村", "village")
    assert all(ref.grids[g].worker and ref.grids[g].phone for g in qy.grids)
    assert ref.organisations["HZ-PA"].serves == ("HZ",)
    assert {r.primary for r in ref.grassroots_rules} >= {"TJ", "WG", "SO-CQ-AX"}


VILLAGE_ROW = "HZ-QY,HZ,前岩村,Qianyan Village,village,陶美娟,0575-83534071"
GRID_ROW = "HZ-QY-1,HZ-QY,前岩村第一网格,Qianyan Grid 1,新村|上宅,郭伟,15957513875"
ORG_ROW = "HZ-PA,黄泽镇平安巡防志愿队,Huangze Safety Patrol Volunteers,patrol,丁卫东,13957518080,HZ"


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "villages.csv",
            VILLAGE_ROW,
            VILLAGE_ROW.replace(",HZ,", ",HX,"),
            "villages.csv line 40 (HZ-QY): unknown town 'HX'",
        ),
        (
            "villages.csv",
            VILLAGE_ROW,
            VILLAGE_ROW.replace("HZ-QY", "HZ-HZ"),
            "villages.csv line 40: duplicate code HZ-HZ (first on line 39)",
        ),
        (
            "villages.csv",
            VILLAGE_ROW,
            VILLAGE_ROW.replace("前岩村", "黄泽社区"),
            "villages.csv line 40 (HZ-QY): duplicate name 黄泽社区 in town HZ (first on line 39)",
        ),
        (
            "villages.csv",
            VILLAGE_ROW,
            VILLAGE_ROW.replace(",village,", ",hamlet,"),
            "villages.csv line 40 (HZ-QY): kind must be village or community, got 'hamlet'",
        ),
        (
            "villages.csv",
            VILLAGE_ROW,
            VILLAGE_ROW.replace("陶美娟", ""),
            "villages.csv line 40 (HZ-QY): mediator is empty",
        ),
        (
            "villages.csv",
            VILLAGE_ROW,
            VILLAGE_ROW.replace("0575-83534071", "ask the office"),
            "villages.csv line 40 (HZ-QY): mediator_phone is not a phone number: 'ask the office'",
        ),
        ("villages.csv", VILLAGE_ROW, VILLAGE_ROW.replace("HZ-QY", "HZ QY"), "villages.csv line 40: bad code 'HZ QY'"),
        (
            "grids.csv",
            GRID_ROW,
            GRID_ROW.replace(",HZ-QY,", ",HZ-QQ,"),
            "grids.csv line 94 (HZ-QY-1): grid of unknown village 'HZ-QQ'",
        ),
        (
            "grids.csv",
            GRID_ROW,
            GRID_ROW.replace("HZ-QY-1,", "HZ-HZ-1,"),
            "grids.csv line 94: duplicate code HZ-HZ-1 (first on line",
        ),
        ("grids.csv", GRID_ROW, GRID_ROW.replace("郭伟", ""), "grids.csv line 94 (HZ-QY-1): worker is empty"),
        (
            "organisations.csv",
            ORG_ROW,
            ORG_ROW.replace(",HZ", ",HZ|HZ-QQ"),
            "organisations.csv line 6 (HZ-PA): serves unknown town or village 'HZ-QQ'",
        ),
        (
            "grassroots_routing.csv",
            "B04,*,*,TJ,ZZ",
            "B99,*,*,TJ,ZZ",
            "grassroots_routing.csv line 2 (B99/*/*): unknown tag 'B99'",
        ),
        (
            "grassroots_routing.csv",
            "B02,LS,LS-JQ,WG,",
            "B02,HZ,LS-JQ,WG,",
            "grassroots_routing.csv line 5 (B02/HZ/LS-JQ): village LS-JQ is in town LS, not HZ",
        ),
        (
            "grassroots_routing.csv",
            "B02,LS,LS-JQ,WG,",
            "B02,LS,LS-QQ,WG,",
            "grassroots_routing.csv line 5 (B02/LS/LS-QQ): unknown village 'LS-QQ'",
        ),
        (
            "grassroots_routing.csv",
            "B05,*,village,TJ,ZZ",
            "B05,*,,TJ,ZZ",
            "grassroots_routing.csv line 3 (B05/*/-): primary TJ needs a village (the village column is empty)",
        ),
        (
            "grassroots_routing.csv",
            "B19,GLL,,SO-GLL-HL,",
            "B19,HZ,,SO-GLL-HL,",
            "grassroots_routing.csv line 10 (B19/HZ/-): organisation GLL-HL does not serve town HZ",
        ),
        (
            "grassroots_routing.csv",
            "B19,GLL,,SO-GLL-HL,",
            "B19,GLL,,SO-NOPE,",
            "grassroots_routing.csv line 10 (B19/GLL/-): unknown organisation 'NOPE'",
        ),
        (
            "grassroots_routing.csv",
            "B19,GLL,,SO-GLL-HL,",
            "B19,GLL,,SFJ,",
            "grassroots_routing.csv line 10 (B19/GLL/-): primary must be TJ, WG or SO-<organisation>, got 'SFJ'",
        ),
        (
            "grassroots_routing.csv",
            "B04,*,*,TJ,ZZ",
            "B04,*,*,TJ,GA",
            "grassroots_routing.csv line 2 (B04/*/*): inform must be ZZ or empty, got 'GA'",
        ),
        (
            "grassroots_routing.csv",
            "B15,SJ,,SO-CQ-AX,",
            "B15,SHH,,SO-CQ-AX,",
            "grassroots_routing.csv line 7 (B15/SHH/-): duplicate rule (first on line 6)",
        ),
    ],
)
def test_a_broken_row_is_named(tmp_path: Path, file: str, old: str, new: str, message: str) -> None:
    folder = _copy(tmp_path)
    _edit(folder / file, old, new)
    with pytest.raises(ReferenceDataError) as err:
        load_reference(folder)
    assert str(err.value).startswith(message), str(err.value)


def test_a_folder_without_the_village_files_routes_as_before(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    for name in ("villages.csv", "grids.csv", "organisations.csv", "grassroots_routing.csv"):
        (folder / name).unlink()
    ref = load_reference(folder)
    assert ref.villages == {} and ref.grassroots_rules == ()
    plan = route(ref, "B04", "HZ")
    assert (plan.primary.code, plan.rule, plan.village) == ("ZZ-HZ", None, None)
    with pytest.raises(ValidationError):
        route(ref, "B04", "HZ", village="HZ-QY")


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(
        folder / "grids.csv",
        "code,village,name_zh,name_en,area,worker,phone",
        "code,village,name_zh,name_en,area,phone",
    )
    with pytest.raises(ReferenceDataError, match="grids.csv: missing column"):
        load_reference(folder)


# ---- routing per tag, town and village -------------------------------------------------------------


def test_neighbour_disputes_in_a_village_go_to_its_mediation_committee_with_the_centre_informed(ref) -> None:
    plan = route(ref, "B04", "HZ", village="HZ-QY")  # 邻里纠纷 (ZZ, dual)
    assert (plan.primary.code, plan.primary.dept, plan.police.code) == ("TJ-HZ-QY", "TJ", "GA-HZ")
    assert [a.code for a in plan.informed] == ["ZZ-HZ"] and plan.rule.key == "B04/*/*→TJ"
    assert not plan.one_team
    assert describe_assignee(ref, "TJ-HZ-QY") == "前岩村人民调解委员会"
    assert describe_assignee(ref, "TJ-HZ-QY", "en") == "Qianyan Village Mediation Committee"
    # Without a village the tag's own routing: the town's centre.
    assert route(ref, "B04", "HZ").primary.code == "ZZ-HZ"


def test_a_dual_order_pairs_the_police_station_with_the_grid_worker(ref) -> None:
    plan = route(ref, "B06", "GLL", village="GLL-MC", grid="GLL-MC-1")  # 土地山林纠纷 in a 村
    assert (plan.primary.code, plan.police.code, plan.mode) == ("WG-GLL-MC-1", "GA-GLL", "dual")
    worker = ref.grids["GLL-MC-1"].worker
    assert describe_assignee(ref, "WG-GLL-MC-1") == f"马村村第一网格网格员（{worker}）"
    # The rule is for villages (村) only: a community (社区) keeps the tag's department.
    assert route(ref, "B06", "GL", village="GL-GL").primary.code == "ZZ-GL"


def test_the_most_specific_rule_wins_and_a_tag_may_go_to_a_social_organisation(ref) -> None:
    assert route(ref, "B02", "LS", village="LS-JQ").primary.code == "WG-LS-JQ-1"  # a village's own rule
    assert route(ref, "B02", "LS", village="LS-NS").primary.code == "ZJJ"  # its neighbour: the department
    so = route(ref, "B15", "SJ")  # with or without a village
    assert (so.primary.code, so.primary.dept) == ("SO-CQ-AX", "SO")
    assert route(ref, "B15", "SJ", village="SJ-SJ").primary.code == "SO-CQ-AX"
    assert route(ref, "B15", "HZ").primary.code == "MZJ"  # no rule for 黄泽镇
    assert describe_assignee(ref, "SO-CQ-AX") == "城区爱心志愿者协会"


def test_the_one_team_rule_keeps_working_in_a_village_of_the_pilot_town(ref) -> None:
    for tag in ("A09", "A01", "C14"):  # SCJG, ZHZF: one-team departments, no grassroots rule
        plan = route(ref, tag, "HZ", village="HZ-QY")
        assert (plan.primary.code, plan.one_team, plan.rule) == ("ZZ-HZ", True, None), tag
        assert plan.village == "HZ-QY"
    assert route(ref, "A09", "GLL", village="GLL-MC").primary.code == "SCJG"
    # An override by hand: no grassroots rule, no one-team redirect.
    plan = route(ref, "B04", "HZ", village="HZ-QY", override_dept="SFJ")
    assert (plan.primary.code, plan.rule, plan.informed, plan.overridden) == ("SFJ", None, (), True)


def test_a_village_of_another_town_or_an_unknown_one_is_refused(ref) -> None:
    with pytest.raises(ValidationError, match="金桥社区（LS-JQ）属于鹿山街道，不属于黄泽镇"):
        route(ref, "B04", "HZ", village="LS-JQ")
    with pytest.raises(ValidationError, match="黄泽镇没有村（社区）「QQ」"):
        route(ref, "B04", "HZ", village="QQ")
    with pytest.raises(ValidationError, match="不属于前岩村"):
        route(ref, "B04", "HZ", village="HZ-QY", grid="HZ-BNK-1")


def test_the_address_names_the_village_and_its_area_words_the_grid(ref) -> None:
    assert village_for(ref, "HZ", "前岩村岭脚12号") == ("HZ-QY", "HZ-QY-2")  # 岭脚 is the second grid's
    assert village_for(ref, "HZ", "前岩村8号") == ("HZ-QY", "HZ-QY-1")  # no area word: the first grid
    assert village_for(ref, "GLL", "前岩村8号") == (None, None)  # not a village of 谷来镇
    assert village_for(ref, "HZ", "黄泽镇政府") == (None, None)


def test_among_competing_rows_the_most_specific_wins(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    with (folder / "grassroots_routing.csv").open("a", encoding="utf-8") as fh:
        fh.write("B04,*,community,WG,\nB04,HZ,village,SO-HZ-PA,\nB04,HZ,HZ-QY,WG,ZZ\nB04,GLL,,SO-GLL-HL,\n")
    ref = load_reference(folder)
    assert route(ref, "B04", "HZ", village="HZ-QY").primary.code == "WG-HZ-QY-1"  # the village's own row
    assert route(ref, "B04", "HZ", village="HZ-BNK").primary.code == "SO-HZ-PA"  # the town's row for its 村
    assert route(ref, "B04", "HZ", village="HZ-HZ").primary.code == "WG-HZ-HZ-1"  # a 社区: the kind row
    assert route(ref, "B04", "LS", village="LS-JQ").primary.code == "WG-LS-JQ-1"  # community before *
    assert route(ref, "B04", "SJJ", village="SJJ-SJ").primary.code == "TJ-SJJ-SJ"  # only B04/*/* applies
    # 谷来镇's row has an empty village column: below * (any village) in the same town, above nothing.
    assert route(ref, "B04", "GLL", village="GLL-MC").primary.code == "SO-GLL-HL"  # a town's row before *
    assert route(ref, "B04", "GLL").primary.code == "SO-GLL-HL"  # no village: only the empty-column row applies
