"""The sync server with its push cut down to what the protocol needs whatever the checks cost (a diagnostic
for the push rows of bench_sync, not a floor): the body parsed by the same code, each event's hash and chain
link checked, server numbers given, the event rows and the tip's signature written, the desk's head and the
counter moved, the answer in runs. No judging, no validation, no state machine, no scope and no order numbers,
so it writes fewer rows than the real push (and than the floor). It takes only well-formed, in-order, new
events (what the bench pushes) and fails loudly on anything else.

Run as the real server is: ``python -m tests.benchmarks.push_skeleton server run --port P --db URL``.
"""

from __future__ import annotations

import sys
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from fengqiao.models.clock import to_db
from fengqiao.models.events import GENESIS
from fengqiao.models.roles import Desk
from fengqiao.server import store as server_store
from fengqiao.server.schema import SrvDeskHead, SrvEvent, SrvSig
from fengqiao.store.wire import PushRequest, PushResponse


def skeleton_tx(self: server_store.ServerStore, conn: Connection, desk: Desk, request: PushRequest) -> PushResponse:
    now = to_db(self.clock())
    incoming = sorted(request.events, key=lambda e: e.desk_seq)
    head = before = self._lock_counter(conn)
    epoch = self._meta(conn, "epoch") or ""
    dh = conn.execute(select(SrvDeskHead.seq, SrvDeskHead.hash).where(SrvDeskHead.desk == desk.name)).first()
    d_seq, d_hash = (int(dh[0]), dh[1]) if dh else (0, GENESIS)
    known = self._known(conn, [e.id for e in incoming])
    answers: list[Any] = []
    rows: list[tuple[Any, ...]] = []
    for w in incoming:
        if w.desk != desk.name or w.id in known or w.desk_seq != d_seq + 1:
            raise RuntimeError(f"the skeleton takes only new, in-order events of the pushing desk: {w.id}")
        if w.computed_hash() != w.hash or w.prev_hash != d_hash:
            raise RuntimeError(f"bad hash or broken chain at {w.desk_seq}")
        head += 1
        rows.append((*w.row(), head, "applied", now))
        answers.append(("stored", w.desk_seq, head, w.id, w.hash, "applied"))
        d_seq, d_hash = w.desk_seq, w.hash
    tip = answers[-1] if answers else None
    sig = None if tip is None else self.signer().sign(desk.name, tip[1], tip[3], tip[4])
    self._insert_many(conn, SrvEvent.__tablename__, server_store.EVENT_COLUMNS, rows)
    if tip is not None and sig is not None:
        self._insert_many(conn, SrvSig.__tablename__, ("seq", "sig"), [(tip[2], sig)])
    self._move_heads(conn, desk, before, head, dh is not None, (d_seq, d_hash) if rows else None)
    results, runs = server_store._answer(answers, tip, sig, runs=request.protocol >= 2)
    return PushResponse(epoch=epoch, head=head, expected=d_seq + 1, results=results, runs=runs)


if __name__ == "__main__":
    server_store.ServerStore._push_tx = skeleton_tx  # type: ignore[method-assign]
    from fengqiao.console.cli import main

    sys.argv[0] = "fengqiao"
    main()
