"""Shared fixtures: a fixed clock, a real SQLite file in tmp_path, a store, and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import typer.testing as typer_testing

from fengqiao.models.clock import UTC, FixedClock
from fengqiao.models.governance import WarningRules
from fengqiao.models.i18n import set_lang
from fengqiao.models.reference import Reference, default_reference
from fengqiao.models.roles import Desk
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore

# 2026-11-28 09:30 in Asia/Shanghai.
T0 = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)


def _build_once(build: Any) -> Any:
    """typer's CliRunner builds the whole click command tree on every invoke (~0.14 s with every feature's
    commands, most of a CLI test's time): build it once per app and set of registered commands. Click commands
    are made to be invoked again; each invoke still gets a fresh context, streams and environment."""
    built: dict[tuple[int, int, int], Any] = {}

    def get_command(app: Any) -> Any:
        key = (id(app), len(app.registered_commands), len(app.registered_groups))
        if key not in built:
            built[key] = build(app)
        return built[key]

    return get_command


typer_testing._get_command = _build_once(typer_testing._get_command)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's own config or database, and every test starts in Chinese."""
    monkeypatch.setenv("FENGQIAO_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("FENGQIAO_DB", str(tmp_path / "default.db"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    set_lang("zh")
    yield
    set_lang("zh")


QUIET_RULES = WarningRules(
    address_calls=0, caller_calls=0, similar_callers=0, danger_words=(), dispute_tags=frozenset()
)


@pytest.fixture(autouse=True)
def _quiet_warning_rules(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The risk-warning rules (store/governance.py) are off unless a test is marked ``warning_rules``: the other
    tests take many calls from one number and address, which the shipped rules would (rightly) warn about, and
    count their events exactly. tests/test_governance.py and the sync tests of warnings run with the defaults."""
    if request.node.get_closest_marker("warning_rules") is None:
        monkeypatch.setattr("fengqiao.store.governance.default_rules", lambda ref: QUIET_RULES)
        monkeypatch.setattr("fengqiao.store.orders.default_rules", lambda ref: QUIET_RULES)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def ref() -> Reference:
    return default_reference()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "desk.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = Database(db_path)
    yield database
    database.close()


@pytest.fixture
def store(db: Database, ref: Reference, clock: FixedClock) -> OrderStore:
    return OrderStore(db, ref=ref, desk=Desk(name="test-desk", operator="tester"), clock=clock)


def write_as_schema_10(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the store write the orders row as the code of schema 10 and before did (without the columns later
    steps added at the end: 0012's village, grid and informed, 0014's redo_count), for tests that fill a file of an
    older schema (before 0010's rollups) and then migrate it. ``monkeypatch.undo()`` before opening the file
    again."""
    from fengqiao.store import projection

    first = projection.ORDER_COLUMNS[: projection.ORDER_COLUMNS.index("village")]
    plain = projection.order_tuple
    monkeypatch.setattr(projection, "UPSERT_ORDER", projection._upsert_sql("orders", first))  # noqa: SLF001
    monkeypatch.setattr(projection, "order_tuple", lambda o: plain(o)[: len(first)])
