"""CLI commands for the audit area: ``audit``, ``check``, ``backup``, ``restore``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fengqiao.models.clock import fmt_local, from_db, system_clock
from fengqiao.models.governance import is_kind, is_subject
from fengqiao.models.i18n import t
from fengqiao.models.privacy import is_masked, mask_payload, phone_view, shown_hash
from fengqiao.models.text import visible

from ..privacy import AsDept, AsDesk, AsRole, AsTown, Unmasked, phones_for
from ..textout import dumps, echo, table

if TYPE_CHECKING:
    from fengqiao.models.roles import Desk
    from fengqiao.store.audit import CheckReport

CHECK_FAILED = 3  # exit code of `fengqiao check` when it found faults (1: it could not run)


def _state(ctx: typer.Context) -> Any:
    return ctx.obj


def _desk(ctx: typer.Context, desk: str | None, role: str | None, dept: str | None, town: str | None) -> Desk:
    """The desk a read-only view is shown as: the options, or without ``--role`` the config file's desk."""
    return _state(ctx).desk(name=desk, role=role, dept=dept, town=town, use_config_role=True)


def _short(value: str, n: int = 12) -> str:
    return value if len(value) <= n else f"{value[:n]}…"


def _mark(ok: bool | None) -> str:
    return "✓" if ok else "?" if ok is None else "✗"


def _time(text: str) -> str:
    try:
        return fmt_local(from_db(text), seconds=True)
    except ValueError:
        return text  # an edited time that no longer parses: show what is stored


# ---- audit ORDER ---------------------------------------------------------------------------------------


def audit_cmd(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="order number, e.g. SZ-20261128-0042")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    unmasked: Unmasked = False,
    desk: AsDesk = None,
    role: AsRole = None,
    dept: AsDept = None,
    town: AsTown = None,
) -> None:
    """An order's full history: desk, actor, event and record time, payload, chain position and hash."""
    from fengqiao.store.audit import history
    from fengqiao.store.orders import OrderStore
    from fengqiao.store.viewkey import view_key

    chosen = _desk(ctx, desk, role, dept, town)
    phone_view(chosen, unmasked=unmasked)  # refuse before reading anything
    db = _state(ctx).open_db()
    try:
        wanted = number.strip()
        if wanted.upper().startswith(("YJ-", "ZB-")) or is_subject(wanted):  # a risk warning's or a case's history
            from fengqiao.store.governance import GovernanceStore

            gstore = GovernanceStore(db, desk=chosen, clock=system_clock)
            subject = (
                gstore.warning(wanted)
                if wanted.upper().startswith("YJ-") or wanted.startswith("warn-")
                else gstore.case(wanted)
            )
            subject_id, subject_no, status = (
                subject.id,
                subject.no,
                t(f"gov.status_{subject.status}")
                if wanted.upper().startswith("YJ-") or wanted.startswith("warn-")
                else t(f"gov.case_status_{subject.status}"),
            )
        else:
            state = OrderStore(db, desk=chosen, clock=system_clock).order(number)
            subject_id, subject_no, status = state.id, state.order_no, t(f"status.{state.status}")
        entries = history(db, subject_id)
        view = phones_for(db, chosen, unmasked=unmasked, target="audit", orders=[subject_no])
        key = view_key(db) if is_masked(view) else None
    finally:
        db.close()
    if as_json:
        echo(
            dumps(
                {
                    "order_no": subject_no,
                    "id": subject_id,
                    "events": [
                        {
                            "seq": e.seq,
                            "id": e.id,
                            "desk": e.desk,
                            "desk_seq": e.desk_seq,
                            "actor": e.actor,
                            "kind": e.kind,
                            "assignment_id": e.assignment_id,
                            "event_at": e.event_at,
                            "recorded_at": e.recorded_at,
                            "payload": mask_payload(e.payload, view),
                            "prev_hash": shown_hash(e.prev_hash, view, key),
                            "hash": shown_hash(e.hash, view, key),
                            "hash_ok": e.hash_ok,
                            "link_ok": e.link_ok,
                        }
                        for e in entries
                    ],
                }
            )
        )
        return
    bad = sum(1 for e in entries if not e.hash_ok or e.link_ok is False)
    echo(
        f"{subject_no}  {status}  "
        + t("audit.history_summary", count=len(entries))
        + "  "
        + (t("audit.history_ok") if not bad else t("audit.history_bad", count=bad))
    )
    for i, e in enumerate(entries, start=1):
        if e.kind in _KINDS:
            kind = t(f"action.{e.kind}")
        elif is_kind(e.kind):
            kind = t(f"gov.kind_{e.kind}")
        else:
            kind = visible(e.kind, single_line=True)
        echo("")
        echo(
            f"[{i}] {kind}  "
            + t("audit.position", desk=visible(e.desk, single_line=True), seq=e.desk_seq)
            + f"  {t('cli.actor')} {visible(e.actor, single_line=True)}"
        )
        echo(f"    {t('cli.event_at')} {_time(e.event_at)}   {t('cli.recorded_at')} {_time(e.recorded_at)}")
        echo(
            f"    {t('audit.hash')} {shown_hash(e.hash, view, key)}  {_mark(e.hash_ok)} "
            + (t("audit.hash_ok") if e.hash_ok else t("audit.hash_bad"))
        )
        link = (
            (t("audit.link_genesis") if e.desk_seq == 1 else t("audit.link_ok", seq=e.desk_seq - 1))
            if e.link_ok
            else t("audit.link_unknown", seq=e.desk_seq - 1)
            if e.link_ok is None
            else t("audit.link_bad", seq=e.desk_seq - 1)
        )
        echo(f"    {t('audit.prev_hash')} {shown_hash(e.prev_hash, view, key)}  {_mark(e.link_ok)} {link}")
        echo(f"    {t('audit.payload')} {dumps(mask_payload(e.payload, view))}")


