"""Finding a town, a tag or a department from what a call-taker types: Chinese, pinyin, initials, code, English.

``hz`` finds 黄泽镇, ``xfjf`` 消费纠纷, ``B01`` the tag B01, ``huangze`` 黄泽镇, ``consumer`` Consumer disputes.
A tag is also found by the English words callers use for it (``fixtures/lexicon_en.toml``): ``fake`` finds
消费纠纷, ``noise`` the noise tags, ``water`` 停水 and the pipe and flooding tags; such a match ranks below the
tag's own name, pinyin and initials, and the tag with more entries for the word comes first.
Pinyin (with every reading of a character that has several: 剡 is shan or yan) comes from the shipped table of
the reference data's readings (:mod:`.readings`, made by pypinyin; pypinyin itself only for other names); typing
slips (``xiaofie``) are forgiven with rapidfuzz. Pure functions over the reference data; build once, search
in well under a millisecond.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from rapidfuzz import fuzz, process

from .classifier import normalize
from .classifier_en import default_lexicon_en, load_lexicon_en, shipped_reference, stem
from .readings import MAX_READINGS, readings
from .reference import Reference, default_reference

__all__ = ["MAX_READINGS", "Entry", "Finder", "make_entry", "readings"]


@dataclass(frozen=True)
class Entry:
    code: str
    zh: str
    en: str
    extra: tuple[str, ...] = ()  # more Chinese text that should find it (a tag's keywords)
    full: tuple[str, ...] = ()  # full pinyin readings without spaces: ("huangzezhen",)
    initials: tuple[str, ...] = ()  # ("hzz",)
    en_terms: tuple[str, ...] = ()  # English caller words that should find it (a tag's lexicon_en entries)


def make_entry(code: str, zh: str, en: str, extra: Iterable[str] = (), en_terms: Iterable[str] = ()) -> Entry:
    full, initials = readings(zh)
    return Entry(code, zh, en, tuple(extra), full, initials, tuple(en_terms))


_EN_SPLIT = re.compile(r"[^a-z0-9']+")
EN_TERM_SCORE = 80.0  # a query whose every word begins (or stems like) a word of one English entry
EN_TERM_BONUS = 0.8  # ... plus this for each further entry of the tag that matches, at most EN_TERM_MAX
EN_TERM_MAX = 6.0


def _en_words(text: str) -> tuple[tuple[str, str], ...]:
    """``(word, stem)`` of each English word of ``text`` (lower case, "…" as a space)."""
    return tuple((w, stem(w)) for w in _EN_SPLIT.split(normalize(text).replace("…", " ")) if w)


class Finder:
    """Ranks entries for a query. ``search("")`` lists everything in its natural order."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = list(entries)
        # English terms, indexed: each word and stem -> the (entry, term) pairs that have it; words sorted for
        # prefix look-ups by bisection.
        by_word: dict[str, set[tuple[int, int]]] = defaultdict(set)
        self._en_by_stem: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for i, e in enumerate(self.entries):
            for j, term in enumerate(e.en_terms):
                for w, st in _en_words(term):
                    by_word[w].add((i, j))
                    self._en_by_stem[st].add((i, j))
        self._en_words_sorted = sorted(by_word)
        self._en_by_word = dict(by_word)
        self._fuzzy_choices: list[str] = []
        self._fuzzy_owner: list[int] = []
        for i, e in enumerate(self.entries):
            for text in (*e.full, e.en.lower()):
                self._fuzzy_choices.append(text)
                self._fuzzy_owner.append(i)

    def _en_term_counts(self, words: tuple[tuple[str, str], ...]) -> Counter[int]:
        """Per entry, how many of its English terms the query finds: each query word begins, or stems like, a word
        of the term."""
        found: set[tuple[int, int]] | None = None
        for w, st in words:
            hits = set(self._en_by_stem.get(st, ()))
            k = bisect_left(self._en_words_sorted, w)
            while k < len(self._en_words_sorted) and self._en_words_sorted[k].startswith(w):
                hits |= self._en_by_word[self._en_words_sorted[k]]
                k += 1
            found = hits if found is None else found & hits
            if not found:
                return Counter()
        return Counter(i for i, _ in found or ())

    @staticmethod
    def _with_en_terms(score: float, n: int) -> float:
        if not n:
            return score
        if score >= EN_TERM_SCORE:  # found otherwise too: the terms only break ties (two names with "noise")
            return score + min(0.9, 0.1 * n) if score < 90.0 else score
        return EN_TERM_SCORE + min(EN_TERM_MAX, EN_TERM_BONUS * (n - 1))

    def _score(self, e: Entry, q: str, ascii_q: bool) -> float:
        code = e.code.lower()
        if q == code:
            return 100.0
        best = 0.0
        if ascii_q and code.startswith(q):
            best = max(best, 96.0 if len(q) >= 2 else 70.0)
        zh = normalize(e.zh)
        if q in zh:
            best = max(best, 95.0 if zh.startswith(q) else 90.0)
        if any(q in normalize(x) for x in e.extra):
            best = max(best, 72.0)
        if ascii_q:
            if any(i == q for i in e.initials):
                best = max(best, 94.0)
            elif any(i.startswith(q) for i in e.initials):
                best = max(best, 91.0)
            elif len(q) >= 2 and any(q in i for i in e.initials):
                best = max(best, 76.0)
            if any(f.startswith(q) for f in e.full):
                best = max(best, 93.0 if len(q) >= 3 else 85.0)
            elif len(q) >= 3 and any(q in f for f in e.full):
                best = max(best, 80.0)
            en = e.en.lower()
            if len(q) >= 2 and q in en:
                words = en.replace("-", " ").split()
                # A whole word ("bus") before the start of one ("business").
                best = max(best, 89.0 if q in words else 88.0 if any(w.startswith(q) for w in words) else 74.0)
        return best

    def search(self, query: str, limit: int | None = None) -> list[tuple[Entry, float]]:
        q = normalize(query).strip().replace(" ", "")
        if not q:
            out = [(e, 0.0) for e in self.entries]
            return out[:limit] if limit else out
        ascii_q = q.isascii()
        scored = [(e, self._score(e, q, ascii_q)) for e in self.entries]
        words = _en_words(query)
        if ascii_q and len(q) >= 3 and all(len(w) >= 2 for w, _ in words):
            # English caller words ("fake", "noise", "water"): below the name, pinyin and initials.
            counts = self._en_term_counts(words)
            if counts:
                scored = [(e, self._with_en_terms(v, counts[i])) for i, (e, v) in enumerate(scored)]
        found = {id(e): (e, s) for e, s in scored if s > 0}
        if ascii_q and len(q) >= 4:
            # Typing slips: "xiaofie" for xiaofei, "consmer" for consumer.
            for _choice, score, idx in process.extract(
                q, self._fuzzy_choices, scorer=fuzz.partial_ratio, limit=10, score_cutoff=80
            ):
                e = self.entries[self._fuzzy_owner[idx]]
                value = 40.0 + score * 0.3
                if id(e) not in found or found[id(e)][1] < value:
                    found[id(e)] = (e, value)
        order = {id(e): i for i, e in enumerate(self.entries)}
        ranked = sorted(found.values(), key=lambda es: (-es[1], order[id(es[0])]))
        return ranked[:limit] if limit else ranked

    def best(self, query: str) -> Entry | None:
        hits = self.search(query, limit=1)
        return hits[0][0] if hits and query.strip() else None


