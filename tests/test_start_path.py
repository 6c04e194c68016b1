"""The console's start path stays light (issue 18, first paint): what it imports, and suggestions right after start.

No timing here (that is tests/benchmarks/bench_paint.py); these check the causes: the console must not import
pypinyin (the shipped names' readings are in fixtures/readings.tsv), SQLAlchemy (the desk's store runs on sqlite3),
httpx or pydantic (the sync client, only with a [sync] server), the board's and cockpit's screen modules (opened
later, if at all) or every CLI command module.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import typer
from textual import events
from textual.widgets import Input, Static, TextArea

from fengqiao.console import cli
from fengqiao.console.app import FengqiaoApp, desk_context
from fengqiao.console.commands import COMMANDS, FEATURES
from fengqiao.models.desk import make_desk
from fengqiao.screens import intake as intake_module
from fengqiao.screens.dispatch_preview import DispatchPreview
from fengqiao.screens.shift import SignInScreen
from fengqiao.store.db import Database

from .intake_helpers import fill, make_app, paste, settle, type_text

HEAVY = (
    "pypinyin",
    "sqlalchemy",
    "httpx",
    "pydantic",
    "fengqiao.screens.board",
    "fengqiao.screens.cockpit",
    "fengqiao.screens.boardfilter",
    "cryptography",  # the server's signatures, checked by `fengqiao check`
)
# What only the intake's form needs: the console draws the sign-in first, and composes the form under it (and
# imports these) once that is drawn. Each of them is imported by the time the form is up (checked below).
FORM = (
    "fengqiao.models.classifier",
    "fengqiao.models.finder",
    "rapidfuzz",
    "fengqiao.models.machine",
    "fengqiao.models.governance",
    "fengqiao.models.villages",
    "fengqiao.store.orders",
    "fengqiao.store.governance",
    "fengqiao.store.drafts",
    "fengqiao.screens.town_field",
    "fengqiao.screens.address_field",
    "fengqiao.screens.gov_banner",
    "fengqiao.screens.repeat_panel",
    "fengqiao.screens.suggestion_bar",
    "textual.widgets._text_area",
)
ALL_COMMAND_MODULES = tuple(f"fengqiao.console.commands.{name}" for name in FEATURES if name != "console")


def loaded_after(code: str, tmp_path: Path, also: tuple[str, ...] = ()) -> list[str]:
    """The modules of HEAVY (and ``also``) and the CLI's command modules that ``code`` leaves in a fresh
    interpreter."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    heavy = HEAVY + also
    return sorted(m for m in modules if m in heavy + ALL_COMMAND_MODULES or m.split(".")[0] in heavy)


def test_importing_the_app_imports_nothing_heavy(tmp_path: Path) -> None:
    assert loaded_after("import fengqiao.console.app", tmp_path) == []


@pytest.mark.parametrize("command", [["run", "--caller", "13857512345"], [], ["dashboard"]])
def test_the_entry_point_opens_the_console_without_typer(tmp_path: Path, command: list[str]) -> None:
    # `fengqiao [--db X] run --caller N` (and `fengqiao`, `fengqiao dashboard`) from the console script's entry
    # point up to the app's run (stopped there), on a store made before (a new one's migrations replay events):
    # no typer, no click, nothing heavy, none of the intake form's modules.
    Database(tmp_path / "desk.db").close()
    code = f"""
import textual.app
textual.app.App.run = lambda self, *a, **k: print("RAN", type(self).__name__)
sys.argv = ["fengqiao", "--db", {str(tmp_path / "desk.db")!r}, *{command!r}]
from fengqiao.console.entry import main
try:
    main()
except SystemExit as exc:
    assert exc.code == 0, exc.code
"""
    found = loaded_after(code, tmp_path, also=("typer", "click", *FORM))
    if command == ["dashboard"]:
        found = [m for m in found if m != "fengqiao.screens.cockpit"]  # what it shows
    assert found == []


def test_the_console_running_on_a_store_imports_nothing_heavy(tmp_path: Path) -> None:
    # The console itself (headless) until the intake is up, its fields' finders built and the classifier ready.
    code = f"""
import asyncio
from fengqiao.console.app import FengqiaoApp, desk_context
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import make_desk
from fengqiao.store.db import Database

async def main():
    ref = default_reference()
    db = Database({str(tmp_path / "desk.db")!r})
    app = FengqiaoApp(desk_context(db, make_desk(ref, "110-1", "call_taker"), ref=ref, caller="13857512345"),
                      watch_store=False, listen=False)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(400):
            await pilot.pause(0.02)
            if app.intake is not None and app.intake.classifier is not None:
                break
        assert app.intake.classifier is not None
        await pilot.press("h", "z")  # the town finder is built as the town is typed
        await app.workers.wait_for_complete()
    db.close()

asyncio.run(main())
"""
    assert loaded_after(code, tmp_path) == []


