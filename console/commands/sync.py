"""CLI commands for the sync area: ``fengqiao sync`` (the desk's side) and ``fengqiao server …`` (the server).

    fengqiao server desk-add 110-1 --role call_taker --prefix SZ     # prints the token as its last line
    fengqiao server run --port 8470 --db postgresql+psycopg://fq@db/fengqiao
    fengqiao sync --server http://county:8470 --token fq1_… --once

The server and token may also come from the desk's config file (``[sync] server = … / token = …``) or from
``$FENGQIAO_SYNC_SERVER`` / ``$FENGQIAO_SYNC_TOKEN``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import platformdirs
import typer

from fengqiao.models.clock import fmt_local, from_db_opt, system_clock
from fengqiao.models.errors import ValidationError
from fengqiao.models.i18n import t

from ..syncsetup import console_sync, make_client, sync_settings

__all__ = ["DEFAULT_PORT", "console_sync", "make_client", "register", "sync_settings"]

DEFAULT_PORT = 8470


def default_server_db() -> str:
    env = os.environ.get("FENGQIAO_SERVER_DB")
    if env:
        return env
    return str(Path(platformdirs.user_data_dir("fengqiao", appauthor=False)) / "server.db")


def shown_url(url: str) -> str:
    """A database URL fit to print (password hidden)."""
    from sqlalchemy.engine import make_url

    from fengqiao.server.store import normalize_url

    return make_url(normalize_url(url)).render_as_string(hide_password=True)


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="server database: a file (SQLite) or postgresql+psycopg://…; "
        "default $FENGQIAO_SERVER_DB or server.db in the user data dir",
    ),
]


def _server_store(db: str | None, config: Path | None = None):  # noqa: ANN202 - server.store.ServerStore
    from fengqiao.server.store import ServerStore
    from fengqiao.server.webhooks import WebhookConfig

    hooks = WebhookConfig.load(config) if config else None
    return ServerStore(db or default_server_db(), hooks=hooks)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    from fengqiao.console.textout import dumps, echo, table

    server_app = typer.Typer(
        help="The sync server: run it, manage desks and their tokens.",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
    )
    app.add_typer(server_app, name="server")

    @server_app.command("run")
    def server_run(
        host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = DEFAULT_PORT,
        db: DbOpt = None,
        config: Annotated[Path | None, typer.Option("--config", help="server config (TOML): [webhooks]")] = None,
        workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="server processes")] = 1,
        ssl_certfile: Annotated[Path | None, typer.Option("--ssl-certfile", help="TLS certificate (PEM)")] = None,
        ssl_keyfile: Annotated[Path | None, typer.Option("--ssl-keyfile", help="TLS private key (PEM)")] = None,
        log_level: Annotated[str, typer.Option("--log-level")] = "info",
    ) -> None:
        """Serve the sync API (FastAPI under uvicorn; OpenAPI at /docs)."""
        import uvicorn

        from fengqiao.server.app import create_app
        from fengqiao.server.limits import Limits, uvicorn_options

        limits = Limits.production()

        if (ssl_certfile is None) != (ssl_keyfile is None):
            raise ValidationError(t("server.ssl_pair"), field="ssl")
        url = db or default_server_db()
        store = _server_store(url, config)
        scheme = "https" if ssl_certfile else "http"
        echo(t("server.serving", url=f"{scheme}://{host}:{port}", db=shown_url(url), epoch=store.epoch()[:8]))
        ssl: dict[str, Any] = (
            {"ssl_certfile": str(ssl_certfile), "ssl_keyfile": str(ssl_keyfile)} if ssl_certfile else {}
        )
        if workers > 1:
            store.close()
            os.environ["FENGQIAO_SERVER_DB"] = url
            if config:
                os.environ["FENGQIAO_SERVER_CONFIG"] = str(config)
            uvicorn.run(
                "fengqiao.server.app:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                **ssl,
                **uvicorn_options(limits),
            )
            return
        from fengqiao.server.app import load_field_config

        field = load_field_config(config) if config else None
        try:
            uvicorn.run(
                create_app(store, limits=limits, field=field),
                host=host,
                port=port,
                log_level=log_level,
                **ssl,
                **uvicorn_options(limits),
            )
        finally:
            store.close()

    attach_app = typer.Typer(
        help="Photos attached to orders from the phone page.",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
    )
    app.add_typer(attach_app, name="attach")

    @attach_app.command("get")
    def attach_get(
        ctx: typer.Context,
        order_no: Annotated[str, typer.Argument(help="the order number")],
        folder: Annotated[Path, typer.Argument(help="where to write the photos (made if missing)")],
        server: Annotated[str | None, typer.Option("--server")] = None,
        token: Annotated[str | None, typer.Option("--token")] = None,
    ) -> None:
        """Fetch an order's photos from the sync server into FOLDER, checking each one's SHA-256."""
        import hashlib

        from fengqiao.store.sync import HttpTransport

        from ..state import order_store

        store = order_store(ctx, viewing=True)
        state = store.order(order_no)
        wanted = [(a.assignee, p) for a in state.assignments for p in a.photos]
        if not wanted:
            echo(t("mobile.no_photos", order_no=state.order_no))
            return
        settings = sync_settings(ctx.obj.config, server, token)
        if not settings["server"] or not settings["token"]:
            raise ValidationError(t("sync.not_configured"), field="server")
        transport = HttpTransport(
            settings["server"], settings["token"], timeout=settings["timeout"], verify=settings["verify"]
        )
        folder.mkdir(parents=True, exist_ok=True)
        ext = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
        try:
            for n, (assignee, photo) in enumerate(wanted, start=1):
                data = transport.get_bytes(f"/v1/photos/{photo['sha256']}")
                if hashlib.sha256(data).hexdigest() != photo["sha256"]:
                    raise ValidationError(t("mobile.photo_hash_wrong", sha=photo["sha256"][:12]), field="photo")
                target = folder / f"{state.order_no}-{assignee}-{n}.{ext.get(photo['mime'], 'bin')}"
                target.write_bytes(data)
                echo(f"{target}  {photo['sha256']}")
        finally:
            transport.close()

    @server_app.command("user-add")
    def user_add(
        name: Annotated[str, typer.Argument(help="the person's name, as shown on orders")],
        unit: Annotated[str, typer.Option("--unit", help="SCJG, ZZ-HZ, GA-HZ …: the assignee code of the unit")],
        lead: Annotated[
            bool, typer.Option("--lead", help="the unit's lead: sees all its orders, hands them out")
        ] = False,
        phone: Annotated[str | None, typer.Option("--phone")] = None,
        login: Annotated[str | None, typer.Option("--login", help="sign-in name (default: the name)")] = None,
        db: DbOpt = None,
    ) -> None:
        """Add a person of a unit for the phone page; prints the login and a one-time sign-in code."""
        from fengqiao.server.people import People

        store = _server_store(db)
        try:
            person, code = People(store).add(name, unit, lead=lead, phone=phone, login=login)
        finally:
            store.close()
        echo(
            t(
                "mobile.user_added",
                name=person.name,
                unit=person.unit,
                lead=t("mobile.lead_mark") if person.lead else "",
                login=person.login,
                code=code,
            )
        )

    @server_app.command("user-list")
    def user_list(db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """The people of every unit (never their codes or passwords)."""
        from fengqiao.models.text import visible
        from fengqiao.server.people import People

        store = _server_store(db)
        try:
            people = People(store).all()
        finally:
            store.close()
        if as_json:
            echo(dumps(people))
            return
        if not people:
            echo(t("mobile.no_users"))
            return
        rows = [
            [
                visible(p["login"], single_line=True),
                visible(p["name"], single_line=True),
                p["unit"],
                "✓" if p["lead"] else "",
                "✓" if p["signed_up"] else "",
                p["revoked_at"][:10] if p["revoked_at"] else "",
            ]
            for p in people
        ]
        echo(table(["login", t("cli.name"), t("cli.unit"), t("cli.lead"), t("cli.signed_up"), t("cli.revoked")], rows))

    @server_app.command("user-reset")
    def user_reset(login: Annotated[str, typer.Argument()], db: DbOpt = None) -> None:
        """A new one-time code for a person (forgot the password, new phone); ends their sessions."""
        from fengqiao.server.people import People

        store = _server_store(db)
        try:
            code = People(store).reset(login)
        finally:
            store.close()
        echo(t("mobile.user_reset", login=login, code=code))

    @server_app.command("user-revoke")
    def user_revoke(login: Annotated[str, typer.Argument()], db: DbOpt = None) -> None:
        """Stop a person signing in (left the unit, lost phone); ends their sessions."""
        from fengqiao.server.people import People

        store = _server_store(db)
        try:
            People(store).revoke(login)
        finally:
            store.close()
        echo(t("mobile.user_revoked", login=login))

    @server_app.command("desk-add")
    def desk_add(
        name: Annotated[str, typer.Argument(help="the desk's name: [desk] name in its config")],
        role: Annotated[str, typer.Option("--role", help="call_taker | township | department | supervisor")],
        dept: Annotated[str | None, typer.Option("--dept", help="department desks: SCJG, GA-HZ, ZZ-HZ …")] = None,
        town: Annotated[str | None, typer.Option("--town", help="township desks: the town code")] = None,
        prefix: Annotated[str | None, typer.Option("--prefix", help="order-number prefix, unique per desk")] = None,
        db: DbOpt = None,
    ) -> None:
        """Register a desk; prints its token (shown once) as the last line."""
        store = _server_store(db)
        try:
            token = store.add_desk(name, role, dept=dept, town=town, prefix=prefix)
            info = next(d for d in store.list_desks() if d.name == name.strip())
        finally:
            store.close()
        echo(
            t(
                "server.desk_added",
                name=info.name,
                role=t(f"role.{info.role}"),
                where=info.where or "-",
                prefix=info.prefix or "-",
            ),
            err=True,
        )
        echo(token)

    @server_app.command("desk-list")
    def desk_list(db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """The registered desks, their scope and how many events each has pushed."""
        store = _server_store(db)
        try:
            desks = store.list_desks()
        finally:
            store.close()
        if as_json:
            echo(
                dumps(
                    {
                        "desks": [
                            {
                                "name": d.name,
                                "role": d.role,
                                "dept": d.dept,
                                "town": d.town,
                                "prefix": d.prefix,
                                "created_at": d.created_at,
                                "revoked_at": d.revoked_at,
                                "events": d.events,
                            }
                            for d in desks
                        ]
                    }
                )
            )
            return
        if not desks:
            echo(t("server.no_desks"))
            return
        echo(
            table(
                [
                    t("cli.desk"),
                    t("server.role"),
                    t("server.scope"),
                    t("server.prefix"),
                    t("cli.events"),
                    t("server.state"),
                ],
                [
                    [
                        d.name,
                        t(f"role.{d.role}"),
                        d.where or "-",
                        d.prefix or "-",
                        d.events,
                        t("server.revoked", at=fmt_local(from_db_opt(d.revoked_at)))
                        if d.revoked_at
                        else t("server.active"),
                    ]
                    for d in desks
                ],
            )
        )

    @server_app.command("desk-revoke")
    def desk_revoke(name: Annotated[str, typer.Argument()], db: DbOpt = None) -> None:
        """Revoke a desk's token: its requests are refused from now on (its events stay)."""
        store = _server_store(db)
        try:
            store.revoke_desk(name)
        finally:
            store.close()
        echo(t("server.desk_revoked", name=name))

    @server_app.command("new-epoch")
    def new_epoch(db: DbOpt = None) -> None:
        """Give the server a new epoch. Run it after restoring the server database from a backup."""
        store = _server_store(db)
        try:
            epoch = store.new_epoch()
        finally:
            store.close()
        echo(t("server.new_epoch", epoch=epoch[:8]))

    @app.command("sync")
    def sync_cmd(
        ctx: typer.Context,
        server: Annotated[str | None, typer.Option("--server", help="https://host:8470 (or [sync] server)")] = None,
        token: Annotated[str | None, typer.Option("--token", help="this desk's token (or [sync] token)")] = None,
        once: Annotated[bool, typer.Option("--once", help="one round, then exit (non-zero if it failed)")] = False,
        interval: Annotated[float | None, typer.Option("--interval", min=0.5, help="seconds between rounds")] = None,
        status: Annotated[bool, typer.Option("--status", help="what waits and what was synced; no network")] = False,
        as_json: Annotated[bool, typer.Option("--json")] = False,
        desk: Annotated[str | None, typer.Option("--desk", help="this desk's name (default: from config)")] = None,
        accept_key: Annotated[
            str | None,
            typer.Option(
                "--accept-server-key",
                metavar="FINGERPRINT",
                help="trust a new server signing key: the fingerprint sync printed when the key changed",
            ),
        ] = None,
    ) -> None:
        """Synchronize this desk with the server: push its events, pull everyone's."""
        from fengqiao.store.sync import DeskLog, SyncLoop, SyncReport, SyncStatus

        state = ctx.obj
        me = state.desk(name=desk, use_config_role=True)
        settings = sync_settings(state.config, server, token)
        db = state.open_db()
        try:
            if status:
                _print_status(DeskLog(db), me.name, as_json, dumps, echo)
                return
            if not settings["server"] or not settings["token"]:
                raise ValidationError(t("sync.not_configured"), field="server")
            if accept_key is not None:
                _accept_server_key(db, me, settings, accept_key, echo)

            if once:
                client = make_client(db, me, system_clock, settings)
                try:
                    report = client.sync_once()
                finally:
                    client.transport.close()
                _print_report(report, as_json, dumps, echo)
                return

            last: list[str] = [""]

            def show(st: SyncStatus, report: SyncReport | None) -> None:
                """One line per round that changed something (or changed the state): quiet when idle."""
                line = f"{t(f'sync.state_{st.state}')} {t('sync.waiting_n', n=st.waiting)}"
                line += f"  {st.error}" if st.error else ""
                if report is not None and (report.changed or report.pushed):
                    line += "  " + t(
                        "sync.report",
                        pushed=report.pushed,
                        pulled=report.pulled,
                        refused=report.refused,
                        waiting=report.waiting,
                    )
                elif line == last[0]:
                    return
                last[0] = line
                echo(f"{fmt_local(system_clock(), seconds=True)} {line}")

            loop = SyncLoop(
                lambda: make_client(db, me, system_clock, settings),
                db,
                me.name,
                interval=interval or settings["interval"],
                on_status=show,
            )
            loop.run()
        finally:
            db.close()


