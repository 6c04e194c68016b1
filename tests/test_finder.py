"""Finding towns, tags and departments by Chinese, pinyin, initials, code and English."""

from __future__ import annotations

import pytest

from fengqiao.models.finder import department_finder, readings, tag_finder, town_finder


def first(finder, query: str) -> str:  # noqa: ANN001
    hits = finder.search(query, limit=1)
    return hits[0][0].code if hits else ""


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("hz", "HZ"),
        ("HZ", "HZ"),
        ("黄泽", "HZ"),
        ("黄泽镇", "HZ"),
        ("huangze", "HZ"),
        ("Huangze", "HZ"),
        ("sjz", "SJJ"),
        ("sanjie", "SJJ"),
        ("sj", "SJ"),
        ("shanhu", "SHH"),
        ("yanhu", "SHH"),
        ("changle", "CL"),
        ("guimen", "GM"),
        ("贵门", "GM"),
        ("huangz", "HZ"),
    ],
)
def test_towns(query: str, code: str) -> None:
    assert first(town_finder(), query) == code


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("xfjf", "B01"),
        ("B01", "B01"),
        ("b01", "B01"),
        ("消费", "B01"),
        ("xiaofei", "B01"),
        ("consumer", "B01"),
        ("xiaofie", "B01"),
        ("consmer", "B01"),
        ("假货", "B01"),
        ("dt", "C19"),
        ("电梯", "C19"),
        ("lift", "C19"),
        ("tingshui", "C03"),
        ("ts", "C03"),
        ("流浪狗", "B14"),
    ],
)
def test_tags(query: str, code: str) -> None:
    assert first(tag_finder(), query) == code


def test_a_code_prefix_lists_the_category_in_order() -> None:
    assert [e.code for e, _ in tag_finder().search("b0", limit=3)] == ["B01", "B02", "B03"]


def test_empty_query_lists_everything_and_nonsense_nothing() -> None:
    assert len(tag_finder().search("")) == 75
    assert tag_finder().search("qqqqzzzz") == []
    assert town_finder().best("") is None


def test_departments_exclude_the_police_alone() -> None:
    finder = department_finder()
    assert first(finder, "scjg") == "SCJG" and first(finder, "市场") == "SCJG" and first(finder, "zz") == "ZZ"
    assert all(e.code != "GA" for e, _ in finder.search(""))


def test_heteronyms_give_every_reading() -> None:
    full, initials = readings("剡湖")
    assert "shanhu" in full and "yanhu" in full and "sh" in initials


# ---- English caller words (fixtures/lexicon_en.toml) -------------------------------------------------


def codes(finder, query: str, n: int = 3) -> list[str]:  # noqa: ANN001
    return [e.code for e, _ in finder.search(query, limit=n)]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("fake", "B01"),  # 消费纠纷: no tag's name says "fake", the lexicon does
        ("noise", "C14"),  # 商业经营噪声 (most noise entries), with 夜间施工扰民 next
        ("water", "C03"),  # 停水故障
        ("landlord", "B09"),
        ("pothole", "C06"),
        ("barbecue", "C15"),
        ("burst pipe", "C04"),
        ("fake goods", "B01"),
        ("stray", "B14"),
        ("bus", "C12"),  # the whole word "bus" before "business"
        ("tax", "D05"),  # and "tax" before "taxis"
        ("flooded", "C09"),  # a stem: flooded / flooding
    ],
)
def test_tags_by_english_caller_words(query: str, code: str) -> None:
    assert first(tag_finder(), query) == code


def test_english_words_list_every_tag_that_uses_them() -> None:
    finder = tag_finder()
    assert set(codes(finder, "noise", 2)) == {"A18", "C14"}
    water = codes(finder, "water", 6)
    assert {"C03", "C04", "C09"} <= set(water), water  # 停水, 供水管道, 积水
    fake = codes(finder, "fake", 5)
    assert fake[0] == "B01" and "A11" in fake, fake  # 消费纠纷 first, 药品 among the rest


def test_english_words_do_not_outrank_pinyin_initials_or_codes() -> None:
    finder = tag_finder()
    assert first(finder, "ts") == "C03" and first(finder, "tingshui") == "C03" and first(finder, "xfjf") == "B01"
    assert codes(finder, "b0") == ["B01", "B02", "B03"]
    assert first(finder, "lift") == "C19" and first(finder, "consumer") == "B01"
    hits = dict((e.code, s) for e, s in finder.search("fake"))
    assert max(hits.values()) < 88  # below any match of a tag's own name, pinyin or initials


def test_english_words_need_three_letters_and_find_nothing_for_nonsense() -> None:
    finder = tag_finder()
    assert finder.search("zzqqx") == []
    assert "B01" in codes(finder, "fak", 5)  # three letters: the start of "fake"
    assert "B01" not in codes(finder, "fa", 75)  # two: pinyin and initials only (fa is no start of xfjf)