_KINDS = {
    "dispatch",
    "sign",
    "arrive",
    "feedback",
    "return",
    "reassign",
    "extend",
    "approve-extension",
    "refuse-extension",
    "escalate",
    "visit",
    "reopen",
    "close",
    "cancel",
    "link",
    "judge-return",
}


# ---- check -------------------------------------------------------------------------------------------


def check_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="skip replaying every order (chains and file only)")] = False,
    complete: Annotated[
        list[str] | None, typer.Option("--complete", help="also demand every event of this desk (repeatable)")
    ] = None,
) -> None:
    """Integrity check plus every desk's hash chain and the projection; explains any fault in plain words.

    Exit code 0: no fault; 3: faults found (listed); 1: the check could not run.
    """
    from fengqiao.store.audit import verify
    from fengqiao.store.db import Database, default_db_path

    state = _state(ctx)
    path = state.db_path if state.db_path is not None else default_db_path()
    db = Database(path, readonly=True, busy_ms=int(os.environ.get("FENGQIAO_BUSY_MS", 5000)))

    def progress(orders: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write("\r" + t("audit.check_progress", count=orders))
            sys.stderr.flush()

    try:
        version = db.schema_version()
        report = verify(db, complete_desks=complete or (), projection=not quick, progress=progress)
    finally:
        db.close()
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[K")
    if as_json:
        echo(dumps(_report_json(report, path, version)))
    else:
        echo(_report_text(report, path, version))
    if not report.ok:
        raise typer.Exit(CHECK_FAILED)


def _report_json(report: CheckReport, path: Path, version: int) -> dict[str, Any]:
    return {
        "path": str(path),
        "schema_version": version,
        "ok": report.ok,
        "integrity": report.integrity,
        "events": report.events,
        "orders": report.orders,
        "access": report.access,
        "replayed": report.replayed,
        "chains": [
            {
                "log": c.log,
                "desk": c.desk,
                "held": c.held,
                "first": c.first,
                "last": c.last,
                "last_hash": c.last_hash,
                "head": c.head,
                "complete": c.complete,
                "missing": c.missing,
            }
            for c in report.chains
        ],
        "faults": [
            {
                "kind": f.kind,
                "log": f.log,
                "desk": f.desk,
                "seq": f.seq,
                "seq_to": f.seq_to,
                "order_no": f.order_no,
                "message": f.message,
            }
            for f in report.faults
        ],
        "notes": [{"kind": f.kind, "order_no": f.order_no, "message": f.message} for f in report.notes],
        "server_key": _fingerprint(report.anchor.key) if report.anchor and report.anchor.key else None,
        "signatures": {
            "verified": report.anchor.verified if report.anchor else 0,
            "pending": report.anchor.pending if report.anchor else 0,
        },
    }


def _fingerprint(key: str) -> str:
    from fengqiao.store.signing import fingerprint

    return fingerprint(key)


def _report_text(report: CheckReport, path: Path, version: int) -> str:
    lines = [
        t("audit.check_title", path=path, version=version),
        t("audit.check_integrity_ok") if report.integrity == ["ok"] else t("audit.check_integrity_bad"),
    ]
    for log in ("events", "access"):
        chains = [c for c in report.chains if c.log == log]
        total = report.events if log == "events" else report.access
        lines.append(t("audit.check_log", log=t(f"audit.log_{log}"), desks=len(chains), count=total))
        if chains:
            rows = []
            for c in chains:
                span = f"{c.first}–{c.last}" if c.held else "-"
                if c.missing:
                    span += " " + t("audit.check_missing", count=c.missing)
                kind = t("audit.check_own") if c.head is not None else t("audit.check_copy")
                rows.append([c.desk, kind, c.held, span, c.head if c.head is not None else "-", c.last_hash[:16]])
            body = table(
                [
                    t("cli.desk"),
                    t("audit.check_kind"),
                    t("audit.check_count"),
                    t("audit.check_span"),
                    t("audit.check_head"),
                    t("audit.check_last_hash"),
                ],
                rows,
                max_width=64,
            )
            lines += ["  " + line for line in body.splitlines()]
    from fengqiao.store.signing import fingerprint

    anchor = report.anchor
    if anchor is not None and anchor.key:
        lines.append(t("audit.anchored", runs=anchor.verified, key=fingerprint(anchor.key)))
    if report.replayed:
        bad = {f.order_no for f in report.faults if f.log == "orders"}
        lines.append(t("audit.check_orders", count=report.orders, bad=len(bad)))
    else:
        lines.append(t("audit.check_orders_skipped", count=report.orders))
    lines += [f"  · {visible(n.message, single_line=True)}" for n in report.notes]
    if report.ok:
        lines.append(t("audit.check_ok"))
    else:
        lines.append(t("audit.check_faults", count=len(report.faults)))
        lines += [f"  {i}. {visible(f.message, single_line=True)}" for i, f in enumerate(report.faults, start=1)]
    return "\n".join(lines)


# ---- backup and restore --------------------------------------------------------------------------------


def backup_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="backup file (or a folder: fengqiao-<time>.db inside it)")],
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing backup file")] = False,
) -> None:
    """Copy the database with SQLite's online backup API (safe while the console is running)."""
    from fengqiao.store.backup import backup

    db = _state(ctx).open_db()
    try:
        result = backup(db, path, force=force)
    finally:
        db.close()
    s = result.snapshot
    echo(t("audit.backup_done", path=s.path, orders=s.orders, events=s.events, mb=s.size / 1e6, seconds=result.seconds))


def restore_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="the backup file to restore")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="restore even though the current database holds newer data (it is saved beside itself first)",
        ),
    ] = False,
) -> None:
    """Replace the database with a backup: checked first; refuses to drop newer data without --force."""
    from fengqiao.store.backup import restore
    from fengqiao.store.db import DEFAULT_BUSY_MS, default_db_path

    state = _state(ctx)
    target = state.db_path if state.db_path is not None else default_db_path()
    result = restore(target, path, force=force, busy_ms=int(os.environ.get("FENGQIAO_BUSY_MS", DEFAULT_BUSY_MS)))
    s = result.snapshot
    echo(t("audit.restore_done", path=path, orders=s.orders, events=s.events, seconds=result.seconds))
    if result.saved_as is not None:
        echo(t("audit.restore_saved", path=result.saved_as))
    if result.lost_events or result.lost_access:
        echo(t("audit.restore_dropped", events=result.lost_events, access=result.lost_access, path=result.saved_as))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("audit")(audit_cmd)
    app.command("check")(check_cmd)
    app.command("backup")(backup_cmd)
    app.command("restore")(restore_cmd)
