"""``fengqiao classify``: arguments or stdin, text or JSON lines, the desk's history."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fengqiao.console.cli import app

runner = CliRunner()


def classify(db: Path, *args: str, stdin: str | None = None, lang: str | None = None):  # noqa: ANN201
    argv = ["--db", str(db)] + (["--lang", lang] if lang else []) + ["classify", *args]
    return runner.invoke(app, argv, input=stdin)


def test_text_arguments_human_output(db_path: Path) -> None:
    result = classify(db_path, "我在店里买到假货，老板不肯退款", "龙头里一滴水也没有")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "我在店里买到假货，老板不肯退款"
    assert lines[1].startswith("  1. B01 消费纠纷 → 市场监督管理局")
    assert "  1. C03 停水故障" in result.stdout
    assert not db_path.exists()  # classify never creates a store


def test_json_lines_from_stdin(db_path: Path) -> None:
    result = classify(db_path, "--json", "--top", "2", stdin="我在店里买到假货\n\n楼上漏水到我家\n")
    assert result.exit_code == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["text"] for o in out] == ["我在店里买到假货", "", "楼上漏水到我家"]
    assert out[1]["suggestions"] == []
    first = out[0]["suggestions"]
    assert len(first) == 2
    assert first[0]["code"] == "B01" and first[0]["name_zh"] == "消费纠纷" and first[0]["department"] == "SCJG"
    assert 0 < first[0]["score"] <= 1
    assert out[2]["suggestions"][0]["code"] == "B04"


def test_english(db_path: Path) -> None:
    result = classify(db_path, "电梯坏了困了人", lang="en")
    assert "1. C19 Lift faults → Market Supervision Administration" in result.stdout


def test_bad_top_is_refused(db_path: Path) -> None:
    result = classify(db_path, "--top", "0", "x")
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_uses_this_desks_history(db_path: Path) -> None:
    text = "有人从五楼窗户吊了个插排下来给电瓶车充电"
    result = runner.invoke(
        app,
        ["--db", str(db_path), "dispatch", "--phone", "13857512345", "--town", "SHH", "--tag", "C02", "--text", text],
    )
    assert result.exit_code == 0, result.stderr
    learnt = json.loads(classify(db_path, "--json", "三楼窗口又吊插排给电瓶车充电").stdout)
    assert learnt["suggestions"][0]["code"] == "C02" and "history" in learnt["suggestions"][0]["evidence"]
    plain = json.loads(classify(db_path, "--json", "--no-history", "三楼窗口又吊插排给电瓶车充电").stdout)
    assert plain["suggestions"][0]["code"] != "C02"


def test_order_timeline_shows_a_linked_callers_words(db_path: Path) -> None:
    """`fengqiao order`: the link event of a repeat call shows who called again and what they said."""
    from fengqiao.models.intake import IntakeForm
    from fengqiao.store.db import Database
    from fengqiao.store.orders import OrderStore

    with Database(db_path) as db:
        store = OrderStore(db)
        first = store.dispatch(IntakeForm(phone="13857512345", town="LS", description="门禁停了"), "B02")
        store.link(first.order_no, IntakeForm(phone="13857512345", town="", description="还是没人来[bold]"))
    result = runner.invoke(app, ["--db", str(db_path), "order", first.order_no])
    assert result.exit_code == 0, result.stderr
    (line,) = [x for x in result.stdout.splitlines() if "还是没人来" in x]
    assert "13857512345 还是没人来[bold]" in line