def _accept_server_key(db: Any, me: Any, settings: dict[str, Any], given: str, echo: Any) -> None:
    """Forget the kept server key when the server's key has the fingerprint the operator typed."""
    from fengqiao.store.signing import fingerprint, is_key
    from fengqiao.store.sync import DeskLog

    client = make_client(db, me, system_clock, settings)
    try:
        key = client.hello().server_key
    finally:
        client.transport.close()
    now = fingerprint(key) if key and is_key(key) else ""
    if not now or "".join(given.split()).lower() != now.replace(" ", ""):
        raise ValidationError(t("sync.key_not_matching", given=given, now=now or "-"), field="accept-server-key")
    DeskLog(db).forget_server_key()
    echo(t("sync.key_accepted", now=now))


def _print_report(report: Any, as_json: bool, dumps: Any, echo: Any) -> None:
    if as_json:
        echo(
            dumps(
                {
                    "pushed": report.pushed,
                    "duplicates": report.duplicates,
                    "refused": report.refused,
                    "pulled": report.pulled,
                    "orders": report.orders,
                    "epoch_reset": report.epoch_reset,
                    "head": report.head,
                    "cursor": report.cursor,
                    "waiting": report.waiting,
                    "problems": report.problems,
                }
            )
        )
        return
    echo(t("sync.report", pushed=report.pushed, pulled=report.pulled, refused=report.refused, waiting=report.waiting))
    for problem in report.problems:
        echo(f"  {problem}")


def _print_status(log: Any, me: str, as_json: bool, dumps: Any, echo: Any) -> None:
    from fengqiao.store.sync import META_EPOCH, META_LAST_OK

    counts = log.counts()
    data = {
        "desk": me,
        "epoch": log.meta(META_EPOCH),
        "cursor": log.cursor(),
        "pushed": log.pushed(),
        "waiting": log.waiting(me),
        "last_ok": log.meta(META_LAST_OK),
        "conflicts": counts.get("conflict", 0),
        "refused": counts.get("refused", 0),
        "unknown": counts.get("unknown", 0),
    }
    if as_json:
        echo(dumps(data))
        return
    echo(
        t(
            "sync.status_line",
            desk=me,
            waiting=data["waiting"],
            cursor=data["cursor"],
            last=fmt_local(from_db_opt(data["last_ok"])) or "-",
            conflicts=data["conflicts"],
            refused=data["refused"],
        )
    )
