"""An order's timeline: every event with its sync outcome (no sync machinery needed to read it)."""

from __future__ import annotations

from dataclasses import dataclass

from fengqiao.models.machine import Event, replay

from .db import Connection
from .projection import EVENT_SELECT, load_events, row_to_event


@dataclass
class TimelineEntry:
    """One event on an order's timeline with its sync outcome."""

    event: Event
    status: str  # applied | redundant | conflict | unknown | refused | quarantined
    reason: str | None
    server_seq: int | None  # None: not (yet) confirmed by the server

    @property
    def confirmed(self) -> bool:
        return self.server_seq is not None


def timeline(conn: Connection, order_id: str) -> list[TimelineEntry]:
    """Every event of the order in replay order with its outcome; refused and quarantined events last (a
    quarantined one came from the server but failed validation here). Nothing is dropped."""
    events = load_events(conn, order_id)
    result = replay(events)
    marks = {
        r[0]: (r[1], r[2], r[3])
        for r in conn.exec_driver_sql(
            "SELECT s.event_id, s.server_seq, s.status, s.reason FROM event_state s JOIN events e ON e.id = s.event_id "
            "WHERE e.order_id = ?",
            (order_id,),
        )
    }
    out = [
        TimelineEntry(ev, result.statuses[ev.id], result.reasons.get(ev.id), marks.get(ev.id, (None,))[0])
        for ev in events
    ]
    refused = conn.exec_driver_sql(
        f"{EVENT_SELECT} JOIN event_state s ON s.event_id = e.id "
        "WHERE e.order_id = ? AND s.status IN ('refused', 'quarantined') ORDER BY e.seq",
        (order_id,),
    ).all()
    out += [TimelineEntry(row_to_event(r), marks[r.id][1], marks[r.id][2], marks[r.id][0]) for r in refused]
    return out
