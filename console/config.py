"""The desk's configuration: a TOML file in the user config directory.

``$FENGQIAO_CONFIG`` or ``<user config dir>/fengqiao/config.toml``::

    [desk]
    name = "指挥中心-1号台"     # unique per desk; events and sync use it
    role = "call_taker"        # call_taker | township | department | supervisor
    dept = ""                  # department desks: SCJG, or ZZ/GA with town
    town = ""                  # township desks: HZ
    operator = "张三"           # the actor when nobody has signed in (the console asks who is on shift)
    prefix = "SZ"              # order numbers: SZ-20261128-0042
    lang = "zh"
    bell = "on"                # the bell for what needs someone: on | off | day (not during the night hours)
    night = "22:00-07:00"      # the night hours for bell = "day"
    pin = false                # operators sign in with a PIN too (only its salted hash is stored)

A missing file means the defaults: a call-taker desk named after this computer.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from fengqiao.models.errors import ValidationError
from fengqiao.models.i18n import t
from fengqiao.models.tomlfile import read_toml, table

APP_ID = "fengqiao"


def config_path() -> Path:
    env = os.environ.get("FENGQIAO_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP_ID, appauthor=False)) / "config.toml"


@dataclass
class Config:
    """The desk's settings file (config.toml), each section read and checked."""

    desk_name: str = ""
    role: str | None = None
    dept: str | None = None
    town: str | None = None
    operator: str = ""
    prefix: str | None = None
    lang: str | None = None
    bell: str = "on"
    night: str = ""
    pin: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        return value if isinstance(value, dict) else {}


def default_desk_name() -> str:
    try:
        host = socket.gethostname().split(".")[0]
    except OSError:  # pragma: no cover
        host = ""
    return f"desk-{host}" if host else "desk"


def load_config(path: Path | None = None) -> Config:
    path = path or config_path()
    if not path.exists():
        return Config(desk_name=default_desk_name())
    raw = read_toml(path)
    desk = table(raw, "desk", path)

    def text(key: str) -> str | None:
        value = desk.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ValidationError(t("config.bad_value", path=path, key=f"desk.{key}", value=value))
        return value

    pin = desk.get("pin", False)
    if not isinstance(pin, bool):
        raise ValidationError(t("config.bad_value", path=path, key="desk.pin", value=pin))
    return Config(
        bell=text("bell") or "on",
        night=text("night") or "",
        pin=pin,
        desk_name=text("name") or default_desk_name(),
        role=text("role"),
        dept=text("dept"),
        town=text("town"),
        operator=text("operator") or "",
        prefix=text("prefix"),
        lang=text("lang"),
        raw=raw,
    )
