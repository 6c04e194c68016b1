"""The sync package's layout: reading orders never loads the network stack."""

from __future__ import annotations

import subprocess
import sys


def _loaded(statement: str, *modules: str) -> dict[str, bool]:
    code = f"import sys\n{statement}\nprint(','.join(str(m in sys.modules) for m in {modules!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    return dict(zip(modules, [v == "True" for v in out.stdout.strip().split(",")], strict=True))


def test_orders_loads_neither_httpx_nor_pydantic() -> None:
    assert _loaded("import fengqiao.store.orders", "httpx", "pydantic", "fengqiao.store.sync.client") == {
        "httpx": False,
        "pydantic": False,
        "fengqiao.store.sync.client": False,
    }


def test_sync_package_import_is_lazy_and_names_still_resolve() -> None:
    assert _loaded("from fengqiao.store.sync import SyncError, Backoff, timeline", "httpx", "pydantic") == {
        "httpx": False,
        "pydantic": False,
    }
    # and the network names do load their modules (the probe can see httpx arrive)
    assert _loaded("from fengqiao.store.sync import SyncClient, SyncLoop", "httpx") == {"httpx": True}


def test_webhooks_use_the_pure_backoff() -> None:
    import fengqiao.server.webhooks as webhooks
    from fengqiao.models.backoff import backoff_delay

    assert webhooks.backoff_delay is backoff_delay
