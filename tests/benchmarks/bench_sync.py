"""Sync throughput: push and pull of 100,000 events and 20 desks pushing at once, on a SQLite and on a PostgreSQL
server, each beside a bare bulk insert of the same event rows into the same database (the floor); and a longer
run of the fault-injection simulation than ``make test`` does.

The server runs as its own process (``fengqiao server run``), the desks in this one, over real HTTP on
127.0.0.1. The desks' event logs are generated once (township desks dispatching in their town and working
their own assignments: dispatch, sign, arrive, feedback) and cached in .bench/.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx

from fengqiao.models.clock import local_day
from fengqiao.models.events import new_id
from fengqiao.models.intake import IntakeForm, validate_intake
from fengqiao.models.machine import Action, CallInfo, Event, Intent, apply, build, dispatch_payload
from fengqiao.models.reference import default_reference
from fengqiao.models.routing import route
from fengqiao.server.store import ServerStore
from fengqiao.store.db import Database
from fengqiao.store.projection import INSERT_CALL, INSERT_EVENT, DeskChain, call_tuple, save_order
from fengqiao.store.sync import HttpTransport, SyncClient
from fengqiao.store.wire import PullResponse

from .common import CACHE, ROOT, Context, Row

GEN_VERSION = 3  # 3: a long log starts early enough to end before now (the server refuses the future)
TOWNS = [
    "HZ",
    "SHH",
    "SJ",
    "LS",
    "PK",
    "GL",
    "CL",
    "CR",
    "SJJ",
    "SHG",
    "GLL",
    "XY",
    "JT",
    "BZ",
    "XW",
    "GM",
    "LN",
    "ZX",
    "YH",
    "WY",
    "TY",
]
TAGS = ["B04", "A03", "B01", "C14", "A02", "B02", "C04"]  # some go to county bureaus: only dispatched here
PG_ADMIN = os.environ.get("FENGQIAO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def desk_log(name: str, town: str, events: int, ctx: Context) -> Path:
    """A township desk's database holding ``events`` events it wrote itself (cached)."""
    path = CACHE / f"sync-{name}-{town}-{events}-g{GEN_VERSION}.db"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for p in CACHE.glob(partial.name + "*"):
        p.unlink()
    ref = default_reference()
    db = Database(partial)
    # three minutes between orders (about 4.4 events each): 100k events span 47 days, all before now
    at = ctx.clock()() - max(timedelta(days=30), timedelta(minutes=3) * (events // 4 + 10))
    own = {f"ZZ-{town}", ref.town(town).station_code}
    written, n = 0, 0
    while written < events:
        with db.write() as conn:
            chain = DeskChain(conn, name)
            rows, calls = [], []
            while written < events and len(rows) < 5000:
                n += 1
                at += timedelta(minutes=3)
                tag = TAGS[n % len(TAGS)]
                plan = route(ref, tag, town)
                clean = validate_intake(
                    ref,
                    IntakeForm(
                        phone=f"138{n:08d}", town=town, description="商铺门口乱堆放", address=f"人民路{n % 300}号"
                    ),
                )
                call = CallInfo(new_id(), clean.phone, "", town, clean.address, clean.description, at, name)
                no = f"{town}-{local_day(at)}-{n:05d}"
                payload = dispatch_payload(
                    ref, order_no=no, route=plan, call=call, at=at, assignment_ids=[new_id() for _ in plan.assignees]
                )
                ev = Event(
                    id=new_id(),
                    order_id=new_id(),
                    kind=str(Action.DISPATCH),
                    event_at=at,
                    recorded_at=at,
                    desk=name,
                    actor="bench",
                    payload=payload,
                )
                state = apply(None, ev)
                evs = [ev]
                for a in [a for a in state.assignments if a.assignee in own]:  # the desk's own work only
                    for i, action in enumerate((Action.SIGN, Action.ARRIVE, Action.FEEDBACK)):
                        when = at + timedelta(minutes=5 + 10 * i)
                        step = build(
                            ref,
                            state,
                            Intent(action, assignee=a.assignee, result="resolved", note="已处理"),
                            event_id=new_id(),
                            at=when,
                            desk=name,
                            actor="bench",
                            recorded_at=when,
                            check=False,
                        )
                        apply(state, step)
                        evs.append(step)
                evs = evs[: events - written]
                rows.extend(chain.seal(e) for e in evs)
                calls.append(call_tuple(call, ev.order_id, linked=False, repeat_of=None))
                written += len(evs)
                conn.exec_driver_sql(INSERT_CALL, calls[-1])
                save_order(conn, state)
            conn.exec_driver_sql(INSERT_EVENT, rows)
            chain.save(conn)
    db.checkpoint()
    db.close()
    partial.rename(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server_process(url: str, workdir: Path, module: str = "fengqiao.console.cli") -> Iterator[str]:
    """The server (``module``: the CLI, or the push skeleton) as its own process on a free port."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = (workdir / "server.log").open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            module,
            "server",
            "run",
            "--port",
            str(port),
            "--db",
            url,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"server did not start: {(workdir / 'server.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@contextmanager
def backend(kind: str, workdir: Path) -> Iterator[str | None]:
    """A fresh server database URL (None: PostgreSQL is not reachable)."""
    if kind == "sqlite":
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "server.db"
        for p in workdir.glob("server.db*"):
            p.unlink()
        yield f"sqlite:///{path}"
        return
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception:  # noqa: BLE001
        yield None
        return
    name = f"fq_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield "postgresql+psycopg://" + PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


PUSH_TABLES = {  # what a push writes into the server's database: (the rows after global seq ?, stable order)
    "srv_events": ("seq > ?", "seq"),
    "srv_sigs": ("seq > ?", "seq"),
    "srv_scope": ("granted_seq > ?", "order_id, assignee"),
    "srv_order_nos": ("order_id IN (SELECT order_id FROM srv_events WHERE seq > ?)", "order_no"),
    "srv_desk_heads": ("desk IN (SELECT desk FROM srv_events WHERE seq > ?)", "desk"),
}


def _sa_rows(url: str, table: str, since: int = 0) -> tuple[list[str], list[tuple[object, ...]]]:
    from sqlalchemy import create_engine

    where, order = PUSH_TABLES[table]
    mark = "?" if url.startswith("sqlite") else "%s"
    engine = create_engine(url)
    with engine.connect() as conn:
        result = conn.exec_driver_sql(
            f"SELECT * FROM {table} WHERE {where.replace('?', mark)} ORDER BY {order}", (since,)
        )
        cols, rows = list(result.keys()), [tuple(r) for r in result]
    engine.dispose()
    return cols, rows


def floor_push(url: str, floor_url: str, since: int = 0) -> float:
    """Seconds to write the rows the push wrote (read back from the server's database, ``PUSH_TABLES``) into a
    fresh database of the same schema on the same server, one executemany per table in one transaction: the
    push's floor. Checks that the floor's rows equal the real ones."""
    from sqlalchemy import create_engine

    real = {t: _sa_rows(url, t, since) for t in PUSH_TABLES}
    ServerStore(floor_url).close()  # the same schema, empty but for its own meta and counter
    engine = create_engine(floor_url)
    mark = "?" if floor_url.startswith("sqlite") else "%s"
    with engine.connect() as conn:
        started = time.perf_counter()
        with conn.begin():
            for table, (cols, rows) in real.items():
                if rows:
                    conn.exec_driver_sql(
                        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})", rows
                    )
        seconds = time.perf_counter() - started
    engine.dispose()
    for table in PUSH_TABLES:
        assert _sa_rows(floor_url, table, since) == real[table], f"floor rows differ from the push's in {table}"
    return seconds


def _desk_tables(conn: sqlite3.Connection) -> list[str]:
    """The desk's plain tables (a full-text index and its shadow tables are filled by triggers)."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL")]
    return [
        name
        for name, _sql in rows
        if not name.startswith("sqlite_")
        and name not in ("meta", "schema_version")
        and not any(name == v or name.startswith(v + "_") for v in virtual)
    ]


def floor_pull(pulled: Path, ctx: Context) -> float:
    """Seconds to write the rows the pull wrote into the desk's file (events, statuses, calls, the projection
    and its rollups: every table that was empty before and is not now) into a fresh desk file of the same
    schema, one executemany per table in one transaction: the pull's floor. Checks the rows are equal."""
    target = ctx.scratch("pull-floor.db")
    Database(target).close()
    fresh = sqlite3.connect(target)
    src = sqlite3.connect(pulled)
    empty = {t for t in _desk_tables(fresh) if fresh.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0}
    real: dict[str, tuple[list[str], list[tuple[object, ...]]]] = {}
    for table in _desk_tables(src):
        if table not in empty:
            continue
        cur = src.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
        rows = cur.fetchall()
        if rows:
            real[table] = ([d[0] for d in cur.description], rows)
    src.close()
    fresh.execute("PRAGMA journal_mode=WAL")
    fresh.execute("PRAGMA synchronous=FULL")
    started = time.perf_counter()
    with fresh:
        for table, (cols, rows) in real.items():
            fresh.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
    seconds = time.perf_counter() - started
    for table, (cols, rows) in real.items():
        got = fresh.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1, 2").fetchall()
        assert sorted(map(repr, got)) == sorted(map(repr, rows)), f"floor rows differ from the pull's in {table}"
    fresh.close()
    return seconds


def skeleton_push(kind: str, log: Path, ctx: Context, n: int) -> tuple[float, list[tuple[object, ...]]]:
    """Seconds for the desk to push ``log`` to the push skeleton (tests/benchmarks/push_skeleton.py) on a fresh
    server database of ``kind``, and the event rows it wrote (id, seq, hash, state) to compare with the real push's."""
    workdir = ctx.tmp / f"sync-{kind}-skeleton"
    workdir.mkdir(parents=True, exist_ok=True)
    with backend(kind, workdir) as url:
        assert url is not None
        store = ServerStore(url)
        token = store.add_desk("HZ-one", "township", town="HZ")
        store.close()
        with server_process(url, workdir, module="tests.benchmarks.push_skeleton") as base:
            seconds = one_desk_push(log, ctx, f"push-skeleton-{kind}.db", base, token, n)
        return seconds, _event_marks(url)


def one_desk_push(log: Path, ctx: Context, name: str, base: str, token: str, n: int) -> float:
    """Seconds for a copy of the desk ``log`` to push its ``n`` events to the server at ``base``, 1,000 a request."""
    db = copy_desk(log, ctx, name)
    client = SyncClient(db, HttpTransport(base, token, timeout=120), push_batch=1000)
    started = time.perf_counter()
    report = client.push()
    seconds = time.perf_counter() - started
    assert report.pushed == n, report
    client.transport.close()
    db.close()
    return seconds


def _event_marks(url: str) -> list[tuple[object, ...]]:
    cols, rows = _sa_rows(url, "srv_events")
    at = [cols.index(c) for c in ("id", "seq", "hash", "state")]
    return [tuple(r[i] for i in at) for r in rows]


def copy_desk(path: Path, ctx: Context, name: str) -> Database:
    target = ctx.scratch(name)
    shutil.copyfile(path, target)
    return Database(target)


def bench_backend(kind: str, ctx: Context, n: int, desks: int) -> list[Row]:
    workdir = ctx.tmp / f"sync-{kind}"
    workdir.mkdir(parents=True, exist_ok=True)
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    rows: list[Row] = []
    one = desk_log("HZ-one", "HZ", n, ctx)
    per = n // desks
    towns = TOWNS[1 : desks + 1]  # the other towns: one township desk each
    many = [desk_log(f"{t}-bench", t, per, ctx) for t in towns]
    with backend(kind, workdir) as url:
        if url is None:
            return [Row("sync", f"{label}: skipped", "-", note=f"no PostgreSQL at {PG_ADMIN}")]
        store = ServerStore(url)
        token = store.add_desk("HZ-one", "township", town="HZ")
        tokens = [store.add_desk(f"{t}-bench", "township", town=t) for t in towns]
        sup = store.add_desk("SUP-bench", "supervisor")
        store.close()
        with server_process(url, workdir) as base:
            # 1. one desk pushes n events
            push_s = one_desk_push(one, ctx, f"push-{kind}.db", base, token, n)
            with backend(kind, ctx.tmp / f"sync-{kind}-floor") as floor_url:
                assert floor_url is not None
                push_floor = floor_push(url, floor_url)
            marks = _event_marks(url)
            # 2. an empty supervisor desk pulls them: events, calls, projections, statuses
            target = ctx.scratch(f"pull-{kind}.db")
            db = Database(target)
            client = SyncClient(db, HttpTransport(base, sup, timeout=120), pull_limit=5000)
            started = time.perf_counter()
            report = client.pull()
            pull_s = time.perf_counter() - started
            assert report.pulled == n, report
            with db.read() as conn:
                orders = conn.exec_driver_sql("SELECT count(*) FROM orders").scalar()
            # 2b. an idle poll: what every desk does every few seconds when nothing is new
            started = time.perf_counter()
            for _ in range(200):
                client.transport.call("GET", "/v1/pull", PullResponse, params={"cursor": report.cursor, "limit": 1000})
            idle_ms = (time.perf_counter() - started) * 1000 / 200
            client.transport.close()
            db.close()
            pull_floor = floor_pull(target, ctx)
            # 3. twenty desks push at once
            dbs = [copy_desk(p, ctx, f"many-{kind}-{i}.db") for i, p in enumerate(many)]
            clients = [
                SyncClient(d, HttpTransport(base, tok, timeout=300), push_batch=500)
                for d, tok in zip(dbs, tokens, strict=True)
            ]
            results: list[int] = []
            errors: list[BaseException] = []

            def push(c: SyncClient) -> None:
                try:
                    results.append(c.push().pushed)
                except BaseException as exc:  # noqa: BLE001
                    errors.append(exc)

            threads = [threading.Thread(target=push, args=(c,)) for c in clients]
            started = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            many_s = time.perf_counter() - started
            if errors:
                raise errors[0]
            assert sum(results) == per * desks, results
            for c, d in zip(clients, dbs, strict=True):
                c.transport.close()
                d.close()
        with backend(kind, ctx.tmp / f"sync-{kind}-floor") as floor_url:
            assert floor_url is not None
            many_floor = floor_push(url, floor_url, since=n)  # the rows after the first push's
    skeleton_s, skeleton_marks = skeleton_push(kind, one, ctx, n)
    assert skeleton_marks == marks, "the push skeleton's event rows differ from the push's"
    rows += [
        Row(
            "sync",
            f"{label}: push {n:,} events (1 desk, 1,000/request)",
            push_s,
            "s",
            push_floor,
            note="floor: the same server rows (events, sigs, scope, order numbers, heads), executemany",
        ),
        Row(
            "sync",
            f"{label}:   the same push to a server that checks nothing",
            skeleton_s,
            "s",
            push_floor,
            note="diagnostic, not a floor (tests/benchmarks/push_skeleton.py): body parsed, hashes and chain "
            "checked, numbered, event rows written; no validation, state machine, scope or order numbers",
        ),
        Row(
            "sync",
            f"{label}: pull {n:,} events into an empty desk ({orders:,} orders)",
            pull_s,
            "s",
            pull_floor,
            note="in 5,000-event pages; floor: the same desk rows and projections, executemany",
        ),
        Row(
            "sync",
            f"{label}: {desks} desks pushing {per * desks:,} events at once",
            many_s,
            "s",
            many_floor,
            note="floor: the same server rows, executemany",
        ),
        Row("sync", f"{label}: push rate, one desk", n / push_s, "events/s"),
        Row("sync", f"{label}: push rate, {desks} desks at once", per * desks / many_s, "events/s"),
        Row("sync", f"{label}: pull rate", n / pull_s, "events/s"),
        Row("sync", f"{label}: idle poll (nothing new), one request", idle_ms, "ms"),
    ]
    return rows


def bench_faults(ctx: Context) -> list[Row]:
    sys.path.insert(0, str(ROOT))
    from tests.sync.sim import Simulation

    seeds, steps = (range(100, 103), 400) if ctx.quick else (range(100, 110), 1000)
    problems = 0
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for seed in seeds:
        work = ctx.scratch(f"faults-{seed}")
        work.mkdir(parents=True, exist_ok=True)
        sim = Simulation(f"sqlite:///{work / 'server.db'}", work, seed=seed, steps=steps)
        try:
            problems += len(sim.run())
            for k in (
                "events",
                "conflicts",
                "dropped",
                "lost_acks",
                "duplicated",
                "late deliveries",
                "crash push:answered",
                "crash pull:stored",
            ):
                counts[k] = counts.get(k, 0) + sim.counts[k]
        finally:
            sim.close()
    seconds = time.perf_counter() - started
    faults = (
        f"{counts['dropped']} dropped, {counts['lost_acks']} acks lost, {counts['duplicated']} duplicated, "
        f"{counts['late deliveries']} late, {counts['crash push:answered'] + counts['crash pull:stored']} crashes"
    )
    return [
        Row(
            "sync",
            f"fault injection: {len(seeds)} runs × {steps} steps, 7 desks",
            problems,
            "violations",
            note=f"{counts['events']:,} events, {counts['conflicts']} conflicts; {faults}; {seconds:.0f} s",
        ),
    ]


def bench(ctx: Context) -> list[Row]:
    n = 20_000 if ctx.quick else 100_000
    rows: list[Row] = []
    for kind in ("sqlite", "postgresql"):
        rows += bench_backend(kind, ctx, n, 20)
    rows += bench_faults(ctx)
    return rows
