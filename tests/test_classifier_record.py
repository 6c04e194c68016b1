"""Issue 15 item 2: a 110 log's record style and the noise inside a description do not move the suggestion.

Every call of the sets nobody tuned on (fresh, blind) is written again the way a call-taker logs it — with an
opening naming who reports, with a phone number, a date and time, a 某-name, a house number or a document title
put in — and must get the same first suggestion as the call as the caller said it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fengqiao.models.classifier import build_classifier, clean, drop_background, normalize

DATA = Path(__file__).parent / "data"
OPENINGS = (
    "报警人称：",
    "来电反映：",
    "来电人称，",
    "称其",
    "报警人来电称",
    "市民来电反映，",
    "群众报警称：",
    "来电称",
)
NOISE = (
    "{text}，联系电话13857512345",
    "2026年11月28日10:30，{text}",
    "{text}（王某某，住12幢3单元）",
    "根据《关于进一步加强社会治理的通知》，{text}",
)


# Scene-setting first sentences (issue 15: "long messages whose first sentence is background"), each naming a place
# or a trade that pulls another tag up (小区, 超市, 打工, 河边, 出租车, 读书). Written before drop_background was,
# and never used to shape it: its rules were checked on a separate development list (docs/benchmarks.md).
BACKGROUND = (
    "我是前岩村的村民，在村里住了二十多年了。",
    "我去年刚退休，平时一个人住。",
    "我们小区是2015年交房的，一共十二幢楼。",
    "我在镇上工业园的厂里上班，每天早出晚归。",
    "我家开了一家小超市，做了好几年生意了。",
    "我老家是外地的，来这边打工三年了。",
    "我们村去年刚修了新路，环境比以前好多了。",
    "我儿子在县城读初中，平时住校。",
    "我们这栋楼住的大多是老人。",
    "我家住在河边，离镇政府不远。",
    "前几年我也打过一次电话，那次处理得挺好。",
    "我是开出租车的，对这一带很熟。",
)


def _rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for name in ("calls_fresh.csv", "calls_blind.csv"):
        with (DATA / name).open(encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


@pytest.fixture(scope="module")
def clf():  # noqa: ANN201
    return build_classifier()


def _top(clf, text: str) -> str | None:  # noqa: ANN001
    found = clf.suggest(text)
    return found[0].code if found else None


@pytest.fixture(scope="module")
def plain(clf) -> dict[str, str | None]:  # noqa: ANN001
    """The first suggestion for each untuned call as it stands, computed once for the module's tests."""
    return {r["text"]: _top(clf, r["text"]) for r in _rows()}


@pytest.mark.parametrize("opening", OPENINGS)
def test_record_style_openings_do_not_move_the_suggestion(clf, plain, opening: str) -> None:  # noqa: ANN001
    moved = [r["text"] for r in _rows() if _top(clf, opening + r["text"]) != plain[r["text"]]]
    assert moved == [], f"{len(moved)} calls moved by {opening!r}, e.g. {moved[:3]}"


@pytest.mark.parametrize("shape", NOISE)
def test_numbers_dates_names_and_titles_do_not_move_the_suggestion(clf, plain, shape: str) -> None:  # noqa: ANN001
    moved = [r["text"] for r in _rows() if _top(clf, shape.format(text=r["text"])) != plain[r["text"]]]
    assert len(moved) <= 2, f"{len(moved)} calls moved by {shape!r}, e.g. {moved[:3]}"


def test_the_word_for_a_call_is_not_a_power_cut(clf) -> None:  # noqa: ANN001
    assert _top(clf, "来电反映隔壁饭店油烟很大") == "C15"
    assert _top(clf, "今天一直没电，到现在还没来电") == "C01"  # where 来电 is the matter, it stays


def test_clean_keeps_the_matter() -> None:
    assert clean(normalize("报警人称：店里买到假货，老板不给退")) == "店里买到假货,老板不给退"
    assert "13857512345" not in clean(normalize("电话13857512345，楼上漏水"))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("电梯困人了，物业说马上来但一直没人", "C19"),  # a lift that traps people, not a property dispute
        ("我想问问社保交了十年能不能退休", "D02"),  # social insurance, not policy in general
        ("房产证办下来要多久", "D04"),
        ("个体户的增值税怎么交", "D05"),
        ("超市标价和结账的价格不一样", "D07"),  # a price, not education fees
        ("吃了饭店的菜全家中毒送医院了", "A10"),  # two-character words the lexicon lacked: 中毒, 诱捕, 串台
        ("有人在山上下夹子诱捕野鸟", "B19"),
        ("家里有线电视老是串台", "C11"),
    ],
)
def test_the_misses_the_issue_names(clf, text: str, code: str) -> None:  # noqa: ANN001
    assert _top(clf, text) == code


@pytest.mark.parametrize("background", BACKGROUND)
def test_a_scene_setting_first_sentence_does_not_move_the_suggestion(clf, plain, background: str) -> None:  # noqa: ANN001
    moved = [r["text"] for r in _rows() if _top(clf, background + r["text"]) != plain[r["text"]]]
    assert len(moved) <= 2, f"{len(moved)} calls moved by {background!r}, e.g. {moved[:3]}"


def test_drop_background_keeps_a_first_sentence_that_says_what_is_wrong() -> None:
    assert drop_background("我们小区是新小区。楼上天天漏水到我家") == "楼上天天漏水到我家"
    assert drop_background("我家在河边。河里有人电鱼") == "河里有人电鱼"
    kept = "我家楼上天天漏水。物业也不管"  # the first sentence is the matter: a problem word
    assert drop_background(kept) == kept
    assert drop_background("我是村民。好冷") == "我是村民。好冷"  # too little would be left
    joined = "我们小区是新小区，楼上天天漏水到我家"  # commas only: one sentence, kept whole
    assert drop_background(joined) == joined
    assert drop_background("我在超市买的牛奶过期了") == "我在超市买的牛奶过期了"


def test_no_labelled_call_loses_a_sentence() -> None:
    """The rule never fires on the labelled sets as written: their calls start with the matter."""
    fired = []
    for name in ("calls.csv", "calls_fresh.csv", "calls_blind.csv"):
        with (DATA / name).open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                text = clean(normalize(r["text"]))
                if drop_background(text) != text:
                    fired.append(r["text"])
    assert fired == []
