"""Tag suggestions for a description typed in English: offline, explainable, the same :class:`Suggestion` objects.

The Chinese suggester (``models/classifier.py``) reads characters; English is read as words. Two signals are
added up per tag:

1. **Phrases.** The tag's English name (``taxonomy.csv``), each content word of that name, and the English
   caller-wording lexicon (``fixtures/lexicon_en.toml``) are looked for in the text as word sequences, after
   lower-casing, British/American spelling folding (neighbour/neighbor, licence/license) and a light stemmer
   (plural, -ing and -ed endings: "burst pipes" is "burst pipe", "flooded" is "flooding"). A lexicon entry
   ``a…b`` matches when *a* comes before *b* in the same clause within :data:`GAP` words. A phrase weighs more
   the more words it has, the fewer tags share it, and by its source (name > lexicon > a single word of the
   name); the lexicon's ``[weak]`` words (where, who, please, neighbour…) count :data:`WEAK` as much. An
   occurrence inside a longer matched phrase does not count on its own, and within a tag each further phrase
   counts for less (:data:`DECAY`).
2. **Example calls.** A multinomial naive Bayes model over word unigrams and bigrams (stopwords left out) of
   ``fixtures/examples_en.csv`` (about 12 English caller descriptions per tag), trained when the suggester is
   built (a few milliseconds), adds :data:`EXAMPLE_WEIGHT` times its tempered probability of each tag.

The weights were set by grouped cross-validation over the example calls (``python -m
tests.benchmarks.classifier_en_cv``), never on the held-out English set ``tests/data/calls_en.csv``.
:meth:`Classifier.suggest <fengqiao.models.classifier.Classifier.suggest>` hands a description to this
suggester when :func:`is_english` says it is English (mostly ASCII letters, at least two words).
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from .classifier import (
    ELLIPSIS,
    ExampleModel,
    Suggestion,
    _History,
    _read_fixture,
    add_history_votes,
    load_examples,
    tfidf_profiles,
)
from .errors import ReferenceDataError
from .reference import Reference, default_reference, shipped_reference

GAP = 6  # "a…b": at most this many words between the end of a and the start of b
WEAK = 0.4  # factor for the lexicon's [weak] words
DECAY = 0.6  # the n-th phrase of a tag counts DECAY**n
SOURCE_WEIGHT = {"name": 2.5, "lexicon": 1.5, "nameword": 1.2}
PROFILE_WEIGHT = 8.0  # weight of the word-profile cosine (0..1)
EXAMPLE_ALPHA = 0.3  # additive smoothing of the example model's feature counts
EXAMPLE_TEMPERATURE = 2.0  # its log-likelihoods are divided by this before the softmax
EXAMPLE_WEIGHT = 6.0  # weight of its probability (0..1) for a tag
EXAMPLE_EVIDENCE = 0.3  # "examples" is listed as evidence for a tag given at least this probability
TEMPERATURE = 0.8  # softmax temperature of the displayed score (fitted on the cross-validation: least NLL)
SCORE_FIELD = 5  # the displayed score is a share among this many strongest candidates
MAX_WORDS = 200  # a longer description is read as its first and last MAX_WORDS/2 words
ASCII_SHARE = 0.6  # is_english: at least this share of the letters are ASCII

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")
_ASCII_WORD = re.compile(r"[A-Za-z]{2,}")
_CLAUSE_BREAK = frozenset(",.!?;:，。！？；：\n")

# Words that say nothing about the matter: left out of the example model's features and of a name's words.
# Negations (no, not, without, never) stay: "no water" is a different call from "water".
STOPWORDS = frozenset(
    """a an the of to in on at by for from with and or but as is are was were be been being am it its this that
    these those there here i me my we us our you your he him his she her they them their who whom which what
    when where why how do does did doing done have has had having will would shall should can could may might
    must so if then than too very just also again still some any all each every such own same about into over
    under up down out off only other please hello hi yes ok okay one two really sir madam call calling
    caller says said say tell told reports report states stated asks ask enquires""".split()
)
_SPELLING = {
    "neighbour": "neighbor",
    "neighbours": "neighbors",
    "neighbourhood": "neighborhood",
    "colour": "color",
    "coloured": "colored",
    "licence": "license",
    "licences": "licenses",
    "licenced": "licensed",
    "unlicenced": "unlicensed",
    "centre": "center",
    "centres": "centers",
    "mould": "mold",
    "mouldy": "moldy",
    "tyre": "tire",
    "tyres": "tires",
    "storey": "story",
    "storeys": "stories",
    "practising": "practicing",
    "unauthorised": "unauthorized",
    "organised": "organized",
    "metre": "meter",
    "metres": "meters",
    "kerb": "curb",
    "fibre": "fiber",
    "lorry": "truck",
    "lorries": "trucks",
    "rubbish": "garbage",
    "paralysed": "paralyzed",
    "fertiliser": "fertilizer",
    "diarrhoea": "diarrhea",
    "programme": "program",
    "labour": "labor",
    "cheque": "check",
    "pavement": "sidewalk",
    "pavements": "sidewalks",
}
_IRREGULAR = {
    "fell": "fall",
    "fallen": "fall",
    "broke": "break",
    "broken": "break",
    "burnt": "burn",
    "stolen": "steal",
    "stole": "steal",
    "bitten": "bit",
    "children": "child",
    "kids": "kid",
    "men": "man",
    "women": "woman",
    "died": "die",
    "dying": "die",
    "lying": "lie",
    "paid": "pay",
    "sold": "sell",
    "bought": "buy",
    "threw": "throw",
    "thrown": "throw",
    "dug": "dig",
    "built": "build",
    "kept": "keep",
    "leaves": "leaf",
    "ran": "run",
    "gone": "go",
    "went": "go",
    "lost": "lose",
    "left": "left",
    "taken": "take",
    "took": "take",
}


def fold(text: str) -> str:
    """NFKC, lower case, curly apostrophes straight."""
    return unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light stemmer: spelling folded, plural, -ing and -ed endings and a final e taken off (``smoking``,
    ``smoked`` and ``smoke`` are all ``smok``). Not linguistics: the same word always gives the same stem."""
    w = word.replace("'", "")
    w = _SPELLING.get(w, w)
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ing") and len(w) >= 6:
        w = _undouble(w[:-3])
    elif w.endswith("ed") and len(w) >= 5 and not w.endswith("eed"):
        w = _undouble(w[:-2])
    if w.endswith("e") and len(w) >= 4:
        w = w[:-1]
    return w


