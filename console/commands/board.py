"""CLI commands for the board area: the desk's configuration file.

    fengqiao desk show
    fengqiao desk set --name 市场监管-1 --role department --dept SCJG --operator 李四
    fengqiao desk set --role township --town HZ

``desk set`` validates the desk as ``run --role`` does (unknown role, missing department or town, unknown
codes are refused with one line and nothing written), keeps every other setting and section of the file, and
writes it atomically (a temporary file renamed over the old one).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import tomli_w
import typer

from fengqiao.models.errors import ValidationError
from fengqiao.models.i18n import LANGS, t
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import Desk, make_desk

from ..config import config_path, load_config
from ..textout import dumps, echo

desk_app = typer.Typer(
    help="The desk's configuration file (name, role, department or town, operator).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

DESK_KEYS = ("name", "role", "dept", "town", "operator", "prefix", "lang")


def describe(desk: Desk) -> str:
    role = t(f"role.{desk.role or 'call_taker'}")  # a desk without a role opens as a call-taker desk
    where = desk.dept or desk.town or ""
    operator = f" · {desk.operator}" if desk.operator else ""
    return f"{desk.name} · {role}{(' · ' + where) if where else ''}{operator}"


def write_desk(path: Path, values: dict[str, str | None]) -> Desk:
    """Merge ``values`` into the file's ``[desk]`` table, validate the result, write it atomically."""
    cfg = load_config(path)  # a broken file is reported the usual way (one line) rather than overwritten
    raw = cfg.raw
    section = dict(cfg.section("desk"))
    for key, value in values.items():
        if value is None:
            continue
        if value == "":
            section.pop(key, None)
        else:
            section[key] = value
    lang = section.get("lang")
    if lang and lang not in LANGS:
        raise ValidationError(
            t("error.bad_choice", value=lang, field=t("app.lang"), choices=", ".join(LANGS)), field="lang"
        )
    desk = make_desk(
        default_reference(),
        str(section.get("name") or cfg.desk_name),
        section.get("role") or None,
        dept=section.get("dept") or None,
        town=section.get("town") or None,
        operator=str(section.get("operator") or ""),
        prefix=section.get("prefix") or None,
    )
    section["name"] = desk.name
    if desk.role == "department" and desk.dept:
        section["dept"] = desk.dept
    if desk.town:
        section["town"] = desk.town
    raw["desk"] = {k: section[k] for k in DESK_KEYS if k in section} | {
        k: v for k, v in section.items() if k not in DESK_KEYS
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            tomli_w.dump(raw, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return desk


@desk_app.command("show")
def show_cmd(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The desk this computer is configured as."""
    path = config_path()
    cfg = ctx.obj.config
    desk = ctx.obj.desk(use_config_role=True)
    if as_json:
        echo(
            dumps(
                {
                    "path": str(path),
                    "exists": path.exists(),
                    "name": desk.name,
                    "role": str(desk.role) if desk.role else None,
                    "dept": desk.dept,
                    "town": desk.town,
                    "operator": desk.operator,
                    "prefix": desk.prefix,
                    "lang": cfg.lang,
                }
            )
        )
        return
    if not path.exists():
        echo(t("board.desk_none", path=path, desk=describe(desk)))
        return
    echo(t("board.desk_show", path=path, desk=describe(desk)))


@desk_app.command("set")
def set_cmd(
    name: Annotated[str | None, typer.Option("--name", help="desk name, unique per desk")] = None,
    role: Annotated[str | None, typer.Option("--role", help="call_taker | township | department | supervisor")] = None,
    dept: Annotated[str | None, typer.Option("--dept", help="department desks: SCJG, GA-HZ, ZZ-HZ …")] = None,
    town: Annotated[str | None, typer.Option("--town", help="township desks: town code, e.g. HZ")] = None,
    operator: Annotated[str | None, typer.Option("--operator", help="who is on shift")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", help="order number prefix, e.g. SZ")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="zh | en")] = None,
) -> None:
    """Write the desk's settings to the config file (only the options given change; "" clears one)."""
    path = config_path()
    values: dict[str, str | None] = {
        "name": name,
        "role": role,
        "dept": dept,
        "town": town,
        "operator": operator,
        "prefix": prefix,
        "lang": lang,
    }
    # A department or town left over from an earlier role would be misleading: changing the role clears them.
    if role is not None and role != "department" and dept is None:
        values["dept"] = ""
    keeps_town = role == "township" or (role == "department" and (dept is None or dept.upper() in ("ZZ", "GA")))
    if role is not None and not keeps_town and town is None:
        values["town"] = ""
    desk = write_desk(path, values)
    echo(t("board.desk_written", path=path, desk=describe(desk)))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(desk_app, name="desk")
