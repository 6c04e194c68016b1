"""Feature command groups. Each module has ``register(app: typer.Typer) -> None`` adding its commands.

The main CLI (``console/cli.py``) holds only the global options and error handling; it calls every module listed
in ``FEATURES`` (in this order, which is the order of ``fengqiao --help``); an area edits only its own module here.
"""

FEATURES = ("console", "setup", "orders", "merging", "intake", "board", "kpi", "governance", "sync", "audit")
