"""Feature command groups. Each module has ``register(app: typer.Typer) -> None`` adding its commands.

The main CLI (``console/cli.py``) holds only the global options and error handling; it calls every module listed
in ``FEATURES`` (in this order, which is the order of ``fengqiao --help``); an area edits only its own module here.
"""

FEATURES = ("console", "setup", "orders", "merging", "intake", "board", "kpi", "governance", "sync", "audit")

# The command (or command group) names each module registers, so that ``fengqiao run`` imports only
# console/commands/console.py and not every area's module (typer builds each command it knows at every start);
# a test checks this against what the modules register.
COMMANDS = {
    "console": ("run", "pop"),
    "setup": ("init", "taxonomy", "demo"),
    "orders": ("dispatch", "orders", "order", "act", "note"),
    "merging": ("merge", "unmerge", "split"),
    "intake": ("classify",),
    "board": ("desk",),
    "kpi": ("kpi", "report", "dashboard"),
    "governance": ("warnings", "answers", "answer", "warning", "notice", "case"),
    "sync": ("sync", "server", "attach"),
    "audit": ("audit", "check", "backup", "restore"),
}