def test_the_form_waits_for_the_sign_in_to_be_drawn(tmp_path: Path) -> None:
    # `fengqiao run --caller N` headless: at the first frame and when the sign-in is up (drawn next), none of the
    # form's modules is imported; once the form is composed under it (with the caller's number) they all are.
    Database(tmp_path / "desk.db").close()  # a store made before, as `fengqiao init` leaves it
    code = f"""
import asyncio
from fengqiao.console.app import FengqiaoApp, desk_context
from fengqiao.models.desk import make_desk
from fengqiao.models.reference import default_reference
from fengqiao.screens.shift import SignInScreen
from fengqiao.store.db import Database

FORM = {FORM!r}
seen = {{}}
ready, mounted = FengqiaoApp.on_ready, SignInScreen.on_mount

def note(when):
    seen[when] = sorted(m for m in FORM if m in sys.modules or m.split(".")[0] in sys.modules and m == "rapidfuzz")

def noting_ready(self):
    note("first frame")
    ready(self)

def noting_mount(self):
    mounted(self)
    note("sign-in up")

FengqiaoApp.on_ready, SignInScreen.on_mount = noting_ready, noting_mount

async def main():
    db = Database({str(tmp_path / "desk.db")!r})
    desk = make_desk(default_reference(), "110-1", "call_taker")
    app = FengqiaoApp(desk_context(db, desk, caller="13857512345", sign_in=True), watch_store=False, listen=False)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(400):
            await pilot.pause(0.02)
            if app.intake is not None and app.intake.classifier is not None:
                break
        assert app.intake.query_one("#phone").value == "13857512345"
        note("form")
    db.close()

asyncio.run(main())
print(json.dumps(seen))
"""
    probe = f"import json, sys\n{code}"
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"first frame": [], "sign-in up": [], "form": sorted(FORM)}


async def test_keys_typed_before_the_sign_in_is_up_go_to_its_fields(
    db, ref, clock, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    # The sign-in is pushed after the console's first frame: keys that came before (typed while it started, as a
    # script or a fast typist would) wait for it and go to its name field.
    ready = FengqiaoApp.on_ready

    def keys_first(self: FengqiaoApp) -> None:
        for ch in "zhang":
            key = events.Key(ch, ch)
            key.set_sender(self)
            self.post_message(key)  # in the queue before the sign-in is pushed
        ready(self)

    monkeypatch.setattr(FengqiaoApp, "on_ready", keys_first)
    app = FengqiaoApp(desk_context(db, make_desk(ref, "110-1", "call_taker"), clock=clock, ref=ref, sign_in=True))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SignInScreen)
        assert app.screen.query_one("#shift-name", Input).value == "zhang"


@pytest.mark.parametrize("before_the_form", [False, True])
async def test_keys_typed_ahead_of_the_sign_in_enter_go_to_the_next_field(
    db, ref, clock, before_the_form: bool, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    # The sign-in's fields move the focus on once they have read their Enter, and Textual hands each key to the
    # widget focused when the app reads it: typed faster than the field reads (a busy machine, a script, a fast
    # typist), "1024" went into the name and the sign-in said the staff number was empty. The keys after an Enter
    # wait for the focus move. Typed in one go after the form is up, or even before it is (held, then replayed),
    # and on through the form's last Enter to the phone field.
    keys = [*"zhang", "enter", *"1024", "enter", *"13857512345"]

    def post_all(app: FengqiaoApp) -> None:
        for name in keys:
            key = events.Key(name, name if len(name) == 1 else None)
            key.set_sender(app)
            app.post_message(key)  # all queued at once: nothing waits for the app between them

    if before_the_form:
        ready = FengqiaoApp.on_ready

        def keys_first(self: FengqiaoApp) -> None:
            post_all(self)
            ready(self)

        monkeypatch.setattr(FengqiaoApp, "on_ready", keys_first)
    app = FengqiaoApp(desk_context(db, make_desk(ref, "110-1", "call_taker"), clock=clock, ref=ref, sign_in=True))
    async with app.run_test(size=(100, 30)) as pilot:
        if not before_the_form:
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)
            post_all(app)
        for _ in range(500):
            await pilot.pause(0.01)
            if not isinstance(app.screen, SignInScreen):
                break
        await settle(pilot)
        assert app.desk.actor == "zhang(1024)"
        assert app.intake is not None and app.intake.query_one("#phone", Input).value == "13857512345"


