"""Feature command groups. Each module has ``register(app: typer.Typer) -> None`` adding its commands.

The main CLI (``console/cli.py``) calls every module listed in ``FEATURES``; a feature edits only its own
module here.
"""

FEATURES = ("intake", "board", "kpi", "sync", "audit")
