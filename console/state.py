"""What the CLI's global options decided (``State``), shared by every command module."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fengqiao.console.config import Config, load_config
from fengqiao.models.clock import parse_user_time, system_clock
from fengqiao.models.desk import Desk, make_desk
from fengqiao.models.reference import default_reference

if TYPE_CHECKING:
    import typer


class State:
    """What the global options decided, shared by every command."""

    def __init__(self, db: Path | None, lang: str | None) -> None:
        self.db_path = db
        self.lang = lang
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config()
        return self._config

    def open_db(self, **kwargs: Any):  # noqa: ANN201 - returns store.db.Database
        from fengqiao.store.db import open_db

        return open_db(self.db_path, **kwargs)

    def rules(self):  # noqa: ANN201 - returns models.governance.WarningRules
        """The risk-warning rules: the shipped defaults, changed by the config's ``[warnings]`` table."""
        from fengqiao.store.governance import parse_rules

        return parse_rules(default_reference(), self.config.section("warnings"))

    def desk(
        self,
        *,
        name: str | None = None,
        role: str | None = None,
        dept: str | None = None,
        town: str | None = None,
        use_config_role: bool = False,
    ) -> Desk:
        cfg = self.config
        if role is None and use_config_role:
            role, dept, town = cfg.role, dept or cfg.dept, town or cfg.town
        return make_desk(
            default_reference(),
            name or cfg.desk_name,
            role,
            dept=dept,
            town=town,
            operator=cfg.operator,
            prefix=cfg.prefix,
        )


def state_of(ctx: typer.Context) -> State:
    assert isinstance(ctx.obj, State)
    return ctx.obj


def parse_at(value: str | None) -> datetime | None:
    return None if value is None else parse_user_time(value)


def order_store(
    ctx: typer.Context,
    *,
    desk: str | None = None,
    role: str | None = None,
    dept: str | None = None,
    town: str | None = None,
    viewing: bool = False,
):  # noqa: ANN202 - returns store.orders.OrderStore
    """The store as ``desk`` sees it. ``viewing`` (the read-only views ``orders`` and ``order``): without
    ``--role`` the desk of the config file, so a supervisor's machine masks numbers; otherwise (``dispatch``,
    ``act``) without ``--role`` it is the local operator's tool."""
    from fengqiao.store.orders import OrderStore
    from fengqiao.store.shifts import on_shift

    state = state_of(ctx)
    chosen = state.desk(name=desk, role=role, dept=dept, town=town, use_config_role=viewing)
    db = state.open_db()
    operator = on_shift(db, chosen)  # the operator signed in at this desk's console, else the config's
    if operator:
        chosen = replace(chosen, operator=operator)
    return OrderStore(db, desk=chosen, clock=system_clock, rules=state.rules())
