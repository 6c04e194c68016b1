"""Fixtures for the sync tests: a server database on SQLite or on PostgreSQL, an in-process server.

PostgreSQL is the one on 127.0.0.1:5432 (user postgres, trust auth; ``$FENGQIAO_TEST_PG`` overrides the
URL). One throwaway database is created per test run and dropped at the end; each test gets its own schema
in it. Without a reachable server the PostgreSQL cases are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# starlette's TestClient warns about a package rename on import; silenced for both ways this conftest loads
warnings.filterwarnings("ignore", message=".*httpx2")

from .hub import Hub  # noqa: E402 - after the filter


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", "ignore:.*httpx2")


PG_ADMIN = os.environ.get("FENGQIAO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_pg_reason: str | None = None


def _admin():  # noqa: ANN202 - a psycopg connection
    import psycopg

    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test run (its URL without a driver prefix)."""
    global _pg_reason
    try:
        conn = _admin()
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL here
        _pg_reason = f"PostgreSQL not reachable at {PG_ADMIN}: {type(exc).__name__}: {str(exc).strip()[:120]}"
        pytest.skip(_pg_reason)
    name = f"fq_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        conn = _admin()
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def pg_url(pg_database: str) -> str:
    """A fresh schema in the run's database, as a SQLAlchemy URL whose connections use it."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return pg_database.replace("postgresql://", "postgresql+psycopg://", 1) + f"?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def server_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The server database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"
    return pg_url(request.getfixturevalue("pg_database"))


@pytest.fixture
def hub(server_url: str, tmp_path: Path) -> Iterator[Hub]:
    """A server (SQLite, then PostgreSQL) and room for desks."""
    h = Hub(server_url, tmp_path)
    yield h
    h.close()


@pytest.fixture
def sqlite_hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)
    yield h
    h.close()
