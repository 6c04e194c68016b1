"""CLI commands for the KPI area: ``kpi`` (the table), ``report`` (the review export), ``dashboard`` (the cockpit).

    fengqiao kpi [--from DATE] [--to DATE] [--dept CODE] [--by department|town|tag|village] [--json]
    fengqiao report --from DATE --to DATE --format md|csv|xlsx|json -o FILE [--unmasked]
    fengqiao dashboard [--unmasked]   # the cockpit, read-only (for supervisors over SSH)

Phone numbers are masked in reports and on the cockpit; ``--unmasked`` shows them in full, for the supervisor
role only (``--role``/``--desk``, or the config file's desk) and recorded in the access log first.

Dates are Asia/Shanghai calendar days, both inclusive; orders count by the time their call came in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fengqiao.models.clock import system_clock
from fengqiao.models.errors import ValidationError
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.kpi import RATES, Weights, fmt_rate, local_date, window_from

from ..options import AsLang, apply_lang
from ..privacy import AsDept, AsDesk, AsRole, AsTown, Unmasked, phones_for
from ..textout import dumps, echo, table

FORMAT_NAMES = {"md": "Markdown", "csv": "CSV", "xlsx": "Excel", "json": "JSON"}


def _kpi_store(ctx: typer.Context):  # noqa: ANN202 - returns (Database, KpiStore)
    from fengqiao.store.kpi import KpiStore

    state: Any = ctx.obj
    weights = Weights.from_config(state.config.section("kpi"))
    db = state.open_db()
    return db, KpiStore(db, clock=system_clock, weights=weights)


def _echo_answers(answers: list[dict[str, Any]]) -> None:
    """The calls answered on the spot, per answer owner, under the KPI table."""
    if not answers:
        return
    echo("")
    echo(
        table(
            [t("kpi.col.key"), t("kb.spot"), t("kb.spot_rate"), t("kb.callback_rate")],
            [[a["owner"], a["answered"], fmt_rate(a["spot_rate"]), fmt_rate(a["callback_rate"])] for a in answers],
        )
    )


def _answer_rows(db: Any, window: Any) -> list[dict[str, Any]]:
    """Calls answered on the spot per answer owner in the window (the reports carry the same rows)."""
    from fengqiao.console.kpi_report import answer_rows
    from fengqiao.models.reference import default_reference

    return answer_rows(db, default_reference(), window)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""

    @app.command("kpi")
    def kpi_cmd(
        ctx: typer.Context,
        first: Annotated[
            str | None, typer.Option("--from", help="first day (2026-11-01; default: 29 days before --to)")
        ] = None,
        last: Annotated[str | None, typer.Option("--to", help="last day, inclusive (default: today)")] = None,
        dept: Annotated[
            str | None, typer.Option("--dept", help="one department (SCJG), ZZ / GA, or ZZ-HZ / GA-GL")
        ] = None,
        by: Annotated[str, typer.Option("--by", help="department | town | tag | village")] = "department",
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    ) -> None:
        """The five KPIs, score and ranking for a window (orders counted by the time their call came in)."""
        window = window_from(local_date(system_clock()), first, last)
        db, kpi = _kpi_store(ctx)
        try:
            result = kpi.table(window, by.strip().lower(), dept, spreads=as_json)  # the text table shows no times
            answers = _answer_rows(db, window)
        finally:
            db.close()
        if as_json:
            echo(dumps({**result.to_json(), "answers": answers}))
            return
        echo(t("kpi.title", first=window.first.isoformat(), last=window.last.isoformat(), by=t(f"kpi.by.{result.by}")))
        if not result.total.counts.dispatched and not result.total.counts.orders:
            echo(t("kpi.no_rows"))
            _echo_answers(answers)
            return
        head = [
            t("kpi.col.rank"),
            t("kpi.col.key"),
            t("kpi.col.name"),
            t("kpi.col.dispatched"),
            *(t(f"kpi.short.{r}") for r in RATES),
            t("kpi.col.score"),
        ]
        rows = []
        for row in (*result.rows, result.total):
            r = row.rates
            rows.append(
                [
                    row.rank or "",
                    row.key,
                    row.name,
                    row.counts.dispatched,
                    *(fmt_rate(r[k]) for k in RATES),
                    "—" if row.score is None else f"{row.score:.1f}",
                ]
            )
        echo(table(head, rows, max_width=16 if get_lang() == "zh" else 24))
        if result.total.counts.returned_unjudged:
            echo("")
            echo(t("kpi.unjudged_note", n=result.total.counts.returned_unjudged))
        _echo_answers(answers)

    @app.command("report")
    def report_cmd(
        ctx: typer.Context,
        first: Annotated[str, typer.Option("--from", help="first day, e.g. 2026-01-01")],
        last: Annotated[str, typer.Option("--to", help="last day, inclusive")],
        fmt: Annotated[str, typer.Option("--format", help="md | csv | xlsx | json")],
        output: Annotated[Path, typer.Option("-o", "--output", help="file to write")],
        unmasked: Unmasked = False,
        desk: AsDesk = None,
        role: AsRole = None,
        dept: AsDept = None,
        town: AsTown = None,
    ) -> None:
        """Write the department ranking with every KPI and its counts (xlsx: one sheet per view)."""
        from fengqiao.console.kpi_report import FORMATS, build, write
        from fengqiao.models.privacy import phone_view

        state: Any = ctx.obj
        who = state.desk(name=desk, role=role, dept=dept, town=town, use_config_role=True)
        phone_view(who, unmasked=unmasked, masked_by_default=True)  # refused before anything is read
        chosen = fmt.strip().lower()
        if chosen not in FORMATS:
            raise ValidationError(t("kpi.bad_format", value=fmt, choices=", ".join(FORMATS)), field="format")
        window = window_from(local_date(system_clock()), first, last)
        target = output.expanduser()
        if target.is_dir() or not target.parent.is_dir():
            raise ValidationError(t("kpi.cannot_write", path=target, error=t("kpi.not_a_file")), field="output")
        db, kpi = _kpi_store(ctx)
        try:
            report = build(kpi, window)
            # Full numbers only after the access log holds the line saying who exported which, to what file.
            report.phone = phones_for(
                db,
                who,
                unmasked=unmasked,
                target="export",
                orders=[],
                masked_by_default=True,
                detail={
                    "file": str(target.resolve()),
                    "format": chosen,
                    "from": window.first.isoformat(),
                    "to": window.last.isoformat(),
                    "phones": report.phones(),
                },
            )
        finally:
            db.close()
        partial = target.with_name(target.name + ".partial")
        try:
            write(report, kpi, chosen, partial)
            partial.replace(target)  # a half-written report never takes the place of a good one
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise ValidationError(
                t("kpi.cannot_write", path=target, error=exc.strerror or exc), field="output"
            ) from None
        echo(t("kpi.written", format=FORMAT_NAMES[chosen], path=target))

    @app.command("dashboard")
    def dashboard_cmd(
        ctx: typer.Context,
        desk: Annotated[str | None, typer.Option("--desk", help="desk name shown in the header")] = None,
        role: AsRole = None,
        dept: AsDept = None,
        town: AsTown = None,
        unmasked: Unmasked = False,
        lang: AsLang = None,
    ) -> None:
        """Open the cockpit read-only (for supervisors, also over SSH): nothing can be changed from it."""
        from fengqiao.console.launch import open_dashboard

        apply_lang(lang)
        open_dashboard(ctx.obj, desk=desk, role=role, dept=dept, town=town, unmasked=unmasked)
