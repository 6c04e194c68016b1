"""What ``fengqiao check`` adds to store/audit.py's chain and projection checks (issue 11).

* :func:`is_missing_order` — tells an order this desk never had from a deleted one. An event that a broken or
  hostile desk pushed for an order that exists nowhere is stored by the server as a ``conflict`` (it keeps
  everything a desk that sees all orders sends) and reaches every call-taker and supervisor desk. Such an
  order has no row here and its events are all conflicts on the server too: nothing was deleted, so it is a
  note, not a fault. An order whose row is present, or any of whose events the server applied (so the server
  had its dispatch), and which has no dispatch here, still is a deleted dispatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .bulk import DOCS_EXPECTED, REPEATS_EXPECTED

STATUS = 11  # position of the server outcome in store.audit's event rows


def is_missing_order(rows: Sequence[Sequence[Any]]) -> bool:
    """Whether the shared events ``rows`` of an order with no row belong to an order no one ever had."""
    return bool(rows) and all(r[3] != "dispatch" and r[STATUS] == "conflict" for r in rows)


# ---- the schema as shipped ------------------------------------------------------------------------------

_SHIPPED: dict[str, tuple[str, str]] | None = None


def _norm(sql: str | None) -> str:
    return " ".join((sql or "").split())


def schema_objects(conn: Any) -> dict[str, tuple[str, str]]:
    """Every table, index, trigger and view of ``conn``'s main schema: name → (type, normalized SQL)."""
    rows = conn.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'index', 'trigger', 'view')"
    ).all()
    return {str(r[1]): (str(r[0]), _norm(r[2])) for r in rows}


def shipped_schema() -> dict[str, tuple[str, str]]:
    """What the migrations create on a new file (built once per process in memory)."""
    global _SHIPPED
    if _SHIPPED is None:
        from .db import DEFAULT_BUSY_MS, Engine
        from .migrations import upgrade

        engine = Engine(":memory:", DEFAULT_BUSY_MS)
        try:
            with engine.connect() as conn, conn.begin():
                upgrade(conn)
                _SHIPPED = schema_objects(conn)
        finally:
            engine.dispose()
    return _SHIPPED


def schema_differences(conn: Any) -> list[tuple[str, str, str]]:
    """(what, type, name) for each object that differs from the shipped schema: ``missing``, ``changed`` (same
    name, other definition: a trigger whose body was replaced) or ``extra`` (a trigger nobody shipped could
    rewrite what is written). Only for a file at the newest version (an older one is upgraded on open)."""
    from .migrations import head

    if int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0) != head():
        return []
    want, have = shipped_schema(), schema_objects(conn)
    out: list[tuple[str, str, str]] = []
    for name, (kind, sql) in sorted(want.items()):
        if name not in have:
            out.append(("missing", kind, name))
        elif have[name] != (kind, sql):
            out.append(("changed", kind, name))
    out += [("extra", have[name][0], name) for name in sorted(set(have) - set(want))]
    return out


# ---- derived tables against the log -----------------------------------------------------------------------

# What the derived tables must hold, as the bulk build (store/bulk.py) makes them.
_REPEATS_EXPECTED = REPEATS_EXPECTED
_DOCS_EXPECTED = DOCS_EXPECTED


_SEARCH_ALL_LINKED = 15  # the schema version from which every linked repeat call is in the search index
_SIZES = (
    "SELECT z.sz, length(o.order_no), length(c.phone), length(c.address), length(c.description) "
    "FROM order_search_docs d JOIN order_search_docsize z ON z.id = d.doc "
    "JOIN orders o ON o.id = d.order_id JOIN calls c ON c.id = d.call_id"
)


def _varints(blob: bytes) -> list[int]:
    """The numbers of an FTS5 docsize blob (SQLite varints: seven bits a byte, most significant first)."""
    out, value = [], 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            out.append(value)
            value = 0
    return out


def search_size_differences(conn: Any) -> int:
    """Documents of ``order_search`` whose indexed texts are not those of their order and call, by length.

    The index is contentless (it keeps no copy of the texts, only their trigrams), but FTS5 records how many
    tokens each column of a document had; a text indexed with two U+FFFF after it has exactly as many trigrams
    as characters. A document indexed with other words of another length, or with a column missing, differs."""
    bad = 0
    for sz, *lengths in conn.exec_driver_sql(_SIZES):
        if not isinstance(sz, bytes) or _varints(sz) != lengths:
            bad += 1
    return bad


