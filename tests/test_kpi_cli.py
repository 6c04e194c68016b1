"""``fengqiao kpi`` and ``fengqiao report`` through typer's CliRunner: the report equals ``kpi --json``."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from fengqiao.console.cli import app
from fengqiao.console.kpi_report import csv_cell
from fengqiao.models.clock import FixedClock
from fengqiao.models.roles import Desk
from fengqiao.store.db import Database
from fengqiao.store.demo import generate
from fengqiao.store.orders import OrderStore

from . import kpi_timeline as week
from .conftest import T0

runner = CliRunner()
WINDOW = ["--from", "2026-10-30", "--to", "2026-11-28"]
EVIL = '=HYPERLINK("http://x.example/","点我")|[bold]'


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo store (400 orders over 30 days up to T0) plus a caller who rang four times from a nasty address."""
    path = tmp_path_factory.mktemp("kpi-cli") / "demo.db"
    db = Database(path)
    clock = FixedClock(T0)
    generate(db, orders=400, days=30, seed=7, clock=clock)
    store = OrderStore(db, desk=Desk(name="test"), clock=clock)
    for hours in (2, 20, 40, 60):
        week.dispatch(store, "13857512345", "B02", T0 - timedelta(hours=hours), address=EVIL)
    db.close()
    return path


@pytest.fixture(autouse=True)
def _fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fengqiao.console.commands.kpi.system_clock", FixedClock(T0))


def run(db: Path, *args: str):  # noqa: ANN202
    return runner.invoke(app, ["--db", str(db), *args])


