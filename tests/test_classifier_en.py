"""The English suggester: the held-out English set, the hand-over from the Chinese suggester, the data files."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from fengqiao.models.classifier import (
    Classifier,
    Suggestion,
    build_classifier,
    default_classifier_lexicon,
    default_example_model,
)
from fengqiao.models.classifier_en import (
    EnglishClassifier,
    content_words,
    default_english_classifier,
    is_english,
    keyword_baseline_en,
    load_examples_en,
    load_lexicon_en,
    stem,
    tokens,
)
from fengqiao.models.errors import ReferenceDataError

DATA = Path(__file__).parent / "data"
FIXTURES = Path(__file__).parents[1] / "fixtures"


def held_out() -> list[dict[str, str]]:
    with (DATA / "calls_en.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _bigrams(text: str) -> set[tuple[str, str]]:
    words = tokens(text)
    return set(zip(words, words[1:], strict=False))


# ---- the data -----------------------------------------------------------------------------------------


def test_the_english_set_is_what_it_claims(ref) -> None:  # noqa: ANN001
    rows = held_out()
    assert len(rows) == 225
    assert Counter(r["tag"] for r in rows) == Counter({code: 3 for code in ref.tags})  # 3 calls for each of the 75
    assert {r["kind"] for r in rows} == {"plain", "paraphrase"}
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts)
    for r in rows:
        name_words = set(content_words(ref.tags[r["tag"]].name_en))
        used = name_words & set(tokens(r["text"]))
        if r["kind"] == "paraphrase":
            assert not used, f"paraphrase of {r['tag']} uses {used}: {r['text']}"
        else:
            assert used, f"plain row of {r['tag']} has none of {name_words}: {r['text']}"


def test_no_test_sentence_is_a_near_copy_of_a_training_example() -> None:
    """At most half of a held-out sentence's word bigrams appear in any one training example."""
    examples = [(_bigrams(text), text) for text, _ in load_examples_en()]
    for r in held_out():
        mine = _bigrams(r["text"])
        assert mine
        for theirs, text in examples:
            shared = len(mine & theirs) / len(mine)
            assert shared <= 0.5, f"{r['text']!r} shares {shared:.0%} of its bigrams with {text!r}"


def test_examples_cover_every_tag(ref) -> None:  # noqa: ANN001
    examples = load_examples_en(ref=ref)
    per_tag = Counter(code for _, code in examples)
    assert set(per_tag) == set(ref.tags)
    assert min(per_tag.values()) >= 12
    assert len({text for text, _ in examples}) == len(examples)


def test_lexicon_covers_every_tag_with_enough_words(ref) -> None:  # noqa: ANN001
    lexicon = load_lexicon_en(ref=ref)
    assert set(lexicon.terms) == set(ref.tags)
    assert all(len(terms) >= 10 for terms in lexicon.terms.values())
    assert tuple(tokens("where")) in lexicon.weak and tuple(tokens("neighbor")) in lexicon.weak  # neighbour too


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[Z99]\nterms = ["x"]\n', "unknown tag [Z99]"),
        ("[A01]\nterms = []\n[A02]\nterms = 3\n", "[A02]: terms must be a list"),
        ('[A01]\nterms = ["a…b…c"]\n', "must be words or a…b"),
        ("[A01\n", "lexicon_en.toml"),
    ],
)
def test_a_broken_lexicon_names_the_fault(tmp_path, ref, content: str, message: str) -> None:  # noqa: ANN001
    path = tmp_path / "lexicon_en.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_lexicon_en(path, ref)


def test_broken_examples_name_the_line(tmp_path, ref) -> None:  # noqa: ANN001
    path = tmp_path / "examples_en.csv"
    path.write_text("tag,text\nA01,fine\nZZZ,bad tag\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="line 3: unknown tag"):
        load_examples_en(path, ref)


# ---- words --------------------------------------------------------------------------------------------


def test_the_stemmer_joins_the_forms_callers_type() -> None:
    assert stem("smoking") == stem("smoked") == stem("smoke")
    assert stem("flooded") == stem("flooding") == stem("flood")
    assert stem("pipes") == stem("pipe") and stem("buses") == stem("bus") and stem("flies") == stem("fly")
    assert stem("neighbours") == stem("neighbor") and stem("licence") == stem("license")
    assert stem("stopped") == stem("stop") and stem("fell") == stem("fall")
    assert stem("glass") == "glass" and stem("gas") == "gas"


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("barbecue smoke", True),
        ("No water since 7 am in building 3", True),
        ("楼下烧烤店的油烟", False),
        ("楼下KTV太吵", False),  # one ASCII word in Chinese text
        ("KTV", False),
        ("", False),
        ("12345 678", False),
        ("the 油烟 from the restaurant downstairs", True),  # mostly English
    ],
)
def test_is_english(text: str, english: bool) -> None:
    assert is_english(text) is english


