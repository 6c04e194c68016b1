"""The hostile-desk suite reuses the sync tests' server fixtures (SQLite, then PostgreSQL or a skip)."""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=".*httpx2")

from ..sync.conftest import hub, pg_database, pytest_configure, server_url, sqlite_hub  # noqa: E402,F401
