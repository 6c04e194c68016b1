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
