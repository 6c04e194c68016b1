"""The validation passes the commonest fitting values inline (models/validate._inline) instead of calling the
field's check: on a corpus of bad events (every hostile case, and odd values that come close to passing) it
answers exactly what the plain checks answer, problem for problem."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from fengqiao.models import validate as v
from fengqiao.models.validate import Problem, Spec, validate

from ..sync.hub import Hub
from .cases import _paths, _set, base_payload, broken, cases
from .world import World

# Values near a field's inline test: the right type but one character too long, a str subclass, a code of
# another set, times the stored form's reader handles differently, numbers where a bool belongs.
NEAR = [
    "",
    "x",
    "HZ",
    "B04",
    "SCJG",
    "ZZ-HZ",
    "ZZ-QQ",
    "GA",
    "TJ",
    "ab" * 32,
    "AB" * 32,
    "resolved",
    "primary",
    "长" * 17,
    "2026-11-28T01:30:00.000000Z",
    "2026-11-28 01:30:00.000000Z",
    "1999-12-31T23:59:59.999999Z",
    "2026-11-28T01:30:00.000000+",
    "2026-13-28T01:30:00.000000Z",
    "2026-11-28T01:30:00+00:00000",
    0,
    1,
    True,
    False,
    1.5,
    [],
    {},
]


class Sub(str):
    pass


def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every field through its check (the inline tests off), with the compiled checks made afresh."""
    monkeypatch.setattr(v, "_inline", lambda spec: (v._CALL, 0, None, spec.nullable))
    monkeypatch.setattr(v, "_FIELD_CHECKS", {})
    monkeypatch.setattr(v, "_COMPILED", {})


def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v, "_FIELD_CHECKS", {})
    monkeypatch.setattr(v, "_COMPILED", {})


def _corpus(w: World, at: datetime) -> Iterator[tuple[str, dict[str, Any], datetime]]:
    ref = w.hub.ref
    for case in cases():
        base = base_payload(case.kind, ref, w.order, at, "EV")
        payload, event_at = broken(case, base, at, w.order.created_at)
        yield case.kind, payload, event_at
    for kind, fields in v.SCHEMAS.items():
        base = base_payload(kind, ref, w.order, at, "EV")
        yield kind, base, at
        for path, _spec in _paths(fields):
            for value in [*NEAR, Sub("x"), Sub("HZ")]:
                payload, _ = broken(cases()[0], base, at, w.order.created_at)  # a deep copy of the base
                try:
                    _set(payload, path, value)
                except (KeyError, IndexError, TypeError):
                    continue  # the base has no such nesting (an optional object left out)
                yield kind, payload, at


def _answers(w: World, at: datetime, corpus: list[tuple[str, dict[str, Any], datetime]]) -> list[Problem | None]:
    ref = w.hub.ref
    out = []
    for kind, payload, event_at in corpus:
        state = None if kind == "dispatch" else w.order
        kw = dict(ref=ref, recorded_at=at, now=at, state=state, assignment_id=w.order.primary.id)
        out.append(validate(kind, payload, event_at=event_at, **kw))
    return out


def test_the_inline_checks_answer_as_the_plain_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = Hub(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "desks")
    w, at = World.make(hub), hub.clock()
    corpus = list(_corpus(w, at))
    assert len(corpus) > 2000
    _fresh(monkeypatch)
    fast = _answers(w, at, corpus)
    _plain(monkeypatch)
    plain = _answers(w, at, corpus)
    assert fast == plain
    assert sum(p is None for p in fast) > 50 and sum(p is not None for p in fast) > 1000  # both kinds of answer
    hub.close()


def test_the_inline_modes_are_used() -> None:
    assert v._inline(Spec("str", max_len=8))[0] == v._TEXT
    assert v._inline(Spec("str", max_len=8, choices=("a",)))[0] == v._CHOICE
    assert v._inline(Spec("str", max_len=8, codes="town"))[0] == v._CODE
    assert v._inline(Spec("str", max_len=8, codes="assignee"))[0] == v._PRED
    assert v._inline(Spec("str", max_len=8, codes="town", choices=("HZ",)))[0] == v._CALL
    assert v._inline(Spec("bool"))[0] == v._BOOL
    assert v._inline(Spec("time"))[0] == v._TIME
    assert v._inline(Spec("int"))[0] == v._CALL
