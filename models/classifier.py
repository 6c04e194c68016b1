"""Tag suggestions for a call description: offline, explainable, and learning from the desk's own choices.

Four signals are added up per tag:

1. **Phrases.** The tag's name, its taxonomy keywords and the caller-wording lexicon (``fixtures/lexicon.toml``)
   are looked for in the text. A lexicon entry ``甲…乙`` matches when 甲 comes before 乙 in the same clause
   (no ，。！？； between them) and within :data:`GAP` characters. A phrase weighs more the longer it is, the
   fewer tags share it, and by its source (name > keyword > lexicon); the lexicon's ``[weak]`` words (where,
   who, how one asks, how it feels: 小区, 医生, 请问, 睡不着…) count :data:`WEAK` as much wherever they
   appear. An occurrence inside a longer matched phrase does not count on its own ("漏水到" for a neighbour
   dispute hides its "漏水" for a burst main). Within a tag, each further phrase counts for less.
2. **Character n-grams.** The text's character 1- and 2-grams against each tag's phrases (TF-IDF cosine):
   near misses such as "停了电" for "停电" still point the right way.
3. **Example calls.** ``fixtures/examples.csv`` holds about 56 caller descriptions per tag, written from domain
   knowledge the way callers talk (mostly without the tag's own words, and with the near tags told apart:
   a fake product is 消费纠纷, a price is 价格投诉, a shop without a licence is 无证经营). A multinomial naive
   Bayes model over their character 1- and 2-grams is trained when the classifier is built (about 0.2 s, once
   per process) and adds :data:`EXAMPLE_WEIGHT` times its tempered probability of each tag. This is what carries
   wording that no phrase in the lexicon foresaw.
4. **The desk's history.** Past calls (description and the tag the desk chose) are the nearest-neighbour
   memory: the closest earlier descriptions (character 2- and 3-grams, TF-IDF cosine) vote for their tags.
   :meth:`Classifier.learn` adds a call as soon as it is dispatched, so a new way of putting things is
   suggested the next time someone says something like it. A near-twin of an earlier call (cosine at least
   :data:`HISTORY_FULL_SIM`) votes with its full similarity, a looser likeness less, and the history outweighs
   the example calls: what this desk decided is the better guide.

The weights were set by grouped cross-validation over the example calls (``make bench`` prints it), not on the
labelled test sets; the same cross-validation fits :data:`TEMPERATURE`, so that the displayed score of the first
suggestion is about as often right as it says. Everything is built in memory from data files and the store; no
model download, no third-party runtime. A refresh on a typical description takes a fraction of a millisecond
(``make bench`` measures it; the example model reads at most :data:`EXAMPLE_WINDOW` characters from each end).
"""

from __future__ import annotations

import csv
import io
import math
import re
import tomllib
import unicodedata
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ReferenceDataError
from .reference import Reference, default_reference, shipped_reference

if TYPE_CHECKING:  # English hook
    from .classifier_en import EnglishClassifier

GAP = 12  # "甲…乙": at most this many characters between the end of 甲 and the start of 乙
ELLIPSIS = "…"
SOURCE_WEIGHT = {"name": 2.5, "keyword": 2.0, "lexicon": 1.5}
WEAK = 0.4  # factor for the lexicon's [weak] words
PARTICLES = frozenset("了着过的得")  # may sit inside a two-character phrase: "停了电" is 停电
LOOSE = 0.8  # factor for such a match
DECAY = 0.6  # the n-th phrase of a tag counts DECAY**n
NGRAM_WEIGHT = 1.2  # alpha: weight of the character n-gram cosine (0..1)
HISTORY_WEIGHT = 12.0  # beta: weight of the nearest-neighbour vote from the desk's history
HISTORY_K = 5  # neighbours that vote
HISTORY_MIN_SIM = 0.2  # weaker neighbours are ignored
HISTORY_FULL_SIM = 0.4  # a weaker neighbour votes sim * (sim / FULL): near-twins decide, loose likenesses hint
HISTORY_LIMIT = 5000  # most recent calls kept in memory
EXAMPLE_SIZES = (1, 2)  # character n-grams of the example-call model
EXAMPLE_ALPHA = 0.3  # additive smoothing of its gram counts
EXAMPLE_TEMPERATURE = 5.0  # its log-likelihoods are divided by this before the softmax (naive Bayes is overconfident)
EXAMPLE_WEIGHT = 6.0  # gamma: weight of its probability (0..1) for a tag
EXAMPLE_WINDOW = 60  # the example model reads at most the first and last this many characters (speed)
EXAMPLE_EVIDENCE = 0.3  # "examples" is listed as evidence for a tag given at least this probability
TEMPERATURE = 1.1  # softmax temperature for the displayed score (fitted on the example calls' cross-validation)
SCORE_FIELD = 5  # the displayed score is a share among this many strongest candidates
# Below this displayed score the first suggestion is shown as unsure and the bar points to F8. Chosen as the most
# wrong first suggestions caught net of right ones hidden (tests/benchmarks/classifier_cv.py, abstain_threshold),
# never on a held-out test set: on the example calls' held-out folds (0.46 until stop 25; 0.40 since their
# stop-26 additions, a flat curve between) and on the real messages' dev half (0.44-0.46), the one that is real
# wording. make bench prints both fits.
ABSTAIN_BELOW = 0.46
WINDOW = 200  # a description longer than 2*WINDOW is read as its first and last WINDOW characters
_DROP = re.compile(r"[\W_]+")
_CLAUSE_BREAK = frozenset(",.!?;:，。！？；：\n")


