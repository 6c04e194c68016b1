"""The knowledge base (知识库): authoritative answers a call-taker gives during the call (直接办结). Pure.

``fixtures/answers.toml`` (or ``answers.toml`` in ``$FENGQIAO_REFERENCE``), one ``[[answer]]`` per answer: its tags,
wording, source document, owner unit and expiry date. Validated on load: a fault names the file, the entry and
the field. :func:`best_answers` ranks the answers in force for a caller's words and the suggested tags.
"""

from __future__ import annotations

import hashlib
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .errors import ReferenceDataError
from .i18n import t
from .reference import Reference
from .tomlfile import read_toml

FILE = "answers.toml"
FIELDS = ("id", "tags", "title", "text", "source", "owner", "expires", "keywords")


@dataclass(frozen=True)
class Answer:
    id: str
    tags: tuple[str, ...]
    title: str
    text: str
    source: str
    owner: str
    expires: date
    keywords: tuple[str, ...]

    def in_force(self, today: date) -> bool:
        return today <= self.expires


def _fault(path: Path, n: int, key: str, what: str) -> ReferenceDataError:
    return ReferenceDataError(t("kb.bad", path=path.name, n=n, key=key, what=what))


def load_answers(path: Path, ref: Reference) -> list[Answer]:
    """The answers of ``path``; a missing file is an empty knowledge base, a bad entry one clear error."""
    if not path.exists():
        return []
    return parse_answers(read_toml(path), ref, path)


def digest(text: str) -> str:
    """The version of a knowledge base's text: its SHA-256 (what the sync server announces and desks compare)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def answers_from_text(text: str, ref: Reference, name: str = FILE) -> list[Answer]:
    """The answers of a knowledge base received as text (from the sync server), checked like a file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReferenceDataError(t("config.bad_toml", path=name, error=exc)) from None
    return parse_answers(data, ref, Path(name))


def parse_answers(data: dict[str, Any], ref: Reference, path: Path) -> list[Answer]:
    """The answers of a parsed ``answers.toml`` (``path`` names it in errors)."""
    items = data.get("answer", [])
    if not isinstance(items, list):
        raise _fault(path, 0, "answer", t("kb.not_list"))
    out: list[Answer] = []
    seen: set[str] = set()
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise _fault(path, n, "answer", t("kb.not_table"))
        for key in item:
            if key not in FIELDS:
                raise _fault(path, n, str(key)[:40], t("kb.unknown_field"))
        for key in ("id", "title", "text", "owner", "expires"):
            if not isinstance(item.get(key), str | date) or not str(item.get(key)).strip():
                raise _fault(path, n, key, t("kb.missing"))
        answer_id = str(item["id"]).strip()
        if answer_id in seen:
            raise _fault(path, n, "id", t("kb.duplicate", value=answer_id))
        seen.add(answer_id)
        tags = item.get("tags")
        if not isinstance(tags, list) or not tags or not all(isinstance(x, str) for x in tags):
            raise _fault(path, n, "tags", t("kb.missing"))
        for tag in tags:
            if tag not in ref.tags:
                raise _fault(path, n, "tags", t("kb.unknown_code", value=tag))
        owner = str(item["owner"]).strip().upper()
        if (
            owner not in ref.departments
            and owner not in ref.stations
            and not (owner.startswith("ZZ-") and owner[3:] in ref.towns)
        ):
            raise _fault(path, n, "owner", t("kb.unknown_code", value=owner))
        raw = item["expires"]
        try:
            expires = raw if isinstance(raw, date) else date.fromisoformat(str(raw).strip())
        except ValueError:
            raise _fault(path, n, "expires", t("kb.bad_date", value=str(raw)[:20])) from None
        words = item.get("keywords", [])
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise _fault(path, n, "keywords", t("kb.not_list"))
        out.append(
            Answer(
                answer_id,
                tuple(tags),
                str(item["title"]).strip(),
                str(item["text"]).strip(),
                str(item.get("source", "")).strip(),
                owner,
                expires,
                tuple(w.strip() for w in words),
            )
        )
    return out


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def score(answer: Answer, words: str, tags: Sequence[str]) -> float:
    """How well ``answer`` fits a call: keyword hits (longer words weigh more), and the suggested tags' rank."""
    folded = _fold(words)
    hits = sum(len(k) for k in answer.keywords if k and _fold(k) in folded)
    if _fold(answer.title) in folded:
        hits += len(answer.title)
    rank = next((i for i, tag in enumerate(tags) if tag in answer.tags), None)
    tag_part = {0: 3.0, 1: 1.5, 2: 1.0}.get(rank, 0.0) if rank is not None else 0.0
    return hits + tag_part if hits else 0.0  # no word of the answer in the call: not offered on a tag alone


def best_answers(
    answers: Iterable[Answer], words: str, tags: Sequence[str], today: date, *, top: int = 3
) -> list[Answer]:
    """The answers in force that fit the caller's words, best first (ties by id)."""
    scored = [(score(a, words, tags), a) for a in answers if a.in_force(today)]
    ranked = sorted(((s, a) for s, a in scored if s > 0), key=lambda x: (-x[0], x[1].id))
    return [a for _, a in ranked[:top]]


def answers_by_id(answers: Iterable[Answer]) -> dict[str, Answer]:
    return {a.id: a for a in answers}


def as_dict(a: Answer) -> dict[str, Any]:
    return {
        "id": a.id,
        "tags": list(a.tags),
        "title": a.title,
        "text": a.text,
        "source": a.source,
        "owner": a.owner,
        "expires": a.expires.isoformat(),
        "keywords": list(a.keywords),
    }


_cache: dict[tuple[str, float], list[Answer]] = {}


def default_answers(ref: Reference) -> list[Answer]:
    """The knowledge base beside the reference data in use (``answers.toml`` in its folder; the packaged one for
    the packaged data). Read once per file version."""
    from importlib import resources

    base = ref.directory or Path(str(resources.files("fengqiao.fixtures")))
    path = Path(base) / FILE
    stamp = path.stat().st_mtime if path.exists() else 0.0
    key = (str(path), stamp)
    if key not in _cache:
        _cache[key] = load_answers(path, ref)
    return _cache[key]
