"""The store's secret for hashes shown in masked views (see :func:`fengqiao.models.privacy.shown_hash`).

32 random bytes in the ``meta`` table, made on first use. Whoever can read the database file reads the full
numbers anyway; what the key protects is what a masked *view* prints (a supervisor's ``audit --json``).
"""

from __future__ import annotations

import secrets

from .db import Database, get_meta, set_meta

KEY = "view_hash_key"


def view_key(db: Database) -> bytes:
    with db.read() as conn:
        value = get_meta(conn, KEY)
    if value is None:
        with db.write() as conn:
            value = get_meta(conn, KEY)
            if value is None:
                value = secrets.token_hex(32)
                set_meta(conn, KEY, value)
    return bytes.fromhex(value)
