"""Cross-validation of the classifier over its own example calls (fixtures/examples.csv).

The example-call model's weights are set here, never on the labelled test sets: the examples are split into
k folds, the naive Bayes model is trained on k-1 of them and the whole classifier (lexicon, n-grams, examples)
is scored on the held-out fold. Folds are *grouped*: sentences of one tag that share much of their wording
(character-bigram Jaccard above ``SIMILAR``, transitively) stay in the same fold, so a held-out sentence never
has a near-twin in training and the figure is not flattered by the writer repeating himself.

A held-out example counts as *paraphrased* when it contains none of its tag's name and taxonomy keywords (the
same rule as tests/data/calls.csv), otherwise as *plain*.

    .venv/bin/python -m tests.benchmarks.classifier_cv            # the figures at the shipped weights
    .venv/bin/python -m tests.benchmarks.classifier_cv --grid     # the calibration grid (about a minute)
    .venv/bin/python -m tests.benchmarks.classifier_cv --calibrate  # the displayed score's temperature

``--calibrate`` fits the temperature of the displayed score (``models.classifier.TEMPERATURE``): the one with
the smallest negative log-likelihood of the right tag among the five strongest candidates, so that a first
suggestion shown at 80% is right about 80% of the time.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from fengqiao.models import classifier as C
from fengqiao.models.classifier import Classifier, ExampleModel, default_classifier_lexicon, load_examples, normalize
from fengqiao.models.reference import Reference, default_reference

SIMILAR = 0.3
FOLDS = 5
SEED = 1


def _bigrams(text: str) -> set[str]:
    s = C._chars(text)
    return {s[i : i + 2] for i in range(len(s) - 1)}


def grouped_folds(
    examples: list[tuple[str, str]],
    k: int = FOLDS,
    seed: int = SEED,
    similar: float = SIMILAR,
    features: Callable[[str], set[str]] = _bigrams,
) -> list[list[tuple[str, str]]]:
    """``k`` folds, each tag's examples spread evenly, near-twins (Jaccard of ``features`` above ``similar``,
    transitively) kept together. The English CV passes its content words."""
    by_tag: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for text, code in examples:
        by_tag[code].append((text, code))
    rnd = random.Random(seed)
    folds: list[list[tuple[str, str]]] = [[] for _ in range(k)]
    for code in sorted(by_tag):
        items = by_tag[code]
        grams = [features(t) for t, _ in items]
        parent = list(range(len(items)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for i in range(len(items)):
            for j in range(i):
                union = grams[i] | grams[j]
                if union and len(grams[i] & grams[j]) / len(union) > similar:
                    parent[find(i)] = find(j)
        clusters: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for i, item in enumerate(items):
            clusters[find(i)].append(item)
        groups = list(clusters.values())
        rnd.shuffle(groups)
        groups.sort(key=len, reverse=True)
        sizes = [0] * k
        for group in groups:
            f = min(range(k), key=lambda x: (sizes[x], rnd.random()))
            folds[f].extend(group)
            sizes[f] += len(group)
    return folds


def is_paraphrase(ref: Reference, text: str, code: str) -> bool:
    tag = ref.tags[code]
    s = normalize(text)
    return not any(normalize(w) in s for w in (tag.name_zh, *tag.keywords))


@dataclass
class Result:
    paraphrase: tuple[float, float, int]  # top-1 %, top-3 %, n
    plain: tuple[float, float, int]


def _score(clf: Classifier, ref: Reference, held: list[tuple[str, str]], tally: dict[bool, list[int]]) -> None:
    for text, code in held:
        codes = [s.code for s in clf.suggest(text)]
        t = tally[is_paraphrase(ref, text, code)]
        t[0] += bool(codes) and codes[0] == code
        t[1] += code in codes
        t[2] += 1


def _result(tally: dict[bool, list[int]]) -> Result:
    def pct(t: list[int]) -> tuple[float, float, int]:
        return (100 * t[0] / t[2], 100 * t[1] / t[2], t[2]) if t[2] else (0.0, 0.0, 0)

    return Result(pct(tally[True]), pct(tally[False]))


def fold_models(
    ref: Reference, folds: list[list[tuple[str, str]]], alpha: float = C.EXAMPLE_ALPHA
) -> list[ExampleModel]:
    index = {c: i for i, c in enumerate(ref.tags)}
    out = []
    for i in range(len(folds)):
        train = [(t, index[c]) for j, f in enumerate(folds) if j != i for t, c in f]
        out.append(ExampleModel(train, len(index), alpha=alpha))
    return out


def cross_validate(
    weight: float = C.EXAMPLE_WEIGHT,
    temperature: float = C.EXAMPLE_TEMPERATURE,
    alpha: float = C.EXAMPLE_ALPHA,
    *,
    folds: list[list[tuple[str, str]]] | None = None,
    models: list[ExampleModel] | None = None,
) -> Result:
    """The classifier's accuracy on held-out examples, with the example model trained on the other folds."""
    ref = default_reference()
    lexicon = default_classifier_lexicon()
    folds = folds if folds is not None else grouped_folds(load_examples(ref=ref))
    models = models if models is not None else fold_models(ref, folds, alpha)
    tally: dict[bool, list[int]] = {True: [0, 0, 0], False: [0, 0, 0]}
    for held, model in zip(folds, models, strict=True):
        clf = Classifier(ref, lexicon, examples=model if weight else None)
        clf.example_weight = weight
        clf.example_temperature = temperature
        _score(clf, ref, held, tally)
    return _result(tally)


