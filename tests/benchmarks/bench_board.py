"""The open-orders board at 10k, 100k and 1M orders: opening it, paging, changing a filter, searching.

Each figure is the median wall time of what the console does (``store.board.BoardQuery``: one page of 40 rows
through SQLAlchemy, the desk's visibility rule, rows turned into ``BoardRow``) beside the floor: the same page
fetched with one plain ``sqlite3`` query on the same file and indexes. "console" rows time the real screen
(Pilot, 80x24): from pressing F6 to the first page on screen, and from PageDown to the next page on screen.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from fengqiao.models.reference import default_reference
from fengqiao.models.roles import make_desk
from fengqiao.store.board import BoardFilter, BoardQuery
from fengqiao.store.db import Database

from .common import Context, Row, timed

PAGE = 40
COLS = (
    "o.id, o.order_no, o.status, o.tag, o.category, o.town, o.mode, o.primary_assignee, o.police_assignee, "
    "o.call_at, o.updated_at, o.next_due, o.next_due_kind, o.next_due_start, o.repeat_of, o.linked_calls, "
    "o.escalations, c.address, c.description"
)
OPEN = "o.status NOT IN ('closed', 'cancelled')"
DUE = "coalesce(o.next_due, '~'), o.order_no"


def _plain(
    conn: sqlite3.Connection,
    where: str,
    params: tuple = (),
    order: str = DUE,
    source: str = "orders o",
    limit: int = PAGE,
) -> list:
    sql = (
        f"SELECT {COLS} FROM {source} LEFT JOIN calls c ON c.id = o.call_id"
        + (f" WHERE {where}" if where else "")
        + f" ORDER BY {order} LIMIT {limit}"
    )
    return conn.execute(sql, params).fetchall()


def _size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def _console_times(path: Path, ctx: Context) -> tuple[float, float]:
    """(F6 to the first page in the table, PageDown to the next page in the table) in ms, through the real app.

    Keys are posted as the terminal driver would; the time runs until the rows are in the table (the terminal
    shows them on the next screen refresh, at most 1/60 s later). The first F6 also builds the screen.
    """
    from textual import events

    from fengqiao.console.app import FengqiaoApp
    from fengqiao.screens.board import BoardScreen

    ref = default_reference()
    db = Database(path)
    app = FengqiaoApp(db=db, desk=make_desk(ref, "bench", "call_taker"), clock=ctx.clock(), ref=ref, watch_store=False)
    opened: list[float] = []
    paged: list[float] = []

    async def until(check) -> None:
        for _ in range(20000):
            if check():
                return
            await asyncio.sleep(0.0005)
        raise TimeoutError("the board never showed its page")

    async def run() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            started = time.perf_counter()
            app.post_message(events.Key("f6", None))
            await until(lambda: isinstance(app.screen, BoardScreen) and bool(app.screen.rows))
            opened.append((time.perf_counter() - started) * 1000)
            board = app.screen
            await pilot.pause(0.2)
            app.post_message(events.Key("pagedown", None))  # the first PgDn goes to the last row on screen
            await until(lambda: board.table.cursor_row == len(board.rows) - 1)
            for _ in range(7):
                first = board.rows[0].id
                started = time.perf_counter()
                app.post_message(events.Key("pagedown", None))
                await until(lambda: board.rows and board.rows[0].id != first)
                paged.append((time.perf_counter() - started) * 1000)
                await pilot.pause(0.05)

    asyncio.run(run())
    db.close()
    return opened[0], sorted(paged)[len(paged) // 2]


def bench(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    ref = default_reference()
    for n in ctx.sizes:
        path = ctx.demo_db(n)
        label = _size_label(n)
        db = Database(path)
        clock = ctx.clock()
        now = clock().strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        board = BoardQuery(db, ref=ref, clock=clock)
        dept = BoardQuery(db, ref=ref, clock=clock, desk=make_desk(ref, "d", "department", dept="SCJG"))
        raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        area = f"board {label}"

        f = BoardFilter()
        rows.append(
            Row(
                area,
                "open board: first page (40 rows)",
                timed(lambda: board.page(f, limit=PAGE)),
                "ms",
                timed(lambda: _plain(raw, OPEN)),
                note="floor: plain sqlite3, same SQL page",
            )
        )
        counts = board.count(f)
        rows.append(
            Row(
                area,
                f"open board: count ({counts.total:,} open, {counts.overdue:,} overdue)",
                timed(lambda: board.count(f)),
                "ms",
                timed(
                    lambda: raw.execute(
                        f"SELECT count(*), sum(o.next_due < ?) FROM orders o WHERE {OPEN}", (now,)
                    ).fetchone()
                ),
            )
        )
        first = board.page(f, limit=PAGE)

        def page_down() -> None:
            page = first
            for _ in range(10):
                page = board.page(f, after=page[-1].key, limit=PAGE)

        def page_down_plain() -> None:
            key = (first[-1].key[0], first[-1].key[1])
            for _ in range(10):
                got = _plain(raw, f"{OPEN} AND ({DUE}) > (?, ?)", key)
                key = (got[-1][11] or "~", got[-1][1])

        rows.append(
            Row(area, "page down (per page, 10 pages)", timed(page_down) / 10, "ms", timed(page_down_plain) / 10)
        )
        every = BoardFilter(scope="all", sort="newest")
        deep_no = raw.execute(
            "SELECT order_no, call_at FROM orders ORDER BY call_at DESC, order_no DESC LIMIT 1 OFFSET ?", (n // 2,)
        ).fetchone()
        deep_key = (deep_no[1], deep_no[0])
        offset_sql = (
            f"SELECT {COLS} FROM orders o LEFT JOIN calls c ON c.id = o.call_id "
            f"ORDER BY o.call_at DESC, o.order_no DESC LIMIT {PAGE} OFFSET {n // 2}"
        )
        rows.append(
            Row(
                area,
                f"all states, page at row {n // 2:,} (keyset)",
                timed(lambda: board.page(every, after=deep_key, limit=PAGE)),
                "ms",
                timed(lambda: raw.execute(offset_sql).fetchall(), repeat=3),
                note="floor: the same page by OFFSET",
            )
        )
        for what, bf, where, params, order in [
            (
                "filter: town 黄泽镇 + dual",
                BoardFilter(town="HZ", dual=True),
                f"{OPEN} AND o.town = ? AND o.mode = 'dual'",
                ("HZ",),
                DUE,
            ),
            (
                "filter: overdue only (escalation queue)",
                BoardFilter().escalation_queue(),
                f"{OPEN} AND o.next_due < ?",
                (now,),
                DUE,
            ),
            (
                "filter: all states, department ZJJ, by town",
                BoardFilter(scope="all", dept="ZJJ", sort="town"),
                "o.primary_assignee = ?",
                ("ZJJ",),
                "o.town, " + DUE,
            ),
            (
                "filter: all states, category D, oldest first",
                BoardFilter(scope="all", category="D", sort="age"),
                "o.category = ?",
                ("D",),
                "o.call_at, o.order_no",
            ),
            (
                "filter: all states, repeat calls",
                BoardFilter(scope="all", repeat=True),
                "(o.repeat_of IS NOT NULL OR o.linked_calls > 0)",
                (),
                DUE,
            ),
        ]:
            got = [r.order_no for r in board.page(bf, limit=PAGE)]
            plain = [r[1] for r in _plain(raw, where, params, order)]
            if got != plain:
                raise AssertionError(f"{what}: the floor's page differs from the board's ({plain[:3]} vs {got[:3]})")

            def change(bf: BoardFilter = bf) -> None:  # a filter change: the filter's plan is not known yet
                board.forget_plans()
                board.page(bf, limit=PAGE)

            rows.append(
                Row(
                    area,
                    what,
                    timed(change),
                    "ms",
                    timed(lambda w=where, p=params, o=order: _plain(raw, w, p, o)),
                    note="a filter change (its plan probed again); the floor's page checked equal",
                )
            )
        dept_where = (
            f"{OPEN} AND (o.primary_assignee = 'SCJG' OR o.id IN "
            "(SELECT order_id FROM assignments WHERE assignee = 'SCJG' AND role = 'co' AND active = 1))"
        )
        if [r.order_no for r in dept.page(f, limit=PAGE)] != [r[1] for r in _plain(raw, dept_where)]:
            raise AssertionError("the department desk's floor page differs from its board's")
        rows.append(
            Row(
                area,
                "department desk (SCJG): open board",
                timed(lambda: dept.page(f, limit=PAGE)),
                "ms",
                timed(lambda: _plain(raw, dept_where)),
                note="floor: the same page in plain SQL (its lead and co-handled orders), checked equal",
            )
        )
        phone = raw.execute("SELECT phone FROM orders ORDER BY call_at DESC LIMIT 1").fetchone()[0]
        for what, text, like in [
            ("search: address words 人民路 (full text)", "人民路", "%人民路%"),
            ("search: phone's last 4 digits (full text)", phone[-4:], f"%{phone[-4:]}%"),
            ("search: 2-character word 假货 (trigram prefixes)", "假货", "%假货%"),
        ]:
            sf = BoardFilter(scope="all", search=text)
            found = board.count(sf)
            total = f"{found.total:,}{'+' if found.capped else ''}"
            rows.append(
                Row(
                    area,
                    f"{what}: first page ({total} hits)",
                    timed(lambda sf=sf: board.page(sf, limit=PAGE)),
                    "ms",
                    timed(
                        lambda like=like: _plain(
                            raw, "(c.phone LIKE ? OR c.address LIKE ? OR c.description LIKE ?)", (like,) * 3
                        ),
                        repeat=3,
                    ),
                    note="floor: plain LIKE scan",
                )
            )
        raw.close()
        db.close()
        if not ctx.quick or n == ctx.sizes[0]:
            opened, paged = _console_times(path, ctx)
            rows.append(Row(area, "console: first F6 → page in the table (builds the screen)", opened, "ms"))
            rows.append(Row(area, "console: PageDown → next page in the table", paged, "ms"))
    return rows
