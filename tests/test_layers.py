"""models/ and store/ never import Textual."""

import subprocess
import sys


def test_models_and_store_do_not_import_textual() -> None:
    code = (
        "import sys, pkgutil, importlib\n"
        "import models, store\n"
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
        "from console.cli import app\n"
        "r = CliRunner().invoke(app, ['taxonomy', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('textual' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