def normalize(text: str) -> str:
    """Full-width to half-width, lower case: ``ＫＴＶ`` and ``ktv`` are ``ktv``."""
    return unicodedata.normalize("NFKC", text).lower()


# A 110 log's record style and the noise inside a description say nothing about the matter (issue 15): who
# reports ("报警人称", "来电反映", "称其"), numbers, dates and times, document titles, 某-names, house numbers.
_WHO = r"(?:报警人|报警者|来电人|来电者|求助人|求助者|反映人|投诉人|举报人|当事人|市民|群众|居民|村民|一男子|一女子|该男子|该女子|男子|女子)"
_SAYS = r"(?:来电反映|来电称|来电说|来电求助|来电投诉|来电举报|报警称|报警求助|求助称|投诉称|举报称|诉称|反映称|反映|称其|自称|称|表示|说)"
_RECORD = re.compile(
    rf"(^|[，。；！？,.;!?\s])\s*(?:{_WHO}\s*{_SAYS}|{_WHO}?\s*(?:来电反映|来电称|报警称|称其|来电求助))[:：，,]?"
)
_NOISE = re.compile(
    r"(?:根据|按照|依据|按)?《[^》]{0,60}》(?:的规定|规定|要求|里说|上说)?"  # a title drowns what happened
    r"|(?:联系电话|联系方式|电话|手机|号码)?[:：]?\s*\+?\d[\d\- ]{5,}\d"  # phone and other long numbers
    r"|\d{2,4}\s*[年/.-]\s*\d{1,2}\s*[月/.-]\s*\d{1,2}\s*[日号]?"  # dates
    r"|\d{1,2}\s*月\s*\d{1,2}\s*[日号]"
    r"|\d{1,2}\s*[:：点时]\s*\d{0,2}\s*分?"  # times of day
    r"|(?:家住|住在|住址|住)?\s*(?:\d+\s*(?:号楼|幢|栋|单元|室|号|层|楼)\s*)+"  # house, building, flat numbers
)


_NAME = re.compile(r"[\u4e00-\u9fff]某+")  # 王某, 李某某: a name stands in for nobody


def tfidf_profiles(docs: list[Counter[str]]) -> tuple[dict[str, float], dict[str, list[tuple[int, float]]]]:
    """One document per tag: the IDF of each term over the tags, and for each term the tags that have it with
    their L2-normalized sublinear TF-IDF weight (shared by the Chinese and the English profiles)."""
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    n = len(docs)
    idf = {g: math.log((n + 1) / (c + 0.5)) for g, c in df.items()}
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, d in enumerate(docs):
        w = {g: (1 + math.log(c)) * idf[g] for g, c in d.items()}
        norm = math.sqrt(sum(x * x for x in w.values())) or 1.0
        for g, x in w.items():
            postings[g].append((i, x / norm))
    return idf, dict(postings)