_CACHE: dict[tuple[str, int], tuple[Reference, Finder]] = {}


def _cached(kind: str, ref: Reference | None, build: Callable[[Reference], Iterable[Entry]]) -> Finder:
    """One finder per reference data and kind (a Reference holds dicts, so it cannot be a cache key itself)."""
    ref = ref or default_reference()
    key = (kind, id(ref))
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not ref:
        hit = (ref, Finder(build(ref)))
        _CACHE[key] = hit
    return hit[1]


def town_finder(ref: Reference | None = None) -> Finder:
    """Towns by code (HZ), Chinese (黄泽), pinyin (huangze), initials (hz) or English (Huangze)."""
    return _cached("town", ref, lambda r: (make_entry(t.code, t.name_zh, t.name_en) for t in r.towns.values()))


def tag_finder(ref: Reference | None = None) -> Finder:
    """Tags by code (B01), Chinese (消费), pinyin (xiaofei), initials (xfjf), English (consumer), keyword (假货) or
    English caller words (fake, noise, water)."""

    def build(r: Reference) -> Iterable[Entry]:
        lexicon = default_lexicon_en() if r is shipped_reference() else load_lexicon_en(ref=r)
        for t in r.tags.values():
            yield make_entry(t.code, t.name_zh, t.name_en, t.keywords, lexicon.terms.get(t.code, ()))

    return _cached("tag", ref, build)


def department_finder(ref: Reference | None = None) -> Finder:
    """Departments an order can be sent to by hand (not the police station alone)."""
    return _cached(
        "dept",
        ref,
        lambda r: (make_entry(d.code, d.name_zh, d.name_en) for d in r.departments.values() if d.code != "GA"),
    )


class VillageFinder(Finder):
    """A town's villages: their codes begin with the town's (``HZ-QY``), so only the rest of a code is matched
    by its beginning (``hz`` is the town, not every village of it); the whole code still finds its village."""

    def __init__(self, entries: Iterable[Entry], prefix: str) -> None:
        super().__init__(entries)
        self._local = {id(e): replace(e, code=e.code.removeprefix(prefix)) for e in self.entries}

    def _score(self, e: Entry, q: str, ascii_q: bool) -> float:
        if q == e.code.lower():
            return 100.0
        return super()._score(self._local[id(e)], q, ascii_q)


def village_finder(ref: Reference | None = None, town: str = "") -> Finder:
    """The villages and communities of ``town`` by code (HZ-QY, QY), Chinese (前岩), pinyin (qianyan), initials
    (qy) or English (Qianyan); the name without its 村/社区 ending is read too, so ``qy`` finds 前岩村."""

    def build(r: Reference) -> Iterable[Entry]:
        for v in r.town_villages(town):
            whole = make_entry(v.code, v.name_zh, v.name_en)
            stem = v.name_zh.removesuffix("社区").removesuffix("村") or v.name_zh
            if stem == v.name_zh:
                yield whole
                continue
            short = make_entry(v.code, stem, v.name_en)
            yield replace(
                whole,
                full=tuple(dict.fromkeys(whole.full + short.full)),
                initials=tuple(dict.fromkeys(whole.initials + short.initials)),
            )

    ref = ref or default_reference()
    key = (f"village:{town}", id(ref))
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not ref:
        hit = (ref, VillageFinder(build(ref), f"{town}-"))
        _CACHE[key] = hit
    return hit[1]
