"""The tag classifier: the labelled set, accuracy targets, learning from the desk's history, the lexicon file."""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from fengqiao.models.classifier import (
    Classifier,
    ExampleModel,
    build_classifier,
    default_classifier_lexicon,
    default_example_model,
    load_examples,
    load_lexicon,
    normalize,
)
from fengqiao.models.errors import ReferenceDataError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.reference import default_reference
from fengqiao.store.intake import desk_history

DATA = Path(__file__).parent / "data"


def labelled(name: str = "calls.csv") -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def tag_words(ref, code: str) -> list[str]:  # noqa: ANN001
    tag = ref.tags[code]
    return [normalize(w) for w in (tag.name_zh, *tag.keywords)]


@pytest.mark.parametrize("name", ["calls.csv", "calls_fresh.csv", "calls_board.csv"])
def test_labelled_sets_are_what_they_claim(ref, name: str) -> None:
    rows = labelled(name)
    assert {r["kind"] for r in rows} == {"plain", "paraphrase"}
    assert {r["tag"] for r in rows} == set(ref.tags)  # every one of the 75 tags
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts), "no sentence twice"
    for r in rows:
        hits = [w for w in tag_words(ref, r["tag"]) if w in normalize(r["text"])]
        if r["kind"] == "paraphrase":
            assert not hits, f"paraphrase of {r['tag']} uses {hits}: {r['text']}"
        else:
            assert hits, f"plain row of {r['tag']} has none of its words: {r['text']}"


def test_main_set_size_and_halves() -> None:
    rows = labelled()
    assert len(rows) >= 300
    assert sum(r["kind"] == "paraphrase" for r in rows) >= len(rows) / 2


def accuracy(classifier: Classifier, rows: list[dict[str, str]], kind: str) -> tuple[float, float]:
    picked = [r for r in rows if r["kind"] == kind]
    top1 = top3 = 0
    for r in picked:
        codes = [s.code for s in classifier.suggest(r["text"])]
        top1 += bool(codes) and codes[0] == r["tag"]
        top3 += r["tag"] in codes
    return top1 / len(picked), top3 / len(picked)


def test_accuracy_targets_on_the_labelled_set() -> None:
    """The issue's targets (make bench prints the figures, with the fresh set as the honest estimate)."""
    classifier = build_classifier()
    rows = labelled()
    para1, para3 = accuracy(classifier, rows, "paraphrase")
    plain1, plain3 = accuracy(classifier, rows, "plain")
    assert para3 >= 0.80 and para1 >= 0.60, (para1, para3)
    assert plain3 >= 0.97 and plain1 >= 0.90, (plain1, plain3)


@pytest.mark.parametrize("name", ["calls_fresh.csv", "calls_blind.csv", "calls_board.csv"])
def test_accuracy_on_the_sets_nobody_tuned_on(name: str) -> None:
    """The gate that matters: sets written after the lexicon and weights were frozen (fresh) and by writers who
    never saw them (blind, board-style). Nothing was tuned on them; make bench prints the figures."""
    classifier = build_classifier()
    rows = labelled(name)
    found = [[s.code for s in classifier.suggest(r["text"])] for r in rows]
    top1 = sum(bool(f) and f[0] == r["tag"] for f, r in zip(found, rows, strict=True)) / len(rows)
    top3 = sum(r["tag"] in f for f, r in zip(found, rows, strict=True)) / len(rows)
    assert top1 >= 0.88 and top3 >= 0.97, (top1, top3)


@pytest.mark.parametrize(
    ("name", "top1_min", "top3_min"), [("calls_real_held.csv", 0.60, 0.80), ("calls_real_dev.csv", 0.72, 0.85)]
)
def test_accuracy_on_real_messages(name: str, top1_min: float, top3_min: float) -> None:
    """Real messages citizens wrote to a government message board (tests/data/README): the held-out half was never
    looked at while tuning; the dev half is what the stop-26 lexicon terms and examples were written against. A
    regression gate a little below today's figures (held-out 63.9% / 84.0%), not the issue's goal."""
    classifier = build_classifier()
    rows = labelled(name)
    assert len(rows) >= 240 and {r["kind"] for r in rows} == {"real"}
    found = [[s.code for s in classifier.suggest(r["text"])] for r in rows]
    top1 = sum(bool(f) and f[0] == r["tag"] for f, r in zip(found, rows, strict=True)) / len(rows)
    top3 = sum(r["tag"] in f for f, r in zip(found, rows, strict=True)) / len(rows)
    assert top1 >= top1_min and top3 >= top3_min, (top1, top3)