# A caller often starts with who they are and where they live before the matter (issue 15: "long messages whose
# first sentence is background"): "我们小区是2015年交房的。楼上天天漏水…". Such a leading sentence names places and
# trades (小区, 超市, 打工) that pull other tags up. A leading sentence that sets the scene (it starts with the
# caller, their family or their place, or with a time long past) and says nothing of a problem (no complaint,
# request, harm or trouble word) is dropped when a sentence follows it. Rules written from Chinese usage and checked
# on a development set of scene-setting sentences (tests/test_classifier_record.py keeps a separate test set).
_SENTENCE = re.compile(r"[^。！？!?；;\n]*[。！？!?；;\n]+|[^。！？!?；;\n]+$")
_SETTING = re.compile(
    r"^\s*(?:(?:我|我们|咱|咱们|本人)(?:是|家|们家|住|在|今年|去年|以前|之前|老家|刚|也|儿子|女儿|孩子|老公|老婆|丈夫"
    r"|妻子|爸|妈|父亲|母亲|这个|这|那|村|小区|厂|单位|公司|店|楼|的)"
    r"|上个月|上个星期|去年|前年|前几年|以前|之前|平时|本来)"
)
_PROBLEM = re.compile(
    r"投诉|举报|反映|要求|希望|麻烦|请|帮|怎么办|怎么|为什么|为啥|不给|不让|不肯|不管|不理|没人|没有|一直|总是|老是|"
    r"经常|天天|半夜|深夜|太|严重|被|坏|漏|堵|吵|噪|臭|脏|拖欠|欠|骗|假|乱|违|偷|抢|停|断|受伤|打人|闹|纠纷|问题|"
    r"故障|不合格|超标|危险|隐患|着火|冒烟|污染|扰民|霸占|占了|堆|倒了|咨询|想问|请问|能不能|可不可以|吗|[?？]"
)
BACKGROUND_MIN_REST = 6  # the rest must still say something: at least this many characters


def drop_background(text: str) -> str:
    """``text`` without its leading scene-setting sentences (see above); unchanged when too little would be left.

    Only whole sentences (ended by 。！？；) are dropped: a clause before a comma often carries the matter itself
    ("我在超市买的牛奶，回家发现过期了"), so a background typed with commas only is left as it is."""
    sentences = _SENTENCE.findall(text)
    dropped = 0
    while dropped < len(sentences) - 1:
        first = sentences[dropped]
        if not _SETTING.search(first) or _PROBLEM.search(first):
            break
        dropped += 1
    if not dropped:
        return text
    rest = "".join(sentences[dropped:])
    return rest if len(_DROP.sub("", rest)) >= BACKGROUND_MIN_REST else text


def clean(text: str) -> str:
    """``text`` without the record-style openings and the noise listed above (already normalized text)."""
    out = _RECORD.sub(r"\1", _NAME.sub("", text))
    return _NOISE.sub(" ", out)


def _length_factor(n: int) -> float:
    return 0.6 if n <= 1 else 1.0 if n == 2 else 1.25 if n == 3 else 1.5


@dataclass(frozen=True)
class Suggestion:
    code: str
    score: float  # 0..1: softmax of the evidence among the five strongest candidates
    raw: float  # the summed evidence before normalising
    evidence: tuple[str, ...] = ()  # the phrases (and "history") that pointed here


@dataclass(frozen=True)
class Lexicon:
    """Caller wording per tag, and the words that only say where or who (counted weakly)."""

    terms: dict[str, tuple[str, ...]]
    weak: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Phrase:
    tag: int
    text: str  # as written (for evidence)
    weight: float
    parts: tuple[str, ...]  # normalized; one part = literal, two = "甲…乙"


# ---- the data files -----------------------------------------------------------------------------------


def _read_fixture(path: Path | str | None, packaged: str) -> tuple[str, str]:
    """``(name for messages, text)`` of ``path``, or of the packaged ``fixtures/<packaged>`` when ``path`` is None."""
    if path is None:
        return packaged, resources.files("fengqiao.fixtures").joinpath(packaged).read_text(encoding="utf-8")
    p = Path(path)
    try:
        return p.name, p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceDataError(f"{p.name}: cannot read ({exc.strerror or exc})") from None


