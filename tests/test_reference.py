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


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "taxonomy.csv",
            "B01,B,消费纠纷,Consumer disputes,SCJG",
            "B01,B,消费纠纷,Consumer disputes,NOPE",
            "taxonomy.csv line 20 (B01): unknown department 'NOPE'",
        ),
        (
            "taxonomy.csv",
            "B01,B,消费纠纷,Consumer disputes,SCJG,single,yes,10,30,24",
            "B01,B,消费纠纷,Consumer disputes,SCJG,single,yes,0,30,24",
            "line 20 (B01): sign_min must be positive",
        ),
        (
            "taxonomy.csv",
            "B01,B,消费纠纷,Consumer disputes,SCJG,single,yes,10,30,24",
            "B01,B,消费纠纷,Consumer disputes,SCJG,single,yes,10,abc,24",
            "line 20 (B01): arrive_min must be a whole number",
        ),
        ("taxonomy.csv", "B01,B,消费纠纷", "B02,B,消费纠纷", "line 21: duplicate code B02 (first on line 20)"),
        (
            "taxonomy.csv",
            "B01,B,消费纠纷,Consumer disputes,SCJG,single",
            "B01,B,消费纠纷,Consumer disputes,SCJG,triple",
            "line 20 (B01): dispatch must be single or dual",
        ),
        (
            "taxonomy.csv",
            "D01,D,政策咨询,Policy enquiries,RX,single,no,30,,24",
            "D01,D,政策咨询,Policy enquiries,RX,single,no,30,15,24",
            "line 62 (D01): arrive_min must be empty",
        ),
        (
            "towns.csv",
            "HZ,黄泽镇,Huangze Town,town,黄泽派出所,yes",
            "HZ,黄泽镇,Huangze Town,town,黄泽派出所,maybe",
            "towns.csv line 9 (HZ): one_team_pilot must be yes or no",
        ),
        ("departments.csv", "GA,公安派出所,Police Station,police,by_location,0\n", "", "department GA is required"),
    ],
)
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
    (base / "taxonomy.csv").write_text("\n".join(ln for ln in lines if not ln.startswith("D")) + "\n", encoding="utf-8")
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


# ---- another county's data: a 76th tag owned by a new pilot department, through the models and the CLI ---------

NEW_DEPT = "LYJ,林业局,Forestry Bureau,bureau,county,1"
NEW_TAG = "A19,A,乱砍滥伐,Illegal logging,LYJ,single,yes,10,60,72,砍树|伐木|盗伐|乱砍"