def learning(similar: float = 0.25) -> tuple[int, int]:
    """Does the desk history still teach? For held-out examples whose first suggestion is wrong and that have a
    near-twin in their fold (same tag, character-bigram Jaccard above ``similar``): the desk files the twin under
    its tag (:meth:`Classifier.learn`), then is the example's first suggestion right? ``(fixed, wrong before)``."""
    ref = default_reference()
    lexicon = default_classifier_lexicon()
    folds = grouped_folds(load_examples(ref=ref))
    fixed = wrong = 0
    for held, model in zip(folds, fold_models(ref, folds), strict=True):
        grams = [_bigrams(t) for t, _ in held]
        clf = Classifier(ref, lexicon, examples=model)
        for i, (text, code) in enumerate(held):
            twins = [
                j
                for j, (_, c) in enumerate(held)
                if j != i and c == code and len(grams[i] & grams[j]) / max(1, len(grams[i] | grams[j])) > similar
            ]
            if not twins:
                continue
            clf.history = C._History()  # a desk with no history but this one call
            first = clf.suggest(text)
            if first and first[0].code == code:
                continue
            wrong += 1
            clf.learn(held[twins[0]][0], code)
            first = clf.suggest(text)
            fixed += bool(first) and first[0].code == code
    return fixed, wrong


def calibrate(
    temperatures: tuple[float, ...] = (0.5, 0.8, 1.0, 1.1, 1.2, 1.5, 2.0),
) -> list[tuple[float, float, float, float]]:
    """``(temperature, mean negative log-likelihood, mean displayed top-1 score, top-1 accuracy)`` on held-out
    examples."""
    ref = default_reference()
    lexicon = default_classifier_lexicon()
    folds = grouped_folds(load_examples(ref=ref))
    codes = list(ref.tags)
    held_out: list[tuple[list[float], list[str], str]] = []
    for held, model in zip(folds, fold_models(ref, folds), strict=True):
        clf = Classifier(ref, lexicon, examples=model)
        for text, code in held:
            ranked = sorted(clf.scores(text).items(), key=lambda kv: (-kv[1][0], kv[0]))[: C.SCORE_FIELD]
            if ranked:
                held_out.append(([v for _, (v, _) in ranked], [codes[i] for i, _ in ranked], code))
    out = []
    for temperature in temperatures:
        nll = shown = right = 0.0
        for values, ranked_codes, code in held_out:
            exps = [math.exp((v - values[0]) / temperature) for v in values]
            total = sum(exps)
            p = exps[ranked_codes.index(code)] / total if code in ranked_codes else 0.0
            nll -= math.log(max(p, 1e-3))
            shown += exps[0] / total
            right += ranked_codes[0] == code
        n = len(held_out)
        out.append((temperature, nll / n, shown / n, right / n))
    return out


