"""Hostile events generated from the validation schema (models/validate.SCHEMAS): for every kind, every
field, each way it can be wrong. A new kind or field in the schema gets its cases here without a change."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fengqiao.models.clock import UTC, to_db
from fengqiao.models.events import new_id
from fengqiao.models.machine import Action, OrderState, deadlines
from fengqiao.models.reference import Reference
from fengqiao.models.validate import ORDER_SKEW, SCHEMAS, Spec

FAR_FUTURE = datetime(2036, 1, 1, tzinfo=UTC)
ANCIENT = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    kind: str
    field: str  # dotted path, or event_at
    how: str  # type | size | range | code | choice | time | missing | extra | order | deadline
    value: Any  # the wrong value (ignored for missing)

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.field}:{self.how}"


def _wrong(spec: Spec) -> Iterator[tuple[str, Any]]:
    wrong_type = {"str": {"x": 1}, "time": 12345, "int": "24", "num": "1.5", "bool": 1, "obj": "x", "list": {"a": 1}}
    yield "type", wrong_type[spec.type]
    if spec.type == "str" and spec.max_len is not None:
        yield "size", "长" * (spec.max_len + 1)
    if spec.type == "list":
        yield "size", [] if spec.min_items else [{}] * ((spec.max_items or 0) + 1)
    if spec.type == "int":
        yield "range", 2**63
        if spec.lo is not None:
            yield "range", spec.lo - 1
    if spec.type == "num":
        yield "range", float("inf")
        if spec.hi is not None:
            yield "range", spec.hi + 0.5
    if spec.codes is not None:
        yield "code", "QQ9"
    if spec.choices is not None:
        yield "choice", "whatever"
    if spec.type == "time":
        yield "time", to_db(ANCIENT)


def _paths(fields: dict[str, Spec], prefix: str = "") -> Iterator[tuple[str, Spec]]:
    for key, spec in fields.items():
        path = f"{prefix}{key}"
        yield path, spec
        if spec.type == "obj" and spec.fields:
            yield from _paths(dict(spec.fields), f"{path}.")
        if spec.type == "list" and spec.items is not None and spec.items.fields:
            yield from _paths(dict(spec.items.fields), f"{path}[0].")


def cases() -> list[Case]:
    out: list[Case] = []
    for kind, fields in SCHEMAS.items():
        for path, spec in _paths(fields):
            for how, value in _wrong(spec):
                out.append(Case(kind, path, how, value))
            if spec.required:
                out.append(Case(kind, path, "missing", None))
        out.append(Case(kind, "payload.bogus", "extra", 1))
        out.append(Case(kind, "event_at", "future", FAR_FUTURE))
        out.append(Case(kind, "event_at", "time", ANCIENT))
        if kind != Action.DISPATCH:
            out.append(Case(kind, "event_at", "order", None))  # long before the order's dispatch
    out.append(Case(Action.DISPATCH, "assignments[0].feedback_due", "deadline", "ten years"))
    out.append(Case(Action.REASSIGN, "assignment.feedback_due", "deadline", "ten years"))
    out.append(Case(Action.REOPEN, "feedback_due", "deadline", "ten years"))
    out.append(Case(Action.UNMERGE, "feedback_due", "deadline", "ten years"))
    return out


def base_payload(kind: str, ref: Reference, o: OrderState, at: datetime, prefix: str) -> dict[str, Any]:
    """A valid payload of ``kind`` for order ``o`` at ``at`` (the case then breaks one thing in it)."""
    tag = ref.tag(o.tag)
    call = {
        "id": new_id(),
        "phone": "13857512345",
        "name": "",
        "town": o.town,
        "address": "人民路1号",
        "description": "又打来了",
        "received_at": to_db(at),
    }
    if kind == Action.DISPATCH:
        dues = deadlines(ref, tag.code, at)
        return {
            "order_no": f"{prefix}-20261128-{new_id()[-4:]}",
            "tag": tag.code,
            "category": tag.category,
            "town": o.town,
            "mode": "single",
            "onsite": tag.onsite,
            "one_team": False,
            "call": call,
            "override": {"dept": o.primary.assignee, "reason": "指定"},
            "repeat_of": None,
            "assignments": [
                {
                    "id": new_id(),
                    "role": "primary",
                    "assignee": o.primary.assignee,
                    "dept": o.primary.dept,
                    "town": None,
                    **dues,
                }
            ],
            "parent": {"id": new_id(), "order_no": f"{prefix}-20261128-9995"},  # a split's child
        }
    return {
        Action.SIGN: {"note": "签收", "person": "u-1"},
        Action.ARRIVE: {"note": "", "person": "u-1", "location": {"lat": 29.6, "lon": 120.8, "accuracy_m": 25.0}},
        Action.FEEDBACK: {
            "result": "resolved",
            "text": "已处理",
            "person": "u-1",
            "photos": [{"sha256": "ab" * 32, "size": 12345, "mime": "image/jpeg"}],
        },
        Action.RETURN: {"reason": "不属本部门"},
        Action.HAND: {"person": "u-1", "name": "王五", "note": ""},
        Action.CANCEL: {"reason": "重复"},
        Action.REASSIGN: {
            "assignment": {
                "id": new_id(),
                "role": "primary",
                "assignee": "ZJJ",
                "dept": "ZJJ",
                "town": None,
                **deadlines(ref, tag.code, at),
            },
            "reason": "改派",
        },
        Action.EXTEND: {"hours": 24, "reason": "需要时间"},
        Action.APPROVE_EXTENSION: {"feedback_due": to_db(at + timedelta(hours=48)), "note": ""},
        Action.REFUSE_EXTENSION: {"reason": ""},
        Action.ESCALATE: {"note": "催办"},
        Action.VISIT: {"satisfaction": "satisfied", "note": ""},
        Action.REOPEN: {"reason": "", "feedback_due": to_db(at + timedelta(hours=tag.feedback_h))},
        Action.CLOSE: {"note": ""},
        Action.JUDGE_RETURN: {"justified": True, "note": ""},
        Action.LINK: {"call": call},
        Action.NOTE: {"text": "已电话联系来电人", "visibility": "caller"},
        Action.URGE: {"note": "请尽快签收"},
        Action.MERGED: {
            "merge": new_id(),
            "orders": [{"id": new_id(), "order_no": f"{prefix}-20261128-9999", "call": call}],
            "reason": "同一件事",
        },
        Action.MERGE_INTO: {"merge": new_id(), "into": new_id(), "into_no": f"{prefix}-20261128-9998", "reason": ""},
        Action.UNMERGE: {"merge": new_id(), "from": new_id(), "reason": "", **deadlines(ref, tag.code, at)},
        Action.UNMERGED: {"merge": new_id(), "order_id": new_id(), "order_no": f"{prefix}-20261128-9997", "reason": ""},
        Action.SPLIT: {
            "split": new_id(),
            "children": [{"id": new_id(), "order_no": f"{prefix}-20261128-9996", "assignee": "ZJJ"}],
            "reason": "",
        },
    }[Action(kind)]


def _set(payload: dict[str, Any], path: str, value: Any, *, delete: bool = False) -> None:
    node: Any = payload
    parts = path.replace("[0]", ".0").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if delete:
        del node[last]
    else:
        node[last] = value


def broken(case: Case, base: dict[str, Any], at: datetime, created: datetime) -> tuple[dict[str, Any], datetime]:
    """(payload, event_at) for the case."""
    p = copy.deepcopy(base)
    if case.field == "event_at":
        when = {"future": FAR_FUTURE, "time": ANCIENT}.get(case.how, created - ORDER_SKEW - timedelta(minutes=1))
        return p, when
    if case.how == "missing":
        _set(p, case.field, None, delete=True)
    elif case.how == "extra":
        p["bogus"] = 1
    elif case.how == "deadline":
        _set(p, case.field, to_db(at + timedelta(days=3650)))
    else:
        _set(p, case.field, case.value)
    return p, at