@pytest.fixture
def county(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """A copy of the shipped folder with one more tag and one more one-team department; the process's choice of
    folder (--reference sets the override and $FENGQIAO_REFERENCE) is put back afterwards."""
    from fengqiao.models import reference

    monkeypatch.setenv(reference.REFERENCE_ENV, "")
    monkeypatch.delenv(reference.REFERENCE_ENV)
    base = _copy(tmp_path)
    with (base / "departments.csv").open("a", encoding="utf-8") as fh:
        fh.write(NEW_DEPT + "\n")
    with (base / "taxonomy.csv").open("a", encoding="utf-8") as fh:
        fh.write(NEW_TAG + "\n")
    yield base
    reference.set_reference_dir(None)


def test_a_76th_tag_and_a_new_pilot_department_route(county: Path) -> None:
    from fengqiao.models.classifier import build_classifier
    from fengqiao.models.routing import route

    ref = load_reference(county)
    assert len(ref.tags) == 76 and "LYJ" in ref.one_team_depts
    r = route(ref, "A19", "HZ")  # 黄泽镇 is the pilot town: the unified team takes it
    assert r.primary.code == "ZZ-HZ" and r.one_team
    r = route(ref, "A19", "CR")
    assert r.primary.code == "LYJ" and r.primary.name_zh == "林业局" and not r.one_team
    assert "A01–A19" in ref.tag_ranges() and "D01–D15" in ref.tag_ranges()
    # The classifier copes with a tag that has no example calls.
    suggestions = build_classifier(ref).suggest("后山有人在乱砍树，盗伐了好几棵")
    assert all(sg.code in ref.tags for sg in suggestions)


def test_default_reference_follows_the_chosen_folder(county: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fengqiao.models import reference

    shipped = reference.default_reference()
    assert len(shipped.tags) == 75 and reference.default_reference() is shipped  # cached
    monkeypatch.setenv(reference.REFERENCE_ENV, str(county))
    assert len(reference.default_reference().tags) == 76
    assert reference.default_reference() is reference.default_reference()
    monkeypatch.delenv(reference.REFERENCE_ENV)
    assert reference.default_reference() is shipped
    reference.set_reference_dir(county)
    assert len(reference.default_reference().tags) == 76


def test_unknown_tag_message_lists_the_loaded_ranges(county: Path) -> None:
    from fengqiao.models.errors import ValidationError
    from fengqiao.models.i18n import get_lang, set_lang

    ref = load_reference(county)
    before = get_lang()
    try:
        set_lang("en")
        with pytest.raises(ValidationError) as err:
            ref.tag("A20")
        assert "A01-A19, B01-B22, C01-C20, D01-D15" in str(err.value)
        set_lang("zh")
        with pytest.raises(ValidationError) as err:
            ref.tag("A20")
        assert "A01–A19、B01–B22、C01–C20、D01–D15" in str(err.value)
    finally:
        set_lang(before)


def test_cli_dispatches_with_the_chosen_folder(county: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from fengqiao.console.cli import app

    runner = CliRunner()
    db = str(tmp_path / "fq.db")
    base = ["--db", db, "--reference", str(county)]
    res = runner.invoke(app, [*base, "taxonomy", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["tag_count"] == 76
    res = runner.invoke(
        app, [*base, "dispatch", "--phone", "13857512345", "--town", "HZ", "--tag", "A19", "--text", "后山有人在乱砍树"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        [*base, "dispatch", "--phone", "13857512346", "--town", "CR", "--tag", "A19", "--text", "村口的大樟树被人砍了"],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, [*base, "orders", "--json"])
    assert res.exit_code == 0, res.output
    orders = {o["town"]: o for o in json.loads(res.stdout)["orders"]}
    assert orders["HZ"]["tag"] == "A19" and orders["HZ"]["assignee"] == "ZZ-HZ"
    assert orders["CR"]["tag"] == "A19" and orders["CR"]["assignee"] == "LYJ"
    # Without --reference the shipped data does not know A19: one line, no traceback. (--reference also set
    # $FENGQIAO_REFERENCE for worker processes; a new shell would not have it.)
    monkeypatch.delenv("FENGQIAO_REFERENCE")
    res = runner.invoke(
        app, ["--db", db, "dispatch", "--phone", "13857512347", "--town", "CR", "--tag", "A19", "--text", "又砍了一棵"]
    )
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1 and "A01–A18" in res.stderr


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "taxonomy.csv",
            NEW_TAG,
            NEW_TAG.replace("A19", "A18"),
            "taxonomy.csv line 77: duplicate code A18 (first on line 19)",
        ),
        (
            "taxonomy.csv",
            NEW_TAG,
            NEW_TAG.replace(",LYJ,", ",LINYE,"),
            "taxonomy.csv line 77 (A19): unknown department 'LINYE'",
        ),
        (
            "taxonomy.csv",
            NEW_TAG,
            NEW_TAG.replace(",10,60,", ",0,60,"),
            "taxonomy.csv line 77 (A19): sign_min must be positive",
        ),
        (
            "taxonomy.csv",
            NEW_TAG,
            NEW_TAG.replace(",72,", ",3天,"),
            "taxonomy.csv line 77 (A19): feedback_h must be a whole number",
        ),
        (
            "departments.csv",
            NEW_DEPT,
            NEW_DEPT.replace(",1", ",yes"),
            "departments.csv line 32 (LYJ): one_team must be 0 or 1",
        ),
        (
            "departments.csv",
            NEW_DEPT,
            NEW_DEPT.replace("LYJ", "SCJG"),
            "departments.csv line 32: duplicate code SCJG (first on line 2)",
        ),
        (
            "departments.csv",
            "ZZ,镇街综治中心,Township Governance Centre,township,by_location,0",
            "ZZ,镇街综治中心,Township Governance Centre,township,county,0",
            "departments.csv line 30 (ZZ): routing must be by_location",
        ),
    ],
)
def test_a_broken_county_folder_names_file_and_line(
    county: Path, tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    from typer.testing import CliRunner

    from fengqiao.console.cli import app

    _edit(county / file, old, new)
    with pytest.raises(ReferenceDataError) as err:
        load_reference(county)
    assert message in str(err.value)
    res = CliRunner().invoke(app, ["--db", str(tmp_path / "fq.db"), "--reference", str(county), "taxonomy"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1 and message in res.stderr


def test_the_shipped_villages_load_when_first_used_and_equal_an_eager_load() -> None:
    # The console's start loads the shipped reference data without its grassroots files (villages, grids,
    # organisations, their routing); they are read when first asked for, the same as loaded at once.
    from fengqiao.models.reference import load_reference

    later = load_reference(grassroots_later=True)
    assert "grassroots" not in later.__dict__  # not read yet
    eager = load_reference()
    assert later.villages == eager.villages and later.grids == eager.grids
    assert later.organisations == eager.organisations and later.grassroots_rules == eager.grassroots_rules
    assert later.villages  # the shipped data has villages
