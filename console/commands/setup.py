"""CLI commands for setting a desk up: ``init``, ``taxonomy`` (the reference data) and ``demo``."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from fengqiao.console.state import state_of
from fengqiao.console.textout import dumps, echo, table
from fengqiao.models.clock import system_clock
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.reference import default_reference


def init_cmd(ctx: typer.Context) -> None:
    """Create the database (or bring its schema up to date). Safe to run again."""
    db = state_of(ctx).open_db()
    try:
        echo(t("cli.initialized", path=db.path, version=db.schema_version()))
    finally:
        db.close()


def taxonomy_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    towns: Annotated[bool, typer.Option("--towns", help="list the towns and their police stations")] = False,
    departments: Annotated[bool, typer.Option("--departments", help="list the departments")] = False,
    villages: Annotated[
        bool, typer.Option("--villages", help="list the villages and communities, their grids and organisations")
    ] = False,
    town: Annotated[str | None, typer.Option("--town", help="with --villages: only this town's")] = None,
) -> None:
    """The tags by category with their departments and time limits (from the reference data in use)."""
    ref = default_reference()
    lang = get_lang()
    if villages:
        _villages(ref, town, as_json, lang)
        return
    if towns:
        rows: list[dict[str, Any]] = [
            {
                "code": tw.code,
                "name_zh": tw.name_zh,
                "name_en": tw.name_en,
                "kind": tw.kind,
                "police_station": tw.station_code,
                "police_station_zh": tw.police_station_zh,
                "one_team_pilot": tw.one_team_pilot,
            }
            for tw in ref.towns.values()
        ]
        if as_json:
            echo(dumps({"towns": rows}))
        else:
            echo(
                table(
                    [t("cli.code"), t("cli.name"), t("cli.police")],
                    [
                        [
                            r["code"],
                            r["name_zh"] if lang == "zh" else r["name_en"],
                            r["police_station_zh"] if lang == "zh" else ref.stations[r["police_station"]].name_en,
                        ]
                        for r in rows
                    ],
                )
            )
        return
    if departments:
        rows = [
            {
                "code": d.code,
                "name_zh": d.name_zh,
                "name_en": d.name_en,
                "kind": d.kind,
                "routing": d.routing,
                "one_team": d.one_team,
            }
            for d in ref.departments.values()
        ]
        if as_json:
            echo(dumps({"departments": rows}))
        else:
            echo(
                table(
                    [t("cli.code"), t("cli.name")],
                    [[r["code"], r["name_zh"] if lang == "zh" else r["name_en"]] for r in rows],
                )
            )
        return
    if as_json:
        cats = []
        for cat in ref.categories.values():
            tags = []
            for tag in ref.tags_in(cat.code):
                dept = ref.departments[tag.department]
                tags.append(
                    {
                        "code": tag.code,
                        "name_zh": tag.name_zh,
                        "name_en": tag.name_en,
                        "department": tag.department,
                        "department_zh": dept.name_zh,
                        "department_en": dept.name_en,
                        "dispatch": tag.dispatch,
                        "onsite": tag.onsite,
                        "sign_min": tag.sign_min,
                        "arrive_min": tag.arrive_min,
                        "feedback_h": tag.feedback_h,
                        "keywords": list(tag.keywords),
                    }
                )
            cats.append({"code": cat.code, "name_zh": cat.name_zh, "name_en": cat.name_en, "tags": tags})
        echo(dumps({"categories": cats, "tag_count": len(ref.tags)}))
        return
    tag_rows: list[list[Any]] = []
    for tag in ref.tags.values():
        dept = ref.departments[tag.department]
        tag_rows.append(
            [
                tag.code,
                tag.name_zh if lang == "zh" else tag.name_en,
                dept.name_zh if lang == "zh" else dept.code,
                t(f"mode.{tag.dispatch}"),
                t("cli.yes") if tag.onsite else t("cli.no"),
                tag.sign_min,
                tag.arrive_min or "",
                tag.feedback_h,
            ]
        )
    echo(
        table(
            [
                t("cli.code"),
                t("cli.tag"),
                t("cli.department"),
                t("field.mode"),
                t("cli.onsite"),
                t("cli.sign_min"),
                t("cli.arrive_min"),
                t("cli.feedback_h"),
            ],
            tag_rows,
            max_width=30,
        )
    )


def _villages(ref: Any, town: str | None, as_json: bool, lang: str) -> None:
    """``taxonomy --villages``: villages and communities with their grids, the social organisations and the
    grassroots routing rules (villages.csv, grids.csv, organisations.csv, grassroots_routing.csv)."""
    only = ref.town(town).code if town else None
    chosen = [v for v in ref.villages.values() if only is None or v.town == only]
    if as_json:
        echo(
            dumps(
                {
                    "villages": [
                        {
                            "code": v.code,
                            "town": v.town,
                            "name_zh": v.name_zh,
                            "name_en": v.name_en,
                            "kind": v.kind,
                            "mediator": v.mediator,
                            "mediator_phone": v.mediator_phone,
                            "grids": [
                                {
                                    "code": g.code,
                                    "name_zh": g.name_zh,
                                    "name_en": g.name_en,
                                    "area": list(g.area),
                                    "worker": g.worker,
                                    "phone": g.phone,
                                }
                                for g in (ref.grids[c] for c in v.grids)
                            ],
                        }
                        for v in chosen
                    ],
                    "organisations": [
                        {
                            "code": o.code,
                            "name_zh": o.name_zh,
                            "name_en": o.name_en,
                            "kind": o.kind,
                            "contact": o.contact,
                            "phone": o.phone,
                            "serves": list(o.serves),
                        }
                        for o in ref.organisations.values()
                        if only is None
                        or o.serves_call(only, None)
                        or any(c in o.serves for c in (v.code for v in chosen))
                    ],
                    "rules": [
                        {
                            "line": r.line,
                            "tag": r.tag,
                            "town": r.town,
                            "village": r.village,
                            "primary": r.primary,
                            "inform": r.inform,
                        }
                        for r in ref.grassroots_rules
                        if only is None or r.town in ("*", only)
                    ],
                }
            )
        )
        return
    rows = [
        [
            v.code,
            v.name_zh if lang == "zh" else v.name_en,
            t(f"grassroots.kind_{v.kind}"),
            f"{v.mediator} {v.mediator_phone}",
            " ".join(f"{c}:{ref.grids[c].worker}" for c in v.grids),
        ]
        for v in chosen
    ]
    echo(
        table(
            [
                t("cli.code"),
                t("cli.name"),
                t("grassroots.cli_kind"),
                t("grassroots.cli_mediator"),
                t("grassroots.cli_grids"),
            ],
            rows,
            max_width=40,
        )
    )


def demo_cmd(
    ctx: typer.Context,
    orders: Annotated[int, typer.Option("--orders", min=1, max=5_000_000, help="how many orders")] = 1000,
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="spread over this many days up to now")] = 90,
    seed: Annotated[int, typer.Option("--seed", help="random seed (same seed, same history)")] = 1,
) -> None:
    """Fill the store with realistic synthetic history across the 21 towns."""
    from fengqiao.store.demo import generate

    state = state_of(ctx)
    db = state.open_db()
    started = time.perf_counter()
    try:

        def progress(done: int, total: int) -> None:
            if sys.stderr.isatty():
                echo(t("cli.demo_progress", done=done, total=total), err=True)

        result = generate(db, orders=orders, days=days, seed=seed, clock=system_clock, progress=progress)
        from fengqiao.models.reference import default_reference
        from fengqiao.store.governance import seed_demo

        seed_demo(db, default_reference(), system_clock(), seed=seed)  # a few warnings and a case to look at
    finally:
        db.close()
    echo(
        t(
            "cli.demo_done",
            orders=result.orders,
            events=result.events,
            seconds=time.perf_counter() - started,
            path=db.path,
        )
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("init")(init_cmd)
    app.command("taxonomy")(taxonomy_cmd)
    app.command("demo")(demo_cmd)