def _undouble(w: str) -> str:
    return w[:-1] if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "lsz" else w


def tokens(text: str) -> list[str]:
    """The stems of the text's words, in order."""
    return [stem(m.group()) for m in _TOKEN.finditer(fold(text))]


def _tokens_with_clauses(text: str) -> tuple[list[str], list[int]]:
    s = fold(text)
    out: list[str] = []
    clauses: list[int] = []
    clause = 0
    last = 0
    for m in _TOKEN.finditer(s):
        clause += sum(1 for ch in s[last : m.start()] if ch in _CLAUSE_BREAK)
        last = m.start()
        out.append(stem(m.group()))
        clauses.append(clause)
    return out, clauses


def is_english(text: str) -> bool:
    """Is ``text`` typed in English? At least :data:`ASCII_SHARE` of its letters are ASCII and it has at least
    two words of two or more ASCII letters ("楼下KTV太吵" is Chinese; "barbecue smoke" is English)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    ascii_letters = sum(1 for ch in letters if ch.isascii())
    if ascii_letters < ASCII_SHARE * len(letters):
        return False
    return len(_ASCII_WORD.findall(text)) >= 2


def content_words(text: str) -> list[str]:
    """The stems of ``text`` without stopwords (a tag name's words: "Burst water mains" is burst, water, main)."""
    return [t for t in tokens(text) if t not in STOPWORDS]


# ---- the data files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnglishLexicon:
    terms: dict[str, tuple[str, ...]]
    weak: frozenset[tuple[str, ...]] = frozenset()


def load_lexicon_en(path: Path | str | None = None, ref: Reference | None = None) -> EnglishLexicon:
    """Read ``fixtures/lexicon_en.toml`` (``[TAG] terms = [...]`` and ``[weak] terms = [...]``); a fault names
    the file and the section."""
    ref = ref or default_reference()
    name, text = _read_fixture(path, "lexicon_en.toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReferenceDataError(f"{name}: {exc}") from None
    out: dict[str, tuple[str, ...]] = {}
    weak: frozenset[tuple[str, ...]] = frozenset()
    for code, section in data.items():
        if code != "weak" and code not in ref.tags:
            raise ReferenceDataError(f"{name}: unknown tag [{code}]")
        terms = section.get("terms") if isinstance(section, dict) else None
        if not isinstance(terms, list) or not all(isinstance(x, str) and x.strip() for x in terms):
            raise ReferenceDataError(f"{name} [{code}]: terms must be a list of non-empty strings")
        for term in terms:
            parts = term.split(ELLIPSIS)
            if len(parts) > 2 or not all(tokens(p) for p in parts):
                raise ReferenceDataError(f"{name} [{code}]: {term!r} must be words or a…b")
        if code == "weak":
            weak = frozenset(tuple(tokens(t)) for t in terms)
        else:
            out[code] = tuple(t.strip() for t in terms)
    return EnglishLexicon(out, weak)


def load_examples_en(path: Path | str | None = None, ref: Reference | None = None) -> list[tuple[str, str]]:
    """Read ``fixtures/examples_en.csv`` (``tag,text``): ``(text, code)`` pairs; a fault names file and line."""
    return load_examples(path, ref, packaged="examples_en.csv")


# ---- the example model --------------------------------------------------------------------------------


def features(text: str | list[str]) -> Counter[str]:
    """Word unigrams and adjacent bigrams of the stems (of ``text``, or the given stems), stopwords left out."""
    words = [t for t in (tokens(text) if isinstance(text, str) else text) if t not in STOPWORDS]
    if len(words) > MAX_WORDS:
        words = words[: MAX_WORDS // 2] + words[-MAX_WORDS // 2 :]
    out: Counter[str] = Counter(words)
    out.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    return out


class WordExampleModel(ExampleModel):
    """Multinomial naive Bayes over word features (:func:`features`), one class per tag, uniform prior, sublinear
    counts: the Chinese model's arithmetic (models/classifier.py), over words instead of characters."""

    def __init__(self, items: Iterable[tuple[str, int]], ntags: int, *, alpha: float = EXAMPLE_ALPHA) -> None:
        super().__init__(items, ntags, alpha=alpha, featurize=features)

    def probabilities(self, text: Any, temperature: float = EXAMPLE_TEMPERATURE) -> dict[int, float]:
        """As the Chinese model's, with the English temperature by default (``text``: a text or its stems)."""
        return super().probabilities(text, temperature)


# ---- the suggester ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Phrase:
    tag: int
    text: str  # as written (for evidence)
    weight: float
    parts: tuple[tuple[str, ...], ...]  # one part = literal word sequence, two = "a…b"


def _length_factor(words: tuple[str, ...]) -> float:
    n = len(words)
    if n == 1:
        return 1.0 if len(words[0]) >= 4 else 0.7
    return 1.5 if n == 2 else 1.8


class EnglishClassifier:
    """Suggests tags for an English description. Build once (milliseconds); :meth:`suggest` is fast."""

    def __init__(
        self,
        ref: Reference | None = None,
        lexicon: EnglishLexicon | None = None,
        examples: WordExampleModel | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """``examples``: a trained :class:`WordExampleModel` over this reference's tag order, or ``(text, code)``
        pairs to train one from; ``None`` leaves the example-call signal out."""
        self.ref = ref or default_reference()
        self.codes = list(self.ref.tags)
        index = {c: i for i, c in enumerate(self.codes)}
        lexicon = load_lexicon_en(ref=self.ref) if lexicon is None else lexicon
        self.example_weight = EXAMPLE_WEIGHT
        self.example_temperature = EXAMPLE_TEMPERATURE
        if examples is None or isinstance(examples, WordExampleModel):
            self.examples = examples
        else:
            self.examples = WordExampleModel(
                ((t, index[c]) for t, c in examples if c in index and t.strip()), len(self.codes)
            )
        phrases: list[_Phrase] = []
        for i, code in enumerate(self.codes):
            tag = self.ref.tags[code]
            entries = [(tag.name_en, "name")]
            entries += [(w, "nameword") for w in dict.fromkeys(content_words(tag.name_en))]
            entries += [(t, "lexicon") for t in lexicon.terms.get(code, ())]
            seen: set[tuple[tuple[str, ...], ...]] = set()
            for text, source in entries:
                parts = tuple(tuple(tokens(p)) for p in text.split(ELLIPSIS))
                if not all(parts) or parts in seen:
                    continue
                seen.add(parts)
                weight = SOURCE_WEIGHT[source] * math.prod(_length_factor(p) for p in parts)
                if len(parts) == 1 and parts[0] in lexicon.weak:
                    weight *= WEAK
                phrases.append(_Phrase(i, text, weight, parts))
        share = Counter(p.parts for p in {(p.parts, p.tag): p for p in phrases}.values())
        self._literal: dict[tuple[str, ...], list[_Phrase]] = defaultdict(list)
        self._pattern: dict[tuple[str, ...], list[_Phrase]] = defaultdict(list)
        atoms: set[tuple[str, ...]] = set()
        for p in phrases:
            p2 = _Phrase(p.tag, p.text, p.weight / share[p.parts], p.parts)
            (self._literal if len(p.parts) == 1 else self._pattern)[p.parts[0]].append(p2)
            atoms.update(p.parts)
        by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for atom in atoms:
            by_first[atom[0]].append(atom)
        self._by_first = {w: sorted(lst, key=len, reverse=True) for w, lst in by_first.items()}
        self.profile_weight = PROFILE_WEIGHT
        self._build_profiles(phrases)
        self.history = _History(grams=features)  # the desk's English calls (Classifier.add_history / learn)

    def _build_profiles(self, phrases: list[_Phrase]) -> None:
        """Each tag's phrases as one bag of content words; TF-IDF over the tags, L2-normalized."""
        docs: list[Counter[str]] = [Counter() for _ in self.codes]
        for p in phrases:
            for part in p.parts:
                docs[p.tag].update(w for w in part if w not in STOPWORDS)
        self._profile_idf, self._profile_postings = tfidf_profiles(docs)

    def _profile_scores(self, words: list[str]) -> dict[int, float]:
        counts = Counter(w for w in words if w not in STOPWORDS)
        q = {w: (1 + math.log(c)) * self._profile_idf[w] for w, c in counts.items() if w in self._profile_idf}
        if not q:
            return {}
        norm = math.sqrt(sum(x * x for x in q.values()))
        acc: dict[int, float] = defaultdict(float)
        for w, x in q.items():
            for tag, y in self._profile_postings[w]:
                acc[tag] += x * y
        return {tag: v / norm for tag, v in acc.items()}

    @staticmethod
    def handles(text: str) -> bool:
        """Is this a description for the English suggester (see :func:`is_english`)?"""
        return is_english(text)

    def _phrase_scores(self, words: list[str], clauses: list[int]) -> dict[int, list[tuple[float, str]]]:
        occurrences: list[tuple[int, int, tuple[str, ...]]] = []
        for i, w in enumerate(words):
            for atom in self._by_first.get(w, ()):
                if tuple(words[i : i + len(atom)]) == atom:
                    occurrences.append((i, i + len(atom), atom))
        # An occurrence strictly inside a longer one does not count on its own (see classifier.py).
        occurrences.sort(key=lambda o: (o[0], o[0] - o[1]))
        kept: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
        reach = -1
        for start, end, atom in occurrences:
            if end > reach:
                kept[atom].append((start, end))
                reach = end
        found: dict[int, list[tuple[float, str]]] = defaultdict(list)
        for atom, spans in kept.items():
            for p in self._literal.get(atom, ()):
                found[p.tag].append((p.weight, p.text))
            for p in self._pattern.get(atom, ()):
                second = kept.get(p.parts[1])
                if second and any(
                    e1 <= s2 <= e1 + GAP and clauses[s2] == clauses[e1 - 1] for _, e1 in spans for s2, _ in second
                ):
                    found[p.tag].append((p.weight, p.text))
        return found

    def scores(self, text: str) -> dict[int, tuple[float, list[str]]]:
        """Raw evidence per tag index: (score, phrases that matched)."""
        words, clauses = _tokens_with_clauses(text)
        if len(words) > MAX_WORDS:
            half = MAX_WORDS // 2
            words, clauses = words[:half] + words[-half:], clauses[:half] + [c + 1 for c in clauses[-half:]]
        out: dict[int, tuple[float, list[str]]] = {}
        for tag, hits in self._phrase_scores(words, clauses).items():
            hits.sort(reverse=True)
            out[tag] = (sum(w * DECAY**n for n, (w, _) in enumerate(hits)), [h for _, h in hits])
        if self.profile_weight:
            for tag, v in self._profile_scores(words).items():
                total, ev = out.get(tag, (0.0, []))
                out[tag] = (total + self.profile_weight * v, ev)
        if self.examples is not None and self.example_weight:
            for tag, p in self.examples.probabilities(words, self.example_temperature).items():
                total, ev = out.get(tag, (0.0, []))
                out[tag] = (total + self.example_weight * p, ev + ["examples"] if p >= EXAMPLE_EVIDENCE else ev)
        add_history_votes(out, self.history, text)
        return out

    def suggest(self, text: str, top: int = 3) -> list[Suggestion]:
        """The ``top`` most likely tags for ``text``, best first (empty when nothing points anywhere)."""
        if not text or not text.strip():
            return []
        raw = self.scores(text)
        if not raw:
            return []
        ranked = sorted(raw.items(), key=lambda kv: (-kv[1][0], kv[0]))
        best = ranked[0][1][0]
        if best <= 0.05:
            return []
        exps = [math.exp((v - best) / TEMPERATURE) for _, (v, _) in ranked[:SCORE_FIELD]]
        total = sum(exps)
        return [
            Suggestion(self.codes[tag], e / total, value, tuple(dict.fromkeys(ev)))
            for (tag, (value, ev)), e in zip(ranked[:top], exps, strict=False)
        ]


@cache
def default_lexicon_en() -> EnglishLexicon:
    return load_lexicon_en(ref=shipped_reference())


@cache
def default_english_classifier() -> EnglishClassifier:
    """The English suggester over the packaged lexicon and example calls, built once per process."""
    ref = shipped_reference()
    return EnglishClassifier(ref, default_lexicon_en(), load_examples_en(ref=ref))


def build_english_classifier(ref: Reference | None = None) -> EnglishClassifier:
    ref = ref or default_reference()
    if ref is shipped_reference():
        # The built model is shared (built once per process); each classifier gets a history of its own.
        mine = copy.copy(default_english_classifier())
        mine.history = _History(grams=features)
        return mine
    return EnglishClassifier(ref, load_lexicon_en(ref=ref), load_examples_en(ref=ref))


def keyword_baseline_en(ref: Reference, text: str, top: int = 3) -> list[str]:
    """The plainest English classifier: count the words of a tag's English name found in the text (bench floor)."""
    found = set(content_words(text))
    hits = []
    for i, tag in enumerate(ref.tags.values()):
        n = sum(1 for w in set(content_words(tag.name_en)) if w in found)
        if n:
            hits.append((-n, i, tag.code))
    return [code for _, _, code in sorted(hits)[:top]]