def test_the_real_halves_share_no_message() -> None:
    dev, held = labelled("calls_real_dev.csv"), labelled("calls_real_held.csv")
    assert not {r["source"] for r in dev} & {r["source"] for r in held}
    assert not {r["text"] for r in dev} & {r["text"] for r in held}


def test_every_real_message_has_three_readable_labels() -> None:
    codes = set(default_reference().tags)
    for name in ("calls_real_dev.csv", "calls_real_held.csv"):
        for r in labelled(name):
            assert r["tag"] in codes, (name, r["source"])
            for who in ("c", "d"):
                assert r[f"tag_{who}"] in codes | {"NONE"}, (name, r["source"], who)
                assert r[f"sure_{who}"] in ("yes", "no"), (name, r["source"], who)
                also = r[f"also_{who}"]
                assert also == "" or (also in codes and also != r[f"tag_{who}"]), (name, r["source"], who)


def test_the_drill_calls_are_in_no_labelled_set() -> None:
    from tests.benchmarks.bench_intake import CALLS

    texts = {r["text"] for path in DATA.glob("calls*.csv") for r in labelled(path.name)}
    assert not [c[3] for c in CALLS if c[3] in texts]


def test_suggestions_are_ranked_scored_and_explained() -> None:
    classifier = build_classifier()
    out = classifier.suggest("龙头里一滴水也没有", top=3)
    assert out[0].code == "C03"
    assert len(out) == 3 and out[0].score >= out[1].score >= out[2].score
    assert 0 < out[0].score <= 1 and "一滴水" in out[0].evidence
    assert classifier.suggest("   ") == [] and classifier.suggest("") == []
    assert classifier.suggest("拿不到工钱")[0].code == "B03"


def test_the_longer_phrase_wins() -> None:
    """ "漏水到" (neighbour dispute) hides its "漏水" (burst main)."""
    out = build_classifier().suggest("楼上漏水到我家了")
    assert out[0].code == "B04" and "漏水" not in out[0].evidence


def test_a_pattern_stays_within_one_clause() -> None:
    classifier = build_classifier()
    assert "儿子…不管" not in classifier.suggest("我儿子在学校被同学打了，老师也不管")[0].evidence


def test_the_desk_learns_a_new_wording() -> None:
    """After the desk picks C02 for a new kind of wording, a similar description suggests C02."""
    classifier = build_classifier()
    new = "有人从五楼窗户吊了个插排下来给电瓶车充电"
    similar = "三楼窗口又吊插排给电瓶车充电"
    assert "C02" not in [s.code for s in classifier.suggest(similar)]
    classifier.learn(new, "C02")
    first = classifier.suggest(similar)[0]
    assert first.code == "C02" and "history" in first.evidence
    # Unrelated calls are not pulled towards it.
    assert classifier.suggest("楼上漏水到我家了")[0].code == "B04"


def test_history_is_read_from_the_store_per_desk(store, ref) -> None:  # noqa: ANN001
    new = "有人从五楼窗户吊了个插排下来给电瓶车充电"
    store.dispatch(IntakeForm(phone="13857512345", town="SHH", description=new), "C02")
    history = desk_history(store.db, "test-desk")
    assert history == [(new, "C02")]
    assert desk_history(store.db, "another-desk") == []
    classifier = build_classifier(ref, history)
    assert classifier.suggest("三楼窗口又吊插排给电瓶车充电")[0].code == "C02"


def test_history_ignores_unknown_codes_and_duplicates() -> None:
    classifier = build_classifier(history=[("说了什么", "Z99"), ("插排充电", "C02"), ("插排充电", "C02")])
    assert len(classifier.history) == 1


