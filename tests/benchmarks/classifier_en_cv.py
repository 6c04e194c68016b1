"""Cross-validation of the English suggester over its own example calls (fixtures/examples_en.csv).

The weights of models/classifier_en.py are set here, never on tests/data/calls_en.csv (the held-out English set):
the examples are split into k folds, the word naive Bayes model is trained on k-1 of them and the whole English
suggester (name, lexicon, examples) is scored on the held-out fold. Folds are *grouped*: examples of one tag whose
word sets overlap much (Jaccard above ``SIMILAR``, transitively) stay in one fold.

A held-out example is *paraphrased* when it has none of the content words of its tag's English name (the rule of
tests/data/calls_en.csv), otherwise *plain*.

    .venv/bin/python -m tests.benchmarks.classifier_en_cv          # the figures at the shipped weights
    .venv/bin/python -m tests.benchmarks.classifier_en_cv --grid   # the grid the weights were chosen from
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

from fengqiao.models import classifier_en as E
from fengqiao.models.classifier_en import (
    EnglishClassifier,
    WordExampleModel,
    content_words,
    default_lexicon_en,
    load_examples_en,
)
from fengqiao.models.reference import Reference, default_reference

from . import classifier_cv as zh_cv

SIMILAR = 0.4
FOLDS = 5
SEED = 1


def grouped_folds(
    examples: list[tuple[str, str]], k: int = FOLDS, seed: int = SEED, similar: float = SIMILAR
) -> list[list[tuple[str, str]]]:
    """``k`` folds, each tag's examples spread evenly, examples with much the same words kept together (the
    Chinese CV's grouping, over content words instead of character bigrams)."""
    return zh_cv.grouped_folds(examples, k, seed, similar, features=lambda text: set(content_words(text)))


def is_paraphrase(ref: Reference, text: str, code: str) -> bool:
    return not set(content_words(ref.tags[code].name_en)) & set(E.tokens(text))


@dataclass
class Result:
    paraphrase: tuple[float, float, int]  # top-1 %, top-3 %, n
    plain: tuple[float, float, int]
    nll: float = 0.0  # mean negative log-likelihood of the right tag's displayed score (calibration)

    @property
    def top1(self) -> float:
        n = self.paraphrase[2] + self.plain[2]
        return (self.paraphrase[0] * self.paraphrase[2] + self.plain[0] * self.plain[2]) / n if n else 0.0

    @property
    def top3(self) -> float:
        n = self.paraphrase[2] + self.plain[2]
        return (self.paraphrase[1] * self.paraphrase[2] + self.plain[1] * self.plain[2]) / n if n else 0.0


def fold_models(
    ref: Reference, folds: list[list[tuple[str, str]]], alpha: float = E.EXAMPLE_ALPHA
) -> list[WordExampleModel]:
    index = {c: i for i, c in enumerate(ref.tags)}
    return [
        WordExampleModel([(t, index[c]) for j, f in enumerate(folds) if j != i for t, c in f], len(index), alpha=alpha)
        for i in range(len(folds))
    ]


def cross_validate(
    weight: float = E.EXAMPLE_WEIGHT,
    temperature: float = E.EXAMPLE_TEMPERATURE,
    alpha: float = E.EXAMPLE_ALPHA,
    *,
    folds: list[list[tuple[str, str]]] | None = None,
    models: list[WordExampleModel] | None = None,
    score_temperature: float = E.TEMPERATURE,
) -> Result:
    """The English suggester's accuracy on held-out examples, the example model trained on the other folds."""
    ref = default_reference()
    lexicon = default_lexicon_en()
    folds = folds if folds is not None else grouped_folds(load_examples_en(ref=ref))
    models = models if models is not None else fold_models(ref, folds, alpha)
    tally: dict[bool, list[int]] = {True: [0, 0, 0], False: [0, 0, 0]}
    nll = 0.0
    n = 0
    for held, model in zip(folds, models, strict=True):
        clf = EnglishClassifier(ref, lexicon, model if weight else None)
        clf.example_weight = weight
        clf.example_temperature = temperature
        for text, code in held:
            ranked = sorted(clf.scores(text).items(), key=lambda kv: (-kv[1][0], kv[0]))
            codes = [clf.codes[i] for i, _ in ranked[:3]]
            t = tally[is_paraphrase(ref, text, code)]
            t[0] += bool(codes) and codes[0] == code
            t[1] += code in codes
            t[2] += 1
            values = [v for _, (v, _) in ranked[: E.SCORE_FIELD]]
            top = [clf.codes[i] for i, _ in ranked[: E.SCORE_FIELD]]
            p = 0.0
            if code in top:
                exps = [math.exp((v - values[0]) / score_temperature) for v in values]
                p = exps[top.index(code)] / sum(exps)
            nll -= math.log(max(p, 1e-3))
            n += 1

    def pct(t: list[int]) -> tuple[float, float, int]:
        return (100 * t[0] / t[2], 100 * t[1] / t[2], t[2]) if t[2] else (0.0, 0.0, 0)

    return Result(pct(tally[True]), pct(tally[False]), nll / max(1, n))


def show(label: str, r: Result) -> None:
    p1, p3, pn = r.paraphrase
    q1, q3, qn = r.plain
    print(
        f"{label:<34} all top-1 {r.top1:5.1f} top-3 {r.top3:5.1f}   paraphrased (n={pn}) {p1:5.1f} {p3:5.1f}   "
        f"plain (n={qn}) {q1:5.1f} {q3:5.1f}   NLL {r.nll:.3f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="classifier_en_cv")
    parser.add_argument("--grid", action="store_true", help="try weights, temperatures and smoothings")
    parser.add_argument("--calibrate", action="store_true", help="fit the displayed score's temperature")
    args = parser.parse_args(argv)
    ref = default_reference()
    examples = load_examples_en(ref=ref)
    folds = grouped_folds(examples)
    print(f"{len(examples)} examples, {FOLDS} grouped folds of {', '.join(str(len(f)) for f in folds)}")
    show("without the examples", cross_validate(0.0, folds=folds, models=[None] * FOLDS))  # type: ignore[list-item]
    if args.calibrate:
        models = fold_models(ref, folds)
        for t in (0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0):
            show(f"score temperature {t}", cross_validate(folds=folds, models=models, score_temperature=t))
        return 0
    if not args.grid:
        show(
            f"weight {E.EXAMPLE_WEIGHT} T {E.EXAMPLE_TEMPERATURE} alpha {E.EXAMPLE_ALPHA}", cross_validate(folds=folds)
        )
        return 0
    for alpha in (0.1, 0.3, 1.0):
        models = fold_models(ref, folds, alpha)
        for temperature in (1.0, 2.0, 3.0, 5.0):
            for weight in (2.0, 4.0, 6.0, 8.0, 12.0):
                show(
                    f"weight {weight} T {temperature} alpha {alpha}",
                    cross_validate(weight, temperature, alpha, folds=folds, models=models),
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