# ---- accuracy -----------------------------------------------------------------------------------------


def _accuracy(rows: list[dict[str, str]]) -> tuple[float, float]:
    clf = build_classifier()  # through the Chinese suggester's hand-over, as the desk uses it
    top1 = top3 = 0
    for r in rows:
        codes = [s.code for s in clf.suggest(r["text"])]
        top1 += bool(codes) and codes[0] == r["tag"]
        top3 += r["tag"] in codes
    return top1 / len(rows), top3 / len(rows)


def test_accuracy_goals_on_the_held_out_english_set() -> None:
    """Issue 15's goal: top-1 at least 80% on English calls written apart from the examples; top-3 at least 95%."""
    top1, top3 = _accuracy(held_out())
    assert top1 >= 0.80 and top3 >= 0.95, (top1, top3)


def test_paraphrases_are_found_too() -> None:
    """The half without the tag's own words: the bare keyword count gets none of them by construction, the
    suggester most."""
    rows = [r for r in held_out() if r["kind"] == "paraphrase"]
    top1, top3 = _accuracy(rows)
    assert top1 >= 0.70 and top3 >= 0.85, (top1, top3)


def test_the_bare_keyword_count_is_far_below(ref) -> None:  # noqa: ANN001
    rows = held_out()
    floor = sum(bool(k := keyword_baseline_en(ref, r["text"])) and k[0] == r["tag"] for r in rows) / len(rows)
    top1, _ = _accuracy(rows)
    assert floor < 0.5 < top1 and top1 - floor >= 0.3, (floor, top1)


def test_barbecue_smoke_is_restaurant_fumes() -> None:
    out = build_classifier().suggest("barbecue smoke from the restaurant downstairs")
    assert out[0].code == "C15"  # 餐饮油烟扰民 (it used to give tax enquiries)
    assert "barbecue" in out[0].evidence and isinstance(out[0], Suggestion)
    assert 0 < out[0].score <= 1 and len(out) == 3 and out[0].score >= out[1].score >= out[2].score


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("There is no water coming out of the taps", "C03"),
        ("A stray dog bit my son near the school", "B14"),
        ("My landlord won't give me back the deposit", "B09"),
        ("I'm stuck in the elevator", "C19"),
        ("The boss has not paid our wages for three months", "B03"),
    ],
)
def test_plain_english_calls(text: str, code: str) -> None:
    assert build_classifier().suggest(text)[0].code == code


def test_chinese_text_still_goes_to_the_chinese_suggester() -> None:
    clf = build_classifier()
    assert clf.english is not None
    chinese = Classifier(clf.ref, default_classifier_lexicon(), examples=default_example_model())  # no hook
    for text in ("楼下烧烤店的油烟全往我家窗户里灌", "龙头里一滴水也没有", "楼下KTV太吵了"):
        assert [s.code for s in clf.suggest(text)] == [s.code for s in chinese.suggest(text)]
    assert clf.suggest("龙头里一滴水也没有")[0].code == "C03"


def test_english_text_does_not_reach_the_chinese_model() -> None:
    """What the Chinese suggester made of English text (about random) is no longer what the desk sees."""
    clf = build_classifier()
    english = default_english_classifier()
    text = "barbecue smoke from the restaurant downstairs"
    assert clf.suggest(text) == english.suggest(text)
    assert clf.suggest("   ") == [] and english.suggest("") == []


def test_without_examples_the_phrases_still_point_the_way(ref) -> None:  # noqa: ANN001
    clf = EnglishClassifier(ref, load_lexicon_en(ref=ref), None)
    assert clf.suggest("there is a burst water main on the road")[0].code == "C04"
    assert clf.suggest("qwzx vbnm") == []


def test_the_desk_history_learns_english_calls_too() -> None:
    """A desk that files English calls about a bar's music under property disputes (its estate's management lets
    the unit) gets that tag first for the next such call; Chinese calls still teach the Chinese history."""
    from fengqiao.models.classifier import build_classifier

    query = "the bar downstairs is playing loud music every night"
    fresh = build_classifier()
    assert fresh.suggest(query)[0].code == "C14"  # commercial noise, before the desk taught it anything
    clf = build_classifier()
    clf.learn("the bar downstairs is playing loud music every night again", "B02")
    clf.learn("the bar downstairs is playing loud music every single night", "B02")
    first = clf.suggest(query)[0]
    assert (first.code, first.evidence) == ("B02", ("history",))
    assert len(clf.english.history) == 2 and len(clf.history) == 0
    built = build_classifier(
        history=[("the bar downstairs is playing loud music every night again", "B02"), ("店里买到假货", "B01")]
    )
    assert (len(built.english.history), len(built.history)) == (1, 1)  # each language to its own history
    assert "history" in next(s for s in built.suggest(query) if s.code == "B02").evidence