def ok(db: Path, *args: str) -> str:
    result = run(db, *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def fails(db: Path, *args: str) -> str:
    result = run(db, *args)
    assert result.exit_code != 0, result.stdout
    assert "Traceback" not in result.output
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    return err


def kpi_json(db: Path, by: str) -> dict:
    return json.loads(ok(db, "kpi", *WINDOW, "--by", by, "--json"))


def test_kpi_json_shape(demo_db: Path) -> None:
    out = kpi_json(demo_db, "department")
    assert (out["from"], out["to"], out["by"]) == ("2026-10-30", "2026-11-28", "department")
    assert out["rows"], "the demo store has orders in the window"
    row = out["rows"][0]
    for key in (
        "key",
        "dispatched",
        "sign_rate",
        "arrival_rate",
        "feedback_rate",
        "resolution_rate",
        "repeat_rate",
        "satisfaction_rate",
        "score",
        "rank",
    ):
        assert key in row
    for r in out["rows"]:
        for rate in ("sign_rate", "arrival_rate", "feedback_rate", "resolution_rate", "repeat_rate"):
            assert r[rate] is None or 0.0 <= r[rate] <= 1.0
    no_visit = [r for r in out["rows"] if r["arrival_base"] == 0]
    assert all(r["arrival_rate"] is None for r in no_visit)
    assert [r["rank"] for r in out["rows"] if r["rank"]] == sorted(r["rank"] for r in out["rows"] if r["rank"])
    assert out["total"]["key"] == "ALL"


def test_report_xlsx_equals_kpi_json(demo_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "review.xlsx"
    assert "review.xlsx" in ok(demo_db, "report", *WINDOW, "--format", "xlsx", "-o", str(target))
    wb = load_workbook(target)
    assert wb.sheetnames == [
        "部门排名",
        "镇街",
        "标签",
        "村社",
        "高频来电",
        "高频地址",
        "直接办结（知识库当场答复）",
        "说明",
    ]
    from fengqiao.console.kpi_report import column_label, columns

    cols = columns()
    for by, sheet in (("department", "部门排名"), ("town", "镇街"), ("tag", "标签"), ("village", "村社")):
        expected = kpi_json(demo_db, by)
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        assert header == [column_label(c) for c in cols]
        got = {}
        for values in ws.iter_rows(min_row=2, values_only=True):
            got[values[1]] = dict(zip(cols, values, strict=True))
        want = {r["key"]: r for r in [*expected["rows"], expected["total"]]}
        assert set(got) == set(want)
        for key, row in want.items():
            for col in cols:
                assert got[key][col] == row[col], (by, key, col)


def test_report_json_and_csv_equal_kpi_json(demo_db: Path, tmp_path: Path) -> None:
    ok(demo_db, "report", *WINDOW, "--format", "json", "-o", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    for by in ("department", "town", "tag", "village"):
        expected = kpi_json(demo_db, by)
        got = report["views"][by]
        assert got["rows"] == expected["rows"] and got["total"] == expected["total"]
    ok(demo_db, "report", *WINDOW, "--format", "csv", "-o", str(tmp_path / "r.csv"))
    with (tmp_path / "r.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    dept = [r for r in rows if r["view"] == "department"]
    expected = kpi_json(demo_db, "department")
    assert len(dept) == len(expected["rows"]) + 1
    first = expected["rows"][0]
    assert dept[0]["key"] == first["key"] and float(dept[0]["sign_rate"]) == first["sign_rate"]


def test_exports_mask_phones_and_never_run_caller_text(demo_db: Path, tmp_path: Path) -> None:
    ok(demo_db, "report", *WINDOW, "--format", "xlsx", "-o", str(tmp_path / "r.xlsx"))
    wb = load_workbook(tmp_path / "r.xlsx")
    callers = [row for row in wb["高频来电"].iter_rows(min_row=2, values_only=True)]
    assert ("138****2345" in [r[0] for r in callers]) and not any("13857512345" in str(r) for r in callers)
    cell = next(row[0] for row in wb["高频地址"].iter_rows(min_row=2) if row[0].value == EVIL)
    assert cell.data_type == "s" and cell.quotePrefix  # text exactly as typed, never a formula
    ok(demo_db, "report", *WINDOW, "--format", "json", "-o", str(tmp_path / "r.json"))
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert "13857512345" not in text and "138****2345" in text
    ok(demo_db, "report", *WINDOW, "--format", "md", "-o", str(tmp_path / "r.md"))
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "\\|\\[bold\\]" in md and "138\\*\\*\\*\\*2345" in md and "13857512345" not in md
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("-3") == "'-3" and csv_cell("@x") == "'@x"
    assert csv_cell("人民路") == "人民路" and csv_cell(-3.5) == -3.5
    assert csv_cell("\x1b[31m=红") == "␛[31m=红" and csv_cell("\t=1") == "'\t=1"  # made visible, never run


def test_kpi_table_text(demo_db: Path) -> None:
    out = ok(demo_db, "kpi", *WINDOW)
    assert "考核指标 2026-10-30 至 2026-11-28" in out and "合计" in out and "签收率" in out
    out = runner.invoke(app, ["--db", str(demo_db), "--lang", "en", "kpi", *WINDOW, "--by", "town"]).stdout
    assert "by town" in out and "Total" in out
    one = json.loads(ok(demo_db, "kpi", *WINDOW, "--dept", "ZZ", "--json"))
    assert one["rows"] and all(r["key"].startswith("ZZ-") for r in one["rows"])


def test_bad_input_is_one_clear_line(demo_db: Path, tmp_path: Path) -> None:
    assert "--from" in fails(demo_db, "kpi", "--from", "yesterday")
    assert "晚于" in fails(demo_db, "kpi", "--from", "2026-11-28", "--to", "2026-11-01")
    assert "XYZ" in fails(demo_db, "kpi", "--dept", "XYZ")
    assert "county" in fails(demo_db, "kpi", "--by", "county")
    assert "pdf" in fails(demo_db, "report", *WINDOW, "--format", "pdf", "-o", str(tmp_path / "r.pdf"))
    assert "r.md" in fails(demo_db, "report", *WINDOW, "--format", "md", "-o", str(tmp_path / "nope" / "r.md"))
    assert not (tmp_path / "r.pdf").exists()


def test_weights_come_from_the_config(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = kpi_json(demo_db, "town")["total"]
    config = tmp_path / "config.toml"
    config.write_text(
        "[kpi.weights]\nsign = 100\narrival = 0\nfeedback = 0\nresolution = 0\nrepeat = 0\n", encoding="utf-8"
    )
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    weighted = kpi_json(demo_db, "town")
    assert weighted["weights"]["sign"] == 100.0
    assert weighted["total"]["score"] == round(100 * base["sign_rate"], 2)
    config.write_text('[kpi.weights]\nsign = "a lot"\n', encoding="utf-8")
    assert "sign" in fails(demo_db, "kpi")


def _access(db: Path) -> list[tuple[str, str, str, dict]]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT desk, role, target, detail FROM access_log ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


def test_report_unmasked_is_for_supervisors_and_recorded_first(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _access(demo_db)
    out = tmp_path / "full.xlsx"
    for role in ([], ["--role", "call_taker"], ["--role", "department", "--dept", "SCJG"]):
        assert "只有督办席位" in fails(
            demo_db, "report", *WINDOW, "--format", "xlsx", "-o", str(out), "--unmasked", *role
        )
    assert not out.exists() and _access(demo_db) == before
    ok(
        demo_db,
        "report",
        *WINDOW,
        "--format",
        "xlsx",
        "-o",
        str(out),
        "--unmasked",
        "--role",
        "supervisor",
        "--desk",
        "督办-1",
    )
    callers = [row[0] for row in load_workbook(out)["高频来电"].iter_rows(min_row=2, values_only=True)]
    assert "13857512345" in callers and "138****2345" not in callers
    desk, role, target, detail = _access(demo_db)[-1]
    assert (desk, role, target) == ("督办-1", "supervisor", "export")
    assert detail["file"] == str(out.resolve()) and detail["format"] == "xlsx" and "13857512345" in detail["phones"]
    assert detail["params"]["unmasked"] is True and detail["from"] == "2026-10-30"
    # A supervisor's machine (the config file's desk) needs no --role; its JSON says the numbers are full.
    config = tmp_path / "config.toml"
    config.write_text('[desk]\nname = "督办-2"\nrole = "supervisor"\n', encoding="utf-8")
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    ok(demo_db, "report", *WINDOW, "--format", "json", "-o", str(tmp_path / "full.json"), "--unmasked")
    data = json.loads((tmp_path / "full.json").read_text(encoding="utf-8"))
    assert data["phones_masked"] is False and data["frequent_callers"][0]["phone"] == "13857512345"
    assert _access(demo_db)[-1][0] == "督办-2"
    ok(demo_db, "report", *WINDOW, "--format", "md", "-o", str(tmp_path / "masked.md"))  # without: masked
    assert "13857512345" not in (tmp_path / "masked.md").read_text(encoding="utf-8")
    assert len(_access(demo_db)) == len(before) + 2


def test_no_access_line_no_unmasked_report(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the access log cannot be written (the file is locked), no report with full numbers is written."""
    import sqlite3

    monkeypatch.setenv("FENGQIAO_BUSY_MS", "100")
    before = _access(demo_db)
    blocker = sqlite3.connect(demo_db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = run(
            demo_db,
            "report",
            *WINDOW,
            "--format",
            "csv",
            "-o",
            str(tmp_path / "r.csv"),
            "--unmasked",
            "--role",
            "supervisor",
        )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.exit_code == 1 and "被另一个程序占用" in result.stderr
    assert not (tmp_path / "r.csv").exists() and _access(demo_db) == before


def test_exports_show_escape_sequences_literally(tmp_path: Path) -> None:
    """An address full of escape sequences, markup and a formula: every export shows it, none runs it."""
    db_path = tmp_path / "evil.db"
    db = Database(db_path)
    store = OrderStore(db, desk=Desk(name="test"), clock=FixedClock(T0))
    evil = "-1+1\x1b[2J\x1b]8;;http://x.example\x07链接\x1b]8;;\x07 [red]红[/red] 😀𠀀"
    for hours in (2, 20, 40):
        week.dispatch(store, "13857512345", "B02", T0 - timedelta(hours=hours), address=evil)
    db.close()
    ok(db_path, "report", *WINDOW, "--format", "xlsx", "-o", str(tmp_path / "r.xlsx"))
    cell = next(iter(load_workbook(tmp_path / "r.xlsx")["高频地址"].iter_rows(min_row=2)))[0]
    shown = "-1+1␛[2J␛]8;;http://x.example\\x07链接␛]8;;\\x07 [red]红[/red] 😀𠀀"
    assert cell.value == shown and cell.data_type == "s" and cell.quotePrefix
    ok(db_path, "report", *WINDOW, "--format", "md", "-o", str(tmp_path / "r.md"))
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "\x1b" not in md and "\x07" not in md and "␛\\[2J" in md and "\\[red\\]红\\[/red\\]" in md
    assert "http://" not in md and "http\\://" in md  # Markdown-escaped: no link, no autolink