def load_lexicon(path: Path | str | None = None, ref: Reference | None = None) -> Lexicon:
    """Read ``fixtures/lexicon.toml`` (``[TAG] terms = [...]`` and ``[weak] terms = [...]``).

    Every other section must be a known tag; a fault names the file and the section.
    """
    ref = ref or default_reference()
    name, text = _read_fixture(path, "lexicon.toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReferenceDataError(f"{name}: {exc}") from None
    out: dict[str, tuple[str, ...]] = {}
    weak: frozenset[str] = frozenset()
    for code, section in data.items():
        if code != "weak" and code not in ref.tags:
            raise ReferenceDataError(f"{name}: unknown tag [{code}]")
        terms = section.get("terms") if isinstance(section, dict) else None
        if not isinstance(terms, list) or not all(isinstance(x, str) and x.strip() for x in terms):
            raise ReferenceDataError(f"{name} [{code}]: terms must be a list of non-empty strings")
        for term in terms:
            parts = [p for p in term.split(ELLIPSIS)]
            if len(parts) > 2 or not all(p.strip() for p in parts):
                raise ReferenceDataError(f"{name} [{code}]: {term!r} must be a phrase or 甲…乙")
        if code == "weak":
            weak = frozenset(normalize(t.strip()) for t in terms)
        else:
            out[code] = tuple(t.strip() for t in terms)
    return Lexicon(out, weak)


# ---- n-gram helpers -----------------------------------------------------------------------------------


def _chars(text: str) -> str:
    """The text without punctuation and spaces, normalized."""
    return _DROP.sub("", normalize(text))


def _grams(text: str, sizes: tuple[int, ...]) -> Counter[str]:
    s = _chars(text)
    out: Counter[str] = Counter()
    for n in sizes:
        out.update(s[i : i + n] for i in range(len(s) - n + 1))
    return out


class _History:
    """Nearest neighbours over past descriptions (character 2/3-grams, TF-IDF, cosine) via an inverted index.

    ``grams``: how a description becomes terms (the English suggester gives word stems and their bigrams)."""

    SIZES = (2, 3)

    def __init__(self, grams: Callable[[str], Counter[str]] | None = None) -> None:
        self._terms = grams or (lambda text: _grams(text, self.SIZES))
        self.tags: list[int] = []
        self.texts: list[str] = []
        self.norms: list[float] = []
        self.df: Counter[str] = Counter()
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.seen: set[tuple[str, int]] = set()

    def __len__(self) -> int:
        return len(self.tags)

    def _idf(self, gram: str) -> float:
        n = len(self.tags) + 1
        return math.log((n + 1) / (self.df.get(gram, 0) + 0.5))

    def build(self, items: list[tuple[str, int]]) -> None:
        docs = []
        for text, tag in items:
            key = (normalize(text).strip(), tag)
            if not key[0] or key in self.seen:
                continue
            self.seen.add(key)
            grams = self._terms(text)
            if not grams:
                continue
            docs.append((text, tag, grams))
            self.df.update(grams.keys())
        for text, tag, grams in docs:
            self._index(text, tag, grams)

    def add(self, text: str, tag: int) -> None:
        key = (normalize(text).strip(), tag)
        if not key[0] or key in self.seen:
            return
        self.seen.add(key)
        grams = self._terms(text)
        if grams:
            self.df.update(grams.keys())
            self._index(text, tag, grams)

    def _index(self, text: str, tag: int, grams: Counter[str]) -> None:
        doc = len(self.tags)
        weights = {g: (1 + math.log(c)) * self._idf(g) for g, c in grams.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        for g, w in weights.items():
            self.postings[g].append((doc, w / norm))
        self.tags.append(tag)
        self.texts.append(text)
        self.norms.append(norm)

    def neighbours(self, text: str, k: int = HISTORY_K) -> list[tuple[int, float]]:
        """``(doc, cosine)`` of the ``k`` closest past descriptions."""
        if not self.tags:
            return []
        grams = self._terms(text)
        if not grams:
            return []
        n = len(self.tags)
        common = max(50, n // 10)  # grams in more than a tenth of the calls say nothing about any one of them
        q = {g: (1 + math.log(c)) * self._idf(g) for g, c in grams.items() if g in self.postings}
        # A gram the history has never seen weighs as if seen once: it makes the query less like every earlier
        # call, but does not drown the grams they share.
        rare = math.log((n + 2) / 1.5)
        unknown = sum(((1 + math.log(c)) * rare) ** 2 for g, c in grams.items() if g not in self.postings)
        qnorm = math.sqrt(sum(w * w for w in q.values()) + unknown) or 1.0
        acc: dict[int, float] = defaultdict(float)
        for g, w in q.items():
            posting = self.postings[g]
            if len(posting) > common:
                continue
            for doc, dw in posting:
                acc[doc] += w * dw
        best = sorted(acc.items(), key=lambda kv: kv[1], reverse=True)[:k]
        return [(doc, s / qnorm) for doc, s in best]


def add_history_votes(out: dict[int, tuple[float, list[str]]], history: _History, text: str) -> None:
    """Add the desk history's vote to ``out``: the closest earlier calls vote for their tags (a near-twin fully)."""
    if not len(history):
        return
    votes: dict[int, float] = defaultdict(float)
    for doc, sim in history.neighbours(text):
        if sim >= HISTORY_MIN_SIM:
            votes[history.tags[doc]] += sim * min(1.0, sim / HISTORY_FULL_SIM)
    for tag, v in votes.items():
        total, ev = out.get(tag, (0.0, []))
        out[tag] = (total + HISTORY_WEIGHT * min(v, 1.5), ev + ["history"])


# ---- the example calls ---------------------------------------------------------------------------------


def load_examples(
    path: Path | str | None = None, ref: Reference | None = None, *, packaged: str = "examples.csv"
) -> list[tuple[str, str]]:
    """Read ``fixtures/examples.csv`` (or ``packaged``; columns ``tag,text``): ``(text, tag code)`` pairs in file
    order. A fault (missing column, unknown tag, empty text) names the file and the line.
    """
    ref = ref or default_reference()
    name, text = _read_fixture(path, packaged)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != ["tag", "text"]:
        raise ReferenceDataError(f"{name}: the first line must be the header tag,text")
    out: list[tuple[str, str]] = []
    for row in reader:
        line = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise ReferenceDataError(f"{name} line {line}: expected 2 columns (tag,text), found {len(row)}")
        code, example = row[0].strip(), row[1].strip()
        if code not in ref.tags:
            raise ReferenceDataError(f"{name} line {line}: unknown tag {code!r}")
        if not example:
            raise ReferenceDataError(f"{name} line {line}: empty text")
        out.append((example, code))
    return out


class ExampleModel:
    """Multinomial naive Bayes over character n-grams of example descriptions, one class per tag.

    Counts are sublinear (1 + log tf) and smoothed by :data:`EXAMPLE_ALPHA`; the prior is uniform (the examples
    say nothing about how often each kind of call comes in). Stored sparsely: for each gram the tags that have
    it, with ``log((count + alpha) / alpha)``; a tag's log-likelihood is ``L * base[tag]`` plus those terms,
    where ``L`` is the query's total gram weight. Built once, read-only afterwards (shared between classifiers).
    """

    def __init__(
        self,
        items: Iterable[tuple[str, int]],
        ntags: int,
        *,
        alpha: float = EXAMPLE_ALPHA,
        sizes: tuple[int, ...] = EXAMPLE_SIZES,
        featurize: Callable[[Any], Counter[str]] | None = None,
    ) -> None:
        """``featurize``: a text's features with their counts (default: its character n-grams of ``sizes``; the
        English model passes word features)."""
        self.sizes = sizes
        self._featurize = featurize or (lambda text: _grams(text, sizes))
        counts: list[defaultdict[str, float]] = [defaultdict(float) for _ in range(ntags)]
        log = math.log
        n = 0
        for text, tag in items:
            weights = counts[tag]
            for gram, times in self._featurize(text).items():
                weights[gram] += 1.0 if times == 1 else 1 + log(times)  # most grams occur once in a text
            n += 1
        self.size = n
        v = max(1, len(set().union(*counts)))  # the vocabulary: every gram of some example
        self.base = [log(alpha / (sum(c.values()) + alpha * v)) for c in counts]
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for tag, weights in enumerate(counts):
            for gram, x in weights.items():
                postings[gram].append((tag, log((x + alpha) / alpha)))
        self.postings = {g: tuple(p) for g, p in postings.items()}

    def __len__(self) -> int:
        return self.size

    def probabilities(self, text: str, temperature: float = EXAMPLE_TEMPERATURE) -> dict[int, float]:
        """Tempered posterior per tag index (tags under 0.1% left out); empty when no gram is known."""
        grams = self._featurize(text)
        weight = 0.0
        acc = [0.0] * len(self.base)
        for gram, c in grams.items():
            posting = self.postings.get(gram)
            if posting is None:
                continue
            w = 1 + math.log(c) if c > 1 else 1.0
            weight += w
            for tag, x in posting:
                acc[tag] += w * x
        if not weight:
            return {}
        scores = [weight * b + a for b, a in zip(self.base, acc, strict=True)]
        best = max(scores)
        exps = [math.exp((x - best) / temperature) for x in scores]
        total = sum(exps)
        return {tag: e / total for tag, e in enumerate(exps) if e / total >= 0.001}


# ---- the classifier -----------------------------------------------------------------------------------


class Classifier:
    """Suggests tags for a description. Build once (tens of milliseconds, plus training the example model the
    first time in a process); :meth:`suggest` is fast."""

    english: EnglishClassifier | None = None  # English hook: build_classifier() sets it (models/classifier_en.py)

    def __init__(
        self,
        ref: Reference | None = None,
        lexicon: Lexicon | None = None,
        history: Iterable[tuple[str, str]] = (),
        *,
        use_ngrams: bool = True,
        examples: ExampleModel | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """``examples``: a trained :class:`ExampleModel` (over this reference's tag order), or ``(text, code)``
        pairs to train one from; ``None`` leaves the example-call signal out."""
        self.ref = ref or default_reference()
        self.codes = list(self.ref.tags)
        self._index_of = {c: i for i, c in enumerate(self.codes)}
        lexicon = load_lexicon(ref=self.ref) if lexicon is None else lexicon
        self.use_ngrams = use_ngrams
        self.example_weight = EXAMPLE_WEIGHT
        self.example_temperature = EXAMPLE_TEMPERATURE
        if examples is None or isinstance(examples, ExampleModel):
            self.examples = examples
        else:
            self.examples = ExampleModel(
                ((text, self._index_of[code]) for text, code in examples if code in self._index_of and text.strip()),
                len(self.codes),
            )
        phrases: list[_Phrase] = []
        for i, code in enumerate(self.codes):
            tag = self.ref.tags[code]
            entries = [(tag.name_zh, "name")] + [(k, "keyword") for k in tag.keywords]
            entries += [(t, "lexicon") for t in lexicon.terms.get(code, ())]
            seen: set[tuple[str, ...]] = set()
            for text, source in entries:
                parts = tuple(normalize(p.strip()) for p in text.split(ELLIPSIS))
                if parts in seen:
                    continue  # the same phrase listed twice for one tag counts once, at its strongest source
                seen.add(parts)
                length = sum(len(p) for p in parts)
                weight = SOURCE_WEIGHT[source] * _length_factor(length) * (1.1 if len(parts) == 2 else 1.0)
                if len(parts) == 1 and parts[0] in lexicon.weak:
                    weight *= WEAK
                phrases.append(_Phrase(i, text, weight, parts))
        # Specificity: a phrase shared by several tags tells them apart less.
        share = Counter(p.parts for p in {(p.parts, p.tag): p for p in phrases}.values())
        self._literal: dict[str, list[_Phrase]] = defaultdict(list)
        self._pattern: dict[str, list[_Phrase]] = defaultdict(list)
        atoms: set[str] = set()
        for p in phrases:
            p2 = _Phrase(p.tag, p.text, p.weight / share[p.parts], p.parts)
            if len(p.parts) == 1:
                self._literal[p.parts[0]].append(p2)
            else:
                self._pattern[p.parts[0]].append(p2)
            atoms.update(p.parts)
        by_first: dict[str, list[str]] = defaultdict(list)
        for atom in atoms:
            by_first[atom[0]].append(atom)
        self._by_first = {ch: sorted(lst, key=len, reverse=True) for ch, lst in by_first.items()}
        self._profile_postings = self._build_profiles(phrases) if use_ngrams else {}
        self.history = _History()
        self.add_history(history)

    # ---- building ------------------------------------------------------------------------------------
    def _build_profiles(self, phrases: list[_Phrase]) -> dict[str, list[tuple[int, float]]]:
        """Each tag's phrases as one document of character 1/2-grams; TF-IDF over the 75 tags, L2-normalized."""
        docs: list[Counter[str]] = [Counter() for _ in self.codes]
        for p in phrases:
            for part in p.parts:
                docs[p.tag].update(_grams(part, (1, 2)))
        self._profile_idf, postings = tfidf_profiles(docs)
        return postings

    def add_history(self, items: Iterable[tuple[str, str]]) -> None:
        """Remember past calls (description, tag code); unknown codes are skipped. Keeps the newest ones."""
        pairs = [(text, self._index_of[code]) for text, code in items if code in self._index_of and text]
        if len(pairs) > HISTORY_LIMIT:
            pairs = pairs[:HISTORY_LIMIT]
        if self.english is not None:  # English calls teach the English suggester (word terms), the rest this one
            english: list[tuple[str, int]] = []
            chinese: list[tuple[str, int]] = []
            for pair in pairs:
                (english if self.english.handles(pair[0]) else chinese).append(pair)
            self.english.history.build(english)
            pairs = chinese
        self.history.build(pairs)

    def learn(self, text: str, code: str) -> None:
        """The desk chose ``code`` for ``text``: remember it for the next similar call."""
        if code in self._index_of and text.strip():
            if self.english is not None and self.english.handles(text):
                self.english.history.add(text, self._index_of[code])
            else:
                self.history.add(text, self._index_of[code])

    # ---- scoring -------------------------------------------------------------------------------------
    def _phrase_scores(self, s: str) -> dict[int, list[tuple[float, str]]]:
        occurrences: list[tuple[int, int, str]] = []  # (start, end, atom)
        by_first = self._by_first
        clause = []  # clause number of each position
        n = 0
        for ch in s:
            if ch in _CLAUSE_BREAK:
                n += 1
            clause.append(n)
        loose: list[tuple[int, int, str]] = []
        last = len(s) - 2
        for i, ch in enumerate(s):
            particle = i < last and s[i + 1] in PARTICLES
            for atom in by_first.get(ch, ()):
                if s.startswith(atom, i):
                    occurrences.append((i, i + len(atom), atom))
                elif particle and len(atom) == 2 and s[i + 2] == atom[1]:
                    loose.append((i, i + 3, atom))
        # Drop occurrences strictly inside a longer one (the longer phrase is the more specific reading). Sorted
        # by start, longest first, an occurrence is inside an earlier one exactly when an earlier one ends at or
        # after its end (two different atoms never share both ends).
        occurrences.sort(key=lambda o: (o[0], o[0] - o[1]))
        kept: dict[str, list[tuple[int, int]]] = defaultdict(list)
        reach = -1  # the furthest end of the occurrences seen so far
        reach_at = [-1] * (len(s) + 1)  # reach_at[i]: furthest end of occurrences starting at or before i
        for start, end, atom in occurrences:
            if end > reach:
                kept[atom].append((start, end))
                reach = end
            reach_at[start] = reach
        for i in range(1, len(reach_at)):
            if reach_at[i] < reach_at[i - 1]:
                reach_at[i] = reach_at[i - 1]
        found: dict[int, list[tuple[float, str]]] = defaultdict(list)
        for start, end, atom in loose:
            if atom not in kept and reach_at[start] < end:
                for p in self._literal.get(atom, ()):
                    found[p.tag].append((p.weight * LOOSE, p.text))
        for atom, spans in kept.items():
            for p in self._literal.get(atom, ()):
                found[p.tag].append((p.weight, p.text))
            for p in self._pattern.get(atom, ()):
                second = kept.get(p.parts[1])
                if second and self._follows(spans, second, clause):
                    found[p.tag].append((p.weight, p.text))
        return found

    @staticmethod
    def _follows(first: list[tuple[int, int]], second: list[tuple[int, int]], clause: list[int]) -> bool:
        """Does some occurrence in ``second`` start within GAP after one in ``first`` ends, in the same clause?"""
        starts = [s2 for s2, _ in second]  # already in text order
        for _, e1 in first:
            i = bisect_left(starts, e1)
            if i < len(starts) and starts[i] <= e1 + GAP and clause[starts[i]] == clause[e1 - 1]:
                return True
        return False

    def _ngram_scores(self, text: str) -> dict[int, float]:
        grams = _grams(text, (1, 2))
        if not grams:
            return {}
        q = {g: (1 + math.log(c)) * self._profile_idf[g] for g, c in grams.items() if g in self._profile_idf}
        if not q:
            return {}
        norm = math.sqrt(sum(w * w for w in q.values()))
        acc: dict[int, float] = defaultdict(float)
        for g, w in q.items():
            for tag, x in self._profile_postings[g]:
                acc[tag] += w * x
        return {tag: v / norm for tag, v in acc.items()}

    def scores(self, text: str) -> dict[int, tuple[float, list[str]]]:
        """Raw evidence per tag index: (score, phrases that matched).

        A very long description is read as its beginning (what the matter is) and its end (what was just
        typed), so a refresh stays within a few milliseconds however much the call-taker writes.
        """
        s = drop_background(clean(normalize(text)))
        if len(s) > 2 * WINDOW:
            s = s[:WINDOW] + "。" + s[-WINDOW:]
        out: dict[int, tuple[float, list[str]]] = {}
        found = self._phrase_scores(s)
        for tag, hits in found.items():
            hits.sort(reverse=True)
            total = sum(w * DECAY**n for n, (w, _) in enumerate(hits))
            out[tag] = (total, [h for _, h in hits])
        if self.use_ngrams:
            for tag, v in self._ngram_scores(s).items():
                total, ev = out.get(tag, (0.0, []))
                out[tag] = (total + NGRAM_WEIGHT * v, ev)
        if self.examples is not None:
            short = s if len(s) <= 2 * EXAMPLE_WINDOW else s[:EXAMPLE_WINDOW] + "。" + s[-EXAMPLE_WINDOW:]
            for tag, p in self.examples.probabilities(short, self.example_temperature).items():
                total, ev = out.get(tag, (0.0, []))
                out[tag] = (total + self.example_weight * p, ev + ["examples"] if p >= EXAMPLE_EVIDENCE else ev)
        add_history_votes(out, self.history, s)
        return out

    def suggest(self, text: str, top: int = 3) -> list[Suggestion]:
        """The ``top`` most likely tags for ``text``, best first (empty for an empty text)."""
        if self.english is not None and self.english.handles(text):  # English hook: English text, English model
            return self.english.suggest(text, top)
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
        out = []
        for (tag, (value, ev)), e in zip(ranked[:top], exps, strict=False):
            out.append(Suggestion(self.codes[tag], e / total, value, tuple(dict.fromkeys(ev))))
        return out


def confident(found: list[Suggestion]) -> bool:
    """Whether the first suggestion is sure enough to be offered as the answer (see :data:`ABSTAIN_BELOW`)."""
    return bool(found) and found[0].score >= ABSTAIN_BELOW


@cache
def default_classifier_lexicon() -> Lexicon:
    return load_lexicon(ref=shipped_reference())


@cache
def default_example_model() -> ExampleModel:
    """The naive Bayes model over the packaged example calls, trained once per process."""
    ref = shipped_reference()
    index = {c: i for i, c in enumerate(ref.tags)}
    return ExampleModel(((text, index[code]) for text, code in load_examples(ref=ref)), len(index))


def build_classifier(ref: Reference | None = None, history: Iterable[tuple[str, str]] = ()) -> Classifier:
    """A classifier over the packaged lexicon and example calls, and ``history`` (newest first)."""
    ref = ref or default_reference()
    if ref is shipped_reference():  # the cached model and lexicon were built over the shipped tags
        clf = Classifier(ref, default_classifier_lexicon(), examples=default_example_model())
    else:
        clf = Classifier(ref, load_lexicon(ref=ref), examples=load_examples(ref=ref))
    from .classifier_en import build_english_classifier  # English hook (a cycle at import time otherwise)

    clf.english = build_english_classifier(ref)
    clf.add_history(history)  # after the English hook: English calls go to its history
    return clf


def keyword_baseline(ref: Reference, text: str, top: int = 3) -> list[str]:
    """The plainest classifier: count a tag's name and taxonomy keywords found in the text (for ``make bench``)."""
    s = normalize(text)
    hits = []
    for i, tag in enumerate(ref.tags.values()):
        n = sum(1 for k in (tag.name_zh, *tag.keywords) if normalize(k) in s)
        if n:
            hits.append((-n, i, tag.code))
    return [code for _, _, code in sorted(hits)[:top]]