def test_lexicon_file_errors_name_the_file(tmp_path, ref) -> None:  # noqa: ANN001
    bad = tmp_path / "lexicon.toml"
    bad.write_text('[Z99]\nterms = ["x"]\n', encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=r"lexicon.toml: unknown tag \[Z99\]"):
        load_lexicon(bad, ref)
    bad.write_text('[A01]\nterms = ["甲…乙…丙"]\n', encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="甲…乙"):
        load_lexicon(bad, ref)
    bad.write_text("[A01\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="lexicon.toml"):
        load_lexicon(bad, ref)


def test_lexicon_covers_every_tag(ref) -> None:  # noqa: ANN001
    lexicon = load_lexicon()
    assert set(lexicon.terms) == set(ref.tags)
    assert "小区" in lexicon.weak


# ---- the example calls (fixtures/examples.csv) -------------------------------------------------------------


def _bigrams(text: str) -> set[str]:
    s = "".join(ch for ch in normalize(text) if ch.isalnum())
    return {s[i : i + 2] for i in range(len(s) - 1)}


def test_example_calls_cover_every_tag_mostly_in_callers_words(ref) -> None:  # noqa: ANN001
    examples = load_examples()
    per_tag = Counter(code for _, code in examples)
    assert set(per_tag) == set(ref.tags) and min(per_tag.values()) >= 30, per_tag.most_common()[-3:]
    texts = [normalize(text) for text, _ in examples]
    assert len(set(texts)) == len(texts), "no example twice"
    paraphrased = [text for text, code in examples if not any(w in normalize(text) for w in tag_words(ref, code))]
    assert len(paraphrased) >= 0.6 * len(examples)


def _prefix(grams: set[str], order: dict[str, int], t: float = 0.6) -> list[str]:
    """The rarest |s| - ceil(t|s|) + 1 grams: two sets with Jaccard >= t share at least one of their prefixes'
    grams (prefix filtering), so only those need an index."""
    ranked = sorted(grams, key=lambda g: (order.get(g, 0), g))
    return ranked[: len(ranked) - math.ceil(t * len(ranked)) + 1]


def test_example_calls_are_not_the_test_sentences() -> None:
    """The labelled sets measure the classifier: none of their sentences (or a near copy) may be an example."""
    examples = [(text, normalize(text).strip(), _bigrams(text)) for text, _ in load_examples()]
    order = Counter(g for _, _, grams in examples for g in grams)  # how common each gram is (rare first)
    index: dict[str, list[int]] = defaultdict(list)
    for i, (_, _, grams) in enumerate(examples):
        for g in _prefix(grams, order):
            index[g].append(i)
    exact_texts = {norm: text for text, norm, _ in examples}
    copies = []  # only the examples are named: the test sentences are not to be read
    for path in sorted(DATA.glob("calls*.csv")):
        for row in labelled(path.name):
            norm = normalize(row["text"]).strip()
            if norm in exact_texts:
                copies.append(f"{path.name}: {exact_texts[norm]}")
            grams = _bigrams(row["text"])
            candidates = {i for g in _prefix(grams, order) for i in index.get(g, ())}
            for i in candidates:
                other = examples[i][2]
                union = len(grams | other)
                if union and len(grams & other) / union >= 0.6:
                    copies.append(f"{path.name}: {examples[i][0]}")
    assert not copies, "\n".join(copies)


def test_example_calls_carry_wording_the_lexicon_lacks() -> None:
    text = "单位不给我们交养老的钱"  # no phrase of the lexicon says which enquiry this is
    without = Classifier(lexicon=default_classifier_lexicon())
    assert without.suggest(text)[0].code != "D02"
    first = build_classifier().suggest(text)[0]
    assert first.code == "D02" and "examples" in first.evidence


def test_the_desk_history_outweighs_the_example_calls() -> None:
    """A desk that files this wording under another tag than the examples would is followed the next time."""
    classifier = build_classifier()
    similar = "小区门口早上有人摆摊卖菜，消防通道都堵了"
    assert classifier.suggest(similar)[0].code == "A02"
    classifier.learn("小区门口每天早上有人摆摊卖菜，把消防通道堵了", "B02")
    first = classifier.suggest(similar)[0]
    assert first.code == "B02" and "history" in first.evidence


def test_example_model_is_trained_once_and_shared(ref) -> None:  # noqa: ANN001
    model = default_example_model()
    assert len(model) == len(load_examples()) and default_example_model() is model
    assert build_classifier(ref).examples is model and build_classifier(ref).examples is model
    # A custom reference trains its own from the packaged file, in that reference's tag order.
    tiny = ExampleModel([("龙头里没水", 0), ("路灯不亮", 1)], 2)
    assert max(tiny.probabilities("家里龙头没水了").items(), key=lambda kv: kv[1])[0] == 0
    assert tiny.probabilities("zzz") == {}


def test_example_file_errors_name_the_file_and_line(tmp_path, ref) -> None:  # noqa: ANN001
    bad = tmp_path / "examples.csv"
    bad.write_text("tag,text\nA01,有人在楼顶加盖\nZ99,说了什么\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=r"examples.csv line 3: unknown tag 'Z99'"):
        load_examples(bad, ref)
    bad.write_text("tag,text\nA01,\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="examples.csv line 2: empty text"):
        load_examples(bad, ref)
    bad.write_text("tag,text\nA01,有人,加盖\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="examples.csv line 2: expected 2 columns"):
        load_examples(bad, ref)
    bad.write_text("code,sentence\nA01,有人在楼顶加盖\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="examples.csv: the first line must be the header"):
        load_examples(bad, ref)
    with pytest.raises(ReferenceDataError, match="cannot read"):
        load_examples(tmp_path / "missing.csv", ref)
