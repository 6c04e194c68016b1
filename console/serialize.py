"""Orders and events as JSON-ready dicts (times as ISO-8601 UTC), shared by the CLI and exports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fengqiao.models import geo
from fengqiao.models.clock import to_db, to_db_opt
from fengqiao.models.machine import AssignmentState, Event, OrderState
from fengqiao.models.privacy import mask_payload, shown_hash
from fengqiao.models.reference import Reference
from fengqiao.models.routing import describe_assignee


def assignment_json(ref: Reference, a: AssignmentState, lang: str) -> dict[str, Any]:
    return {
        "id": a.id,
        "seq": a.seq,
        "role": a.role,
        "assignee": a.assignee,
        "assignee_name": describe_assignee(ref, a.assignee, lang),
        "dept": a.dept,
        "town": a.town,
        "status": a.status,
        "active": a.active,
        "onsite": a.onsite,
        "dispatched_at": to_db(a.dispatched_at),
        "sign_due": to_db(a.sign_due),
        "arrive_due": to_db_opt(a.arrive_due),
        "feedback_due": to_db(a.feedback_due),
        "feedback_due_original": to_db(a.feedback_due_original),
        "signed_at": to_db_opt(a.signed_at),
        "arrived_at": to_db_opt(a.arrived_at),
        "fed_back_at": to_db_opt(a.fed_back_at),
        "returned_at": to_db_opt(a.returned_at),
        "result": a.result,
        "feedback_text": a.feedback_text,
        "return_reason": a.return_reason,
        "return_justified": a.return_justified,
        "extension": None
        if a.ext_status is None
        else {"status": a.ext_status, "hours": a.ext_hours, "reason": a.ext_reason},
        "first_overdue_at": to_db_opt(a.first_overdue_at),
        "holder": None if a.holder is None else {"id": a.holder, "name": a.holder_name},
        "location": a.location,
        "photos": [dict(p) for p in a.photos],
    }


def _place_json(v: Any, code: str | None) -> dict[str, Any] | None:
    """A village or community (villages.csv) by code and names; None for an order without one."""
    if code is None:
        return None
    if v is None:  # a code the loaded reference data no longer has: kept, unnamed
        return {"code": code, "name_zh": None, "name_en": None}
    return {"code": v.code, "name_zh": v.name_zh, "name_en": v.name_en, "kind": v.kind, "town": v.town}


def _grid_json(ref: Reference, code: str | None) -> dict[str, Any] | None:
    if code is None:
        return None
    g = ref.grids.get(code)
    if g is None:
        return {"code": code, "name_zh": None, "name_en": None}
    return {"code": g.code, "name_zh": g.name_zh, "name_en": g.name_en, "worker": g.worker, "phone": g.phone}


def event_json(ev: Event, mark: Any = None, view: Callable[[str], str] | None = None) -> dict[str, Any]:
    out = {
        "id": ev.id,
        "kind": ev.kind,
        "assignment_id": ev.assignment_id,
        "actor": ev.actor,
        "desk": ev.desk,
        "desk_seq": ev.desk_seq,
        "event_at": to_db(ev.event_at),
        "recorded_at": to_db(ev.recorded_at),
        "payload": ev.payload if view is None else mask_payload(ev.payload, view),
        "hash": shown_hash(ev.hash, view, None),  # none beside a masked number: it would give the number back
    }
    if mark is not None:  # a store.sync.TimelineEntry: the event's outcome and its place in the server's order
        out.update(status=mark.status, reason=mark.reason, server_seq=mark.server_seq)
    return out


def order_json(
    ref: Reference,
    o: OrderState,
    events: list[Event] | None = None,
    *,
    lang: str = "zh",
    phone: str | None = None,
    view: Callable[[str], str] | None = None,
    timeline: list[Any] | None = None,
) -> dict[str, Any]:
    """``view`` shows callers' numbers (the call's, linked calls', events'), e.g. masked; ``phone`` overrides
    the call's number alone. ``timeline`` (store.sync.TimelineEntry list) adds each event's sync outcome."""
    nxt = o.next_deadline()
    see = view or (lambda phone: phone)
    out: dict[str, Any] = {
        "order_no": o.order_no,
        "id": o.id,
        "status": str(o.status),
        "tag": o.tag,
        "category": o.category,
        "town": o.town,
        "mode": o.mode,
        "onsite": o.onsite,
        "one_team": o.one_team,
        "desk": o.desk,
        "created_at": to_db(o.created_at),
        "updated_at": to_db_opt(o.updated_at),
        "override": None if not o.override_dept else {"dept": o.override_dept, "reason": o.override_reason},
        "repeat_of": o.repeat_of,
        "result": o.result,
        "satisfaction": o.satisfaction,
        "visited_at": to_db_opt(o.visited_at),
        "closed_at": to_db_opt(o.closed_at),
        "cancelled_at": to_db_opt(o.cancelled_at),
        "cancel_reason": o.cancel_reason,
        "reopen_count": o.reopen_count,
        "redo_count": o.redo_count,
        "escalations": o.escalations,
        "notes": o.notes,
        "urges": o.urges,
        "first_overdue_at": to_db_opt(o.first_overdue_at),
        "next_deadline": None if nxt is None else {"kind": nxt[0], "due": to_db(nxt[1])},
        "call": {
            **o.call.to_payload(),
            "phone": phone if phone is not None else see(o.call.phone) if o.call.phone else "",
            "no_number": not o.call.phone,
        },
        "linked_calls": [{**c.to_payload(), "phone": see(c.phone)} for c in o.linked_calls],
        "assignments": [assignment_json(ref, a, lang) for a in o.assignments],
        "village": _place_json(ref.villages.get(o.village or ""), o.village),
        "grid": _grid_json(ref, o.grid),
        "rule": o.rule,
        "informed": [{"code": c, "name": describe_assignee(ref, c, lang)} for c in o.informed],
        # merge and split (models/merging.py): absorbed orders as this order's events record them
        "merged_into": None
        if o.merge is None
        else {"order_id": o.merge.into, "order_no": o.merge.into_no, "merge": o.merge.merge, "at": to_db(o.merge.at)},
        "absorbed": [
            {
                "order_id": x.order_id,
                "order_no": x.order_no,
                "merge": x.merge,
                "call": {**x.call.to_payload(), "phone": see(x.call.phone)},
            }
            for x in o.absorbed
        ],
        "parent": None if o.parent is None else {"order_id": o.parent[0], "order_no": o.parent[1]},
        "children": [{"order_id": c.order_id, "order_no": c.order_no, "assignee": c.assignee} for c in o.children],
    }
    place = geo.find_place(ref.directory, o.town, o.call.address)
    for a in out["assignments"]:  # an arrival's distance from the place the call's address names
        loc = a["location"]
        if loc and place is not None:
            a["location"] = {
                **loc,
                "place": place.name,
                "distance_m": round(geo.distance_m(place.lat, place.lon, loc["lat"], loc["lon"])),
            }
    if timeline is not None:  # events with their sync outcome; conflicts and refusals listed apart too
        out["events"] = [event_json(e.event, e, view) for e in timeline]
        out["conflicts"] = [
            {"id": e.event.id, "kind": e.event.kind, "desk": e.event.desk, "status": e.status, "reason": e.reason}
            for e in timeline
            if e.status in ("conflict", "refused")
        ]
    elif events is not None:
        out["events"] = [event_json(ev, view=view) for ev in events]
    return out