async def test_the_sign_in_gives_way_only_to_a_form_that_is_there(
    db, ref, clock, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    # The form under the sign-in is not there yet when someone has signed in (here: it is composed only when asked
    # for): the sign-in stays until it is, so the keys typed once the sign-in is gone land in the phone field.
    async def sign_in_only(self: FengqiaoApp) -> None:
        await self.ask_sign_in()
        await self._release_held()

    monkeypatch.setattr(FengqiaoApp, "_sign_in_first", sign_in_only)
    app = FengqiaoApp(desk_context(db, make_desk(ref, "110-1", "call_taker"), clock=clock, ref=ref, sign_in=True))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.intake is not None and app.intake.deferred
        await pilot.press(*"zhang", "enter", *"1024", "enter")
        while isinstance(app.screen, SignInScreen):
            await pilot.pause(0.01)
        await pilot.press(*"13857512345")
        await settle(pilot)
        assert app.intake.query_one("#phone", Input).value == "13857512345"
        assert app.desk.actor == "zhang(1024)"


def test_the_dashboard_does_not_import_the_intake_or_the_board(tmp_path: Path) -> None:
    # (nor the sign-in and handover screens, the board's store or the state machine)
    also = ("fengqiao.screens.intake", "fengqiao.screens.shift", "fengqiao.store.board", *FORM)
    found = loaded_after("import fengqiao.console.dashboard", tmp_path, also=also)
    # the cockpit is what it shows (the villages load with their data, when a frequent address is placed)
    assert found == ["fengqiao.screens.cockpit"]


def test_the_command_table_matches_what_the_modules_register() -> None:
    import importlib

    for name in FEATURES:
        probe = typer.Typer()
        importlib.import_module(f"fengqiao.console.commands.{name}").register(probe)
        names = [c.name for c in probe.registered_commands] + [g.name for g in probe.registered_groups]
        assert tuple(names) == COMMANDS[name], name
    assert set(COMMANDS) == set(FEATURES)


@pytest.mark.parametrize(
    ("argv", "feature"),
    [
        ([], "console"),
        (["run", "--caller", "1"], "console"),
        (["--db", "x.db", "--lang", "en", "run"], "console"),
        (["--db=x.db", "dashboard"], "kpi"),
        (["--reference", "dir", "warning", "sign"], "governance"),
        (["server", "run"], "sync"),
        (["--help"], None),
        (["--db", "x.db", "--bogus", "run"], None),
        (["no-such-command"], None),
    ],
)
def test_the_cli_registers_only_the_command_being_run(argv: list[str], feature: str | None) -> None:
    assert cli.feature_of(argv) == feature


# ---- suggestions right after start -------------------------------------------------------------------------
DESCRIPTION = "有人往河边倒建筑垃圾"


async def test_suggestions_work_right_after_start(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await fill(pilot, "13857512345", "hz", "前岩村5号", DESCRIPTION)
        screen = app.intake
        assert screen is not None and screen.classifier is not None
        assert len(screen.suggestions) == 3
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, DispatchPreview)


async def test_a_suggestion_taken_before_the_classifier_is_ready_is_taken_when_it_is(
    db, ref, clock, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    release = threading.Event()
    build = intake_module.build_classifier

    def slow_build(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        release.wait(30)
        return build(*args, **kwargs)

    monkeypatch.setattr(intake_module, "build_classifier", slow_build)
    app = make_app(db, ref, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.intake
        assert screen is not None
        # The call typed as fast as keys go (no waiting for workers: the classifier's is held back).
        await type_text(pilot, "13857512345")
        await pilot.press("enter")
        await type_text(pilot, "hz")
        await pilot.press("enter")
        await paste(pilot, "前岩村5号")
        await pilot.press("enter")
        await paste(pilot, DESCRIPTION)
        assert screen.query_one("#description", TextArea).text == DESCRIPTION
        assert screen.classifier is None
        await pilot.press("f2")  # before the classifier has loaded
        await pilot.pause()
        assert not isinstance(app.screen, DispatchPreview)
        assert "分类器载入后即采纳第 1 个建议" in str(screen.query_one("#msg", Static).render())
        release.set()
        await settle(pilot)
        assert screen.classifier is not None and len(screen.suggestions) == 3
        assert isinstance(app.screen, DispatchPreview)  # the first suggestion was taken once it was there
        assert screen.tag_code == screen.suggestions[0].code


async def test_the_classifier_starts_after_the_first_frame(db, ref, clock, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    order: list[str] = []
    build = intake_module.build_classifier

    def noting_build(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        order.append("build")
        return build(*args, **kwargs)

    monkeypatch.setattr(intake_module, "build_classifier", noting_build)
    ready = FengqiaoApp.on_ready

    def noting_ready(self: FengqiaoApp) -> None:
        order.append("first frame")
        ready(self)

    monkeypatch.setattr(FengqiaoApp, "on_ready", noting_ready)
    app = make_app(db, ref, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
    assert order == ["first frame", "build"]
