"""Reference data: the packaged fixtures load, and a broken file is refused with the bad row named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fengqiao.models.errors import ReferenceDataError
from fengqiao.models.reference import load_reference

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_packaged_reference_data(ref) -> None:
    assert len(ref.tags) == 75
    assert sorted(ref.categories) == ["A", "B", "C", "D"]
    assert [len(ref.tags_in(c)) for c in "ABCD"] == [18, 22, 20, 15]
    assert len(ref.departments) == 30
    assert len(ref.towns) == 21
    assert all(tag.department in ref.departments for tag in ref.tags.values())
    b01 = ref.tags["B01"]
    assert (b01.name_zh, b01.name_en, b01.dispatch, b01.onsite) == ("消费纠纷", "Consumer disputes", "single", True)
    assert (b01.sign_min, b01.arrive_min, b01.feedback_h) == (10, 30, 24)
    assert ref.tags["D01"].arrive_min is None and not ref.tags["D01"].onsite
    assert ref.towns["HZ"].one_team_pilot and not ref.towns["SHH"].one_team_pilot
    # Some townships share a police station with a neighbouring town.
    assert ref.towns["GM"].station_code == "GA-GLL"
    assert ref.stations["GA-GLL"].towns == ("GLL", "GM")


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target, ignore=shutil.ignore_patterns("*.py", "__pycache__", "i18n"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(("file", "old", "new", "message"), [
    ("taxonomy.csv", "B01,B,消费纠纷,Consumer disputes,SCJG", "B01,B,消费纠纷,Consumer disputes,NOPE",
     "taxonomy.csv line 20 (B01): unknown department 'NOPE'"),
    ("taxonomy.csv", "B01,B,消费纠纷,Consumer disputes,SCJG,single,yes,10,30,24",
     "B01,B,消费纠纷,Consumer disputes,SCJG,single,yes,0,30,24", "line 20 (B01): sign_min must be positive"),
    ("taxonomy.csv", "B01,B,消费纠纷,Consumer disputes,SCJG,single,yes,10,30,24",
     "B01,B,消费纠纷,Consumer disputes,SCJG,single,yes,10,abc,24", "line 20 (B01): arrive_min must be a whole number"),
    ("taxonomy.csv", "B01,B,消费纠纷", "B02,B,消费纠纷", "line 21: duplicate code B02 (first on line 20)"),
    ("taxonomy.csv", "B01,B,消费纠纷,Consumer disputes,SCJG,single", "B01,B,消费纠纷,Consumer disputes,SCJG,triple",
     "line 20 (B01): dispatch must be single or dual"),
    ("taxonomy.csv", "D01,D,政策咨询,Policy enquiries,RX,single,no,30,,24",
     "D01,D,政策咨询,Policy enquiries,RX,single,no,30,15,24", "line 62 (D01): arrive_min must be empty"),
    ("towns.csv", "HZ,黄泽镇,Huangze Town,town,黄泽派出所,yes", "HZ,黄泽镇,Huangze Town,town,黄泽派出所,maybe",
     "towns.csv line 9 (HZ): one_team_pilot must be yes or no"),
    ("departments.csv", "GA,公安派出所,Police Station,police,by_location,0\n", "",
     "department GA is required"),
])
def test_broken_fixture_names_the_row(tmp_path: Path, file: str, old: str, new: str, message: str) -> None:
    base = _copy(tmp_path)
    _edit(base / file, old, new)
    with pytest.raises(ReferenceDataError) as err:
        load_reference(base)
    assert message in str(err.value)


def test_any_tag_count_loads_but_an_empty_category_is_refused(tmp_path: Path) -> None:
    base = _copy(tmp_path)
    lines = (base / "taxonomy.csv").read_text(encoding="utf-8").splitlines()
    (base / "taxonomy.csv").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    assert len(load_reference(base).tags) == 74  # no fixed count: the county's taxonomy decides
    (base / "taxonomy.csv").write_text("\n".join(ln for ln in lines if not ln.startswith("D")) + "\n",
                                       encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="taxonomy.csv: category D has no tags"):
        load_reference(base)


def test_missing_file_and_column(tmp_path: Path) -> None:
    base = _copy(tmp_path)
    (base / "towns.csv").unlink()
    with pytest.raises(ReferenceDataError, match="towns.csv: file not found"):
        load_reference(base)
    base = _copy(tmp_path / "again")
    _edit(base / "departments.csv", "code,name_zh", "kode,name_zh")
    with pytest.raises(ReferenceDataError, match="departments.csv: missing column"):
        load_reference(base)
