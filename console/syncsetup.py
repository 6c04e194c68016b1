"""The desk's sync settings and the console's background sync, from the config's ``[sync]`` section.

Kept apart from the ``sync`` command module (console/commands/sync.py, which imports typer) so that opening the
console needs neither typer nor the sync client: httpx and pydantic are imported only when a server is configured.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fengqiao.models.clock import system_clock
from fengqiao.models.errors import ValidationError
from fengqiao.models.i18n import t

from .config import config_path


def sync_settings(config: Any, server: str | None = None, token: str | None = None) -> dict[str, Any]:
    """Server URL, token and options from the options, the environment and the config's [sync] section."""
    section = config.section("sync")
    server = server or os.environ.get("FENGQIAO_SYNC_SERVER") or section.get("server") or None
    token = token or os.environ.get("FENGQIAO_SYNC_TOKEN") or section.get("token") or None
    token_file = section.get("token_file")
    if not token and token_file:
        try:
            token = Path(str(token_file)).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValidationError(t("sync.token_file", path=token_file, error=exc.strerror or exc)) from None
    if server and token:
        from fengqiao.store.wire import MAX_PULL, MAX_PUSH  # pydantic: only when syncing, not for every start
    else:  # nothing will be sent (the caller says so): the wire format's limits do not matter
        MAX_PULL = MAX_PUSH = 1 << 30
    numbers = {
        "interval": section.get("interval", 10),
        "timeout": section.get("timeout", 10),
        "batch": section.get("batch", 500),
        "pull_limit": section.get("pull_limit", 1000),
    }
    for key, value in numbers.items():
        whole = key in ("batch", "pull_limit")
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) or value <= 0:
            raise ValidationError(t("config.bad_value", path=config_path(), key=f"sync.{key}", value=value))
    ca = section.get("ca")
    return {
        "server": server,
        "token": token,
        "interval": float(numbers["interval"]),
        "timeout": float(numbers["timeout"]),
        "batch": min(int(numbers["batch"]), MAX_PUSH),
        "pull_limit": min(int(numbers["pull_limit"]), MAX_PULL),
        "verify": str(Path(str(ca)).expanduser()) if ca else True,
    }


def make_client(db: Any, desk: Any, clock: Any, settings: dict[str, Any]) -> Any:
    """A sync client for ``db`` with the transport and batch sizes of :func:`sync_settings`."""
    from fengqiao.store.sync import HttpTransport, SyncClient

    transport = HttpTransport(
        settings["server"], settings["token"], timeout=settings["timeout"], verify=settings["verify"]
    )
    return SyncClient(
        db, transport, desk=desk, clock=clock, push_batch=settings["batch"], pull_limit=settings["pull_limit"]
    )


def console_sync(config: Any, db: Any, desk: Any, clock: Any = system_clock) -> Any:
    """The console's background sync (a ``console.syncworker.SyncSetup``) from the config's [sync] section;
    None when no server and token are configured."""
    from fengqiao.models.errors import FengqiaoError

    try:
        settings = sync_settings(config)
    except FengqiaoError as exc:
        from .syncworker import SyncSetup

        return SyncSetup.failed(str(exc))
    if not settings["server"] or not settings["token"]:
        return None  # (the sync worker's module is not imported: the console's start waits for nothing it shows)
    from .syncworker import SyncSetup

    return SyncSetup(client=lambda: make_client(db, desk, clock, settings), interval=settings["interval"])