def held_out_confidence() -> list[tuple[float, bool]]:
    """``(displayed score of the first suggestion, whether it is right)`` for every held-out example."""
    ref = default_reference()
    lexicon = default_classifier_lexicon()
    folds = grouped_folds(load_examples(ref=ref))
    out: list[tuple[float, bool]] = []
    for held, model in zip(folds, fold_models(ref, folds), strict=True):
        clf = Classifier(ref, lexicon, examples=model)
        for text, code in held:
            found = clf.suggest(text)
            out.append((found[0].score if found else 0.0, bool(found) and found[0].code == code))
    return out


def abstain_threshold(
    pairs: list[tuple[float, bool]], candidates: tuple[float, ...] = tuple(x / 100 for x in range(10, 71, 2))
) -> tuple[float, list[tuple[float, float, float]]]:
    """The threshold below which the suggestion bar abstains, and the curve ``(threshold, abstain rate, share of
    the abstained that were wrong)``. Chosen to save the most wrong first suggestions net of right ones hidden
    (each hidden right one costs the call-taker an F8), on the held-out examples only."""
    curve = []
    best, best_gain = 0.0, 0
    for tau in candidates:
        below = [right for score, right in pairs if score < tau]
        wrong = sum(1 for r in below if not r)
        gain = wrong - (len(below) - wrong)
        curve.append((tau, len(below) / len(pairs), wrong / len(below) if below else 0.0))
        if gain > best_gain:
            best, best_gain = tau, gain
    return best, curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="classifier_cv")
    parser.add_argument("--grid", action="store_true", help="try weights, temperatures and smoothings")
    parser.add_argument("--calibrate", action="store_true", help="fit the displayed score's temperature")
    parser.add_argument("--learning", action="store_true", help="does learning a near-twin fix a wrong first?")
    args = parser.parse_args(argv)
    if args.learning:
        fixed, wrong = learning()
        print(
            f"first suggestion wrong on {wrong} held-out examples with a near-twin; right after learning the "
            f"twin: {fixed}"
        )
        return 0
    if args.calibrate:
        for temperature, nll, shown, right in calibrate():
            print(f"T {temperature:4.1f}  NLL {nll:.3f}  mean first score {shown:.3f}  first right {right:.3f}")
        return 0
    ref = default_reference()
    examples = load_examples(ref=ref)
    folds = grouped_folds(examples)
    print(f"{len(examples)} examples, {FOLDS} grouped folds of {', '.join(str(len(f)) for f in folds)}")

    def show(label: str, r: Result) -> None:
        p1, p3, pn = r.paraphrase
        q1, q3, qn = r.plain
        print(
            f"{label:<34} paraphrased (n={pn}) top-1 {p1:5.1f}  top-3 {p3:5.1f}   "
            f"plain (n={qn}) top-1 {q1:5.1f}  top-3 {q3:5.1f}",
            flush=True,
        )

    show("without the examples", cross_validate(0.0, folds=folds, models=[None] * FOLDS))  # type: ignore[list-item]
    if not args.grid:
        show(
            f"weight {C.EXAMPLE_WEIGHT} T {C.EXAMPLE_TEMPERATURE} alpha {C.EXAMPLE_ALPHA}", cross_validate(folds=folds)
        )
        return 0
    for alpha in (0.1, 0.3, 1.0):
        models = fold_models(ref, folds, alpha)
        for temperature in (2.0, 3.0, 5.0):
            for weight in (2.0, 4.0, 6.0, 8.0):
                show(
                    f"weight {weight} T {temperature} alpha {alpha}",
                    cross_validate(weight, temperature, alpha, folds=folds, models=models),
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
