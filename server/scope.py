"""Who receives an order on pull: scope holders by assignee *and by the order's town*.

A police station can serve several towns (谷来派出所 serves 谷来镇 and 贵门乡). The station's own desk sees every
order assigned to it, whatever the town; a township centre sees only its own town's orders, also their police
share. So besides the plain assignee code (``GA-GLL``), every assignment also grants a town-qualified holder
(``GA-GLL#GM``): station and department desks follow the plain codes, a township centre only the qualified ones
for its own town. This is the same rule as the desk's board (:func:`fengqiao.store.board` filters township desks
by ``o.town``) and :func:`fengqiao.models.roles.can_see`.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from fengqiao.models.governance import Subject, holders
from fengqiao.models.machine import Action, OrderState
from fengqiao.models.reference import Reference
from fengqiao.models.roles import Desk, Role

from .schema import SrvEvent, SrvScope

SEP = "#"


def town_holder(assignee: str, town: str) -> str:
    return f"{assignee}{SEP}{town}"


def scope_holders(state: OrderState) -> list[str]:
    """Every holder an order's assignments grant: the assignee code and the code qualified by the order's town."""
    out: list[str] = []
    for code in [a.assignee for a in state.assignments] + list(state.informed):  # informed: grassroots routing
        out.append(code)
        if state.town:
            out.append(town_holder(code, state.town))
    return list(dict.fromkeys(out))


def subject_holders(state: Subject, ref: Reference) -> list[str]:
    """A warning's or case's holders (models.governance.holders), plain and qualified by its town."""
    stations = {code: town.station_code for code, town in ref.towns.items()}
    out: list[str] = []
    towns = getattr(state, "towns", None) or [state.town]
    for code in holders(state, stations):
        out += [code, *(town_holder(code, town) for town in towns)]
    return out


def desk_scope_codes(desk: Desk, ref: Reference) -> set[str]:
    """The holders whose orders ``desk`` receives (desks that see everything are not scoped at all)."""
    codes = desk.assignee_codes(ref)
    if desk.role == Role.TOWNSHIP and desk.town:
        town = ref.town(desk.town).code
        return {town_holder(c, town) for c in codes}
    return set(codes)


def backfill_town_scope(conn: Connection) -> int:
    """Add the town-qualified holders to a server database written before they existed (idempotent).

    Returns the number of rows added. Orders whose dispatch payload names no town are left alone.
    """
    rows = conn.execute(select(SrvScope.order_id, SrvScope.assignee, SrvScope.granted_seq)).all()
    have = {(r.order_id, r.assignee) for r in rows}
    plain = [r for r in rows if SEP not in r.assignee and not r.assignee.startswith("@")]
    if not plain:
        return 0
    wanted = sorted({r.order_id for r in plain})
    towns: dict[str, str] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        for r in conn.execute(
            select(SrvEvent.order_id, SrvEvent.payload).where(
                SrvEvent.order_id.in_(chunk), SrvEvent.kind == str(Action.DISPATCH)
            )
        ):
            try:
                payload: Any = json.loads(r.payload)
            except (TypeError, ValueError):
                continue
            if isinstance(payload, dict) and isinstance(payload.get("town"), str):
                towns.setdefault(r.order_id, payload["town"])
    new = []
    for r in plain:
        town = towns.get(r.order_id)
        if town is None:
            continue
        key = (r.order_id, town_holder(r.assignee, town))
        if key not in have:
            have.add(key)
            new.append({"order_id": key[0], "assignee": key[1], "granted_seq": r.granted_seq})
    if new:
        conn.execute(SrvScope.__table__.insert(), new)
    return len(new)