def derived_differences(conn: Any, tables: dict[str, str]) -> list[tuple[str, str, int]]:
    """(table, detail key, count) for each derived table that is not what the log (through the projection,
    itself checked against the replay) makes it:

    * ``kpi_repeats`` — the repeat-call rows, recomputed from orders and calls as the migration defines them
      (a forged row changes the repeat-call rate);
    * ``order_search_docs`` and the ``order_search`` index — a document for every order and (schema 15 on) every
      linked repeat call, none but for those, an index entry for each document (a removed entry hides an order
      from search), each entry's column sizes those of its texts (an entry indexed with other words);
    * ``kpi_rollup``, ``kpi_rollup_minutes``, ``kpi_pending`` — the KPI rollups, recomputed from the projection
      (store/rollups.py): an edited row changes the KPIs;
    * ``event_state`` — the server never sends another desk's refused events (refusals are answered to the
      desk that pushed): another desk's event marked ``refused`` here has been edited to hide an order or
      undo what it did.
    """
    out: list[tuple[str, str, int]] = []

    def count(sql: str) -> int:
        return int(conn.exec_driver_sql(sql).scalar() or 0)

    if "kpi_repeats" in tables:
        stored = "SELECT order_id, repeat_call_at FROM kpi_repeats"
        n = count(f"SELECT count(*) FROM ({stored} EXCEPT {_REPEATS_EXPECTED})")
        n += count(f"SELECT count(*) FROM ({_REPEATS_EXPECTED} EXCEPT {stored})")
        if n:
            out.append(("kpi_repeats", "derived_repeats", n))
    if "order_search_docs" in tables:
        n = count(f"SELECT count(*) FROM (SELECT order_id, call_id FROM order_search_docs EXCEPT {_DOCS_EXPECTED})")
        # every order's own call is indexed, and (from 0015, whose trigger also indexes linked calls stored before
        # their order, and whose backfill indexed those an older file had missed) every linked repeat call
        strict = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0) >= _SEARCH_ALL_LINKED
        expected = _DOCS_EXPECTED if strict else "SELECT id, call_id FROM orders"
        n += count(f"SELECT count(*) FROM ({expected} EXCEPT SELECT order_id, call_id FROM order_search_docs)")
        if "order_search" in tables:
            n += count("SELECT count(*) FROM (SELECT doc FROM order_search_docs EXCEPT SELECT rowid FROM order_search)")
            n += count("SELECT count(*) FROM (SELECT rowid FROM order_search EXCEPT SELECT doc FROM order_search_docs)")
        if "order_search_docsize" in tables:
            n += search_size_differences(conn)
        if n:
            out.append(("order_search", "derived_search", n))
    if "kpi_rollup" in tables:
        from .rollups import differences  # the KPI rollups against the projection, row by row

        n = differences(conn)
        if n:
            out.append(("kpi_rollup", "derived_rollups", n))
    if "event_state" in tables:
        n = count(
            "SELECT count(*) FROM event_state s JOIN events e ON e.id = s.event_id "
            "WHERE s.status = 'refused' AND e.desk NOT IN (SELECT desk FROM desk_heads)"
        )
        if n:
            out.append(("event_state", "derived_refused", n))
    return out


# ---- other desks' chains against the server's signatures ---------------------------------------------------

_FOREIGN_TIPS = (
    "SELECT e.desk, e.desk_seq, e.id, e.hash, e.order_id, s.sig FROM events e "
    "LEFT JOIN event_state s ON s.event_id = e.id "
    "WHERE e.desk NOT IN (SELECT desk FROM desk_heads) "
    "AND NOT EXISTS (SELECT 1 FROM events n WHERE n.desk = e.desk AND n.desk_seq = e.desk_seq + 1)"
)
_OWN_SIGNED = (
    "SELECT e.desk, e.desk_seq, e.id, e.hash, e.order_id, s.sig FROM events e "
    "JOIN event_state s ON s.event_id = e.id WHERE e.desk = ? AND s.sig IS NOT NULL "
    "ORDER BY e.desk_seq DESC LIMIT 1"
)


@dataclass
class Anchoring:
    """What the server's signatures say about the chains this file holds (see store/signing.py).

    ``faults``: (kind, desk, desk_seq, order_id) with kind ``bad_sig`` (the newest event of a run does not carry
    the server's signature over its hash: it, or an event linked before it, was rewritten) or ``unsigned`` (no
    signature where the desk has fetched them all). ``pending``: runs whose newest event has no signature while
    the first sync with signatures is still fetching them. ``unanchored``: other desks' events held while this
    desk knows no server key (it synced before signatures and not since)."""

    key: str | None = None
    verified: int = 0
    pending: int = 0
    unanchored: int = 0
    faults: list[tuple[str, str, int, str]] = field(default_factory=list)


def anchoring(conn: Any, tables: dict[str, str]) -> Anchoring:
    """Verify, for every run of consecutive events of a desk held here, the newest one's server signature.

    Hashes and links inside a run are store/audit.py's business; a run whose links hold and whose newest event
    carries the server's signature over its hash is as the server took it. For this desk's own chains (rows in
    ``desk_heads``, complete by construction) the newest signed event is verified."""
    out = Anchoring()
    if "event_state" not in tables:
        return out
    meta = dict(conn.exec_driver_sql("SELECT key, value FROM meta WHERE key LIKE 'sync.%'").all())
    out.key = meta.get("sync.server_key")
    tips = conn.exec_driver_sql(_FOREIGN_TIPS).all()
    from .signing import Verifier, is_key  # cryptography: only when a file is checked, not for every start

    if out.key is None or not is_key(out.key):
        out.unanchored = len(tips)
        out.key = None
        return out
    verifier = Verifier(out.key)
    pending = bool(meta.get("sync.sigs_pending"))
    own = [r[0] for r in conn.exec_driver_sql("SELECT desk FROM desk_heads").all()]
    rows = list(tips)
    for desk in own:
        rows += conn.exec_driver_sql(_OWN_SIGNED, (desk,)).all()
    for desk, seq, event_id, event_hash, order_id, sig in rows:
        if sig is None:
            if pending:
                out.pending += 1
            else:
                out.faults.append(("unsigned", desk, int(seq), order_id))
        elif verifier.valid(sig, desk, int(seq), event_id, event_hash):
            out.verified += 1
        else:
            out.faults.append(("bad_sig", desk, int(seq), order_id))
    return out
