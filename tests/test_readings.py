"""The shipped table of pinyin readings (fixtures/readings.tsv) is what pypinyin gives for the shipped names."""

from __future__ import annotations

from fengqiao.models import readings as rd
from fengqiao.models.reference import default_reference


def test_the_shipped_table_is_regenerated_exactly() -> None:
    # Regenerate from the shipped reference data with pypinyin and compare with the file in the package: a name
    # added to a CSV without `python -m fengqiao.models.readings` fails here.
    assert rd.table_path().read_text(encoding="utf-8") == rd.shipped_table_text()


def test_every_shipped_name_is_in_the_table() -> None:
    table = rd.table()
    missing = [n for n in rd.shipped_names(default_reference()) if n not in table]
    assert missing == []


def test_the_table_gives_what_pypinyin_gives() -> None:
    for name in ("黄泽镇", "剡山村", "消费纠纷", "市场监督管理局"):
        assert rd.readings(name) == rd.compute(name)
    assert rd.readings("黄泽镇") == (("huangzezhen",), ("hzz",))


def test_a_name_not_in_the_table_is_read_by_pypinyin() -> None:
    name = "剡湖"  # not a shipped name
    assert name not in rd.table()
    full, initials = rd.readings(name)
    assert "shanhu" in full and "yanhu" in full
    assert "sh" in initials and "yh" in initials


def test_parse_reads_what_render_writes() -> None:
    text = rd.render(["黄泽镇", "丁坞村", "a,b", "x\ty"])  # names with a comma or tab are left out
    assert rd.parse(text) == {"黄泽镇": rd.compute("黄泽镇"), "丁坞村": rd.compute("丁坞村")}
