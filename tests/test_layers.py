"""models/ and store/ never import Textual."""

import subprocess
import sys


def test_models_and_store_do_not_import_textual() -> None:
    code = (
        "import sys, pkgutil, importlib\n"
        "from fengqiao import models, store\n"
        "for pkg in (models, store):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"models/store imported Textual: {out.stdout}"


def test_cli_commands_do_not_import_textual() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from fengqiao.console.cli import app\n"
        "r = CliRunner().invoke(app, ['taxonomy', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('textual' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_module_imports_under_the_fengqiao_namespace_alone(tmp_path) -> None:
    """Run outside the repository, every module imports, and no bare top-level console/models/... is loaded."""
    code = (
        "import sys, pkgutil, importlib\n"
        "names = []\n"
        "for part in ('console', 'models', 'screens', 'store', 'server', 'fixtures'):\n"
        "    pkg = importlib.import_module('fengqiao.' + part)\n"
        "    names += [i.name for i in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "bare = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "              {'console', 'models', 'screens', 'store', 'server', 'fixtures'})\n"
        "print(len(names), ','.join(bare))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path, env=env
    )
    count, bare = out.stdout.strip().split(" ", 1) if " " in out.stdout.strip() else (out.stdout.strip(), "")
    assert int(count) > 50
    assert bare == "", f"modules imported outside the fengqiao namespace: {bare}"
