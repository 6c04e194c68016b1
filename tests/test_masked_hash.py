"""Issue 11 item 5: what a masked view prints gives no way back to the caller's number.

The attack: a supervisor's `audit --json` shows the masked number (138****2345) and, before, the event hash
over the full payload beside it; hashing the ten thousand candidates for the hidden digits found the number in
a fraction of a second. Now masked views show the hash keyed with the store's secret (or none at all)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fengqiao.models.events import hash_fields, payload_text
from fengqiao.store.audit import access_log
from fengqiao.store.db import Database
from tests.test_cli import ok

PHONE = "13857512345"
MASKED = "138****2345"


def brute_force(e: dict[str, Any], shown: set[str]) -> list[str]:
    """Every number whose event hash (as the store computes it) is among ``shown``."""
    call = e["payload"]["call"]
    found = []
    for n in range(10_000):
        phone = MASKED.replace("****", f"{n:04d}")  # the masked number, its hidden digits guessed
        payload = {**e["payload"], "call": {**call, "phone": phone}}
        h = hash_fields(
            id=e["id"],
            order_id=e.get("order_id", ""),
            assignment_id=e["assignment_id"],
            kind=e["kind"],
            actor=e["actor"],
            desk=e["desk"],
            desk_seq=e["desk_seq"],
            event_at=e["event_at"],
            recorded_at=e["recorded_at"],
            payload=payload_text(payload),
            prev_hash=e["prev_hash"],
        )
        if h in shown:
            found.append(phone)
    return found


def test_the_masked_audit_view_no_longer_gives_the_number_back(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", "--phone", PHONE, "--town", "HZ", "--tag", "B01", "--text", "假货")
    full = json.loads(ok(db, "audit", no, "--json"))  # the local operator: raw hashes, full number
    dispatch = full["events"][0]
    dispatch["order_id"] = full["id"]
    assert brute_force(dispatch, {dispatch["hash"]}) == [PHONE]  # the attack works on raw hashes...

    masked = json.loads(ok(db, "audit", no, "--json", "--role", "supervisor", "--desk", "督办-1"))
    m = masked["events"][0]
    assert m["payload"]["call"]["phone"] == MASKED
    shown = {str(v) for e in masked["events"] for v in (e["hash"], e["prev_hash"])}
    assert dispatch["hash"] not in shown
    m.update(order_id=masked["id"], prev_hash=dispatch["prev_hash"])
    assert brute_force(m, shown) == []  # ...and finds nothing in what the masked view prints
    assert all(h.startswith("k:") for h in shown)
    again = json.loads(ok(db, "audit", no, "--json", "--role", "supervisor", "--desk", "督办-1"))
    assert again["events"][0]["hash"] == m["hash"]  # stable: two printouts can be compared
    text = ok(db, "audit", no, "--role", "supervisor", "--desk", "督办-1")
    assert dispatch["hash"] not in text and MASKED in text

    order = json.loads(ok(db, "order", no, "--json", "--role", "supervisor", "--desk", "督办-1"))
    assert all(e.get("hash") is None for e in order.get("events", []))
    assert dispatch["hash"] not in json.dumps(order)

    unmasked = json.loads(ok(db, "audit", no, "--json", "--role", "supervisor", "--desk", "督办-1", "--unmasked"))
    assert unmasked["events"][0]["hash"] == dispatch["hash"]  # asked for in full: raw, and logged
    d = Database(db)
    try:
        assert [(a.desk, a.action, a.target) for a in access_log(d)][-1] == ("督办-1", "unmasked", "audit")
    finally:
        d.close()
