"""Progress notes (备注) on an order: the `n` key on the board and the detail screen, the timeline, the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from fengqiao.screens.detail import DetailScreen
from fengqiao.screens.forms import ActionForm

from .test_board_ui import build_scenario, event_kinds, focus, make_app, open_board, settle
from .test_cli import count, fails, ok


@pytest.fixture
def scene(tmp_path: Path):
    ns = build_scenario(tmp_path / "board.db")
    yield ns
    ns.db.close()


def rendered(renderable) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def _payloads(scene, order_no: str, kind: str) -> list[dict]:
    with scene.db.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT e.payload FROM events e JOIN orders o ON o.id = e.order_id WHERE o.order_no = ? AND e.kind = ? "
            "ORDER BY e.seq",
            (order_no, kind),
        ).all()
    return [json.loads(r[0]) for r in rows]


async def test_n_adds_a_note_on_any_desk_without_changing_the_state(scene) -> None:
    app = make_app(scene, "department", dept="SCJG")
    async with app.run_test(size=(80, 24)) as pilot:
        board = await open_board(pilot)
        await focus(pilot, board, scene.overdue.order_no)
        before = board.focused_row().status
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ActionForm)
        await pilot.press("enter", "enter")  # the words are required
        assert "不能为空" in str(form.query_one("#form-error").render())
        await pilot.press(*"已联系来电人[red]x[/red]", "enter", "down", "enter")  # for the caller
        await settle(pilot)
        assert event_kinds(scene, scene.overdue.order_no)[-1] == "note"
        assert _payloads(scene, scene.overdue.order_no, "note") == [
            {"text": "已联系来电人[red]x[/red]", "visibility": "caller"}
        ]
        assert board.focused_row().status == before == "dispatched"
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        shown = rendered(detail._timeline(detail.offer.state, scene.clock(), "zh"))
        assert "[告知来电人] 已联系来电人[red]x[/red]" in shown  # markup shown literally
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"内部记录", "enter", "enter")
        await settle(pilot)
        assert [p["visibility"] for p in _payloads(scene, scene.overdue.order_no, "note")] == ["caller", "internal"]


async def test_a_supervisor_may_note_a_closed_order(scene) -> None:
    app = make_app(scene, "supervisor")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_board(pilot)
        app.push_screen(DetailScreen(scene.closed.order_no))
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, ActionForm)
        await pilot.press(*"回访后来电人又来电致谢", "enter", "enter")
        await settle(pilot)
        assert event_kinds(scene, scene.closed.order_no)[-1] == "note"


def test_note_command_and_act_note(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    no = ok(db, "dispatch", "--phone", "13857512345", "--town", "LS", "--tag", "B02", "--text", "物业乱收停车费")
    assert "备注" in ok(db, "note", no, "已电话联系物业", "--caller")
    ok(db, "act", no, "note", "--note", "内部：物业经理姓王", "--visibility", "internal")
    shown = json.loads(ok(db, "order", no, "--json"))
    notes = [e for e in shown["events"] if e["kind"] == "note"]
    assert [n["payload"] for n in notes] == [
        {"text": "已电话联系物业", "visibility": "caller"},
        {"text": "内部：物业经理姓王", "visibility": "internal"},
    ]
    assert shown["status"] == "dispatched" and shown["notes"] == 2
    events = count(db, "events")
    assert "public" in fails(db, "act", no, "note", "--note", "x", "--visibility", "public")
    assert "备注" in fails(db, "note", no, "  ")
    assert count(db, "events") == events  # nothing written
