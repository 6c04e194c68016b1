"""Issue 11 item 8, the smaller ones: names with control characters refused and escaped, no token in a crash
log (0600), Markdown escaped in DingTalk messages and reports, --at bounded on both ends."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from fengqiao.models.errors import ValidationError
from fengqiao.models.markdown import md_escape
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import make_desk
from fengqiao.store.db import Database
from fengqiao.store.projection import append_events
from tests.test_cli import fails, ok, run

REF = default_reference()
NASTY = ["evil\x1b[2Jdesk", "op\x9bname", "abc\u202edcba", "a\u2066b", "line\nbreak", "nul\x00", "bom\ufeff"]


@pytest.mark.parametrize("name", NASTY, ids=range(len(NASTY)))
def test_desk_and_operator_names_with_control_characters_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="U\\+"):
        make_desk(REF, name, "call_taker")
    with pytest.raises(ValidationError, match="U\\+"):
        make_desk(REF, "ok-desk", "call_taker", operator=name)


def test_server_desk_add_refuses_such_a_name(tmp_path: Path) -> None:
    err = fails(
        tmp_path / "x.db",
        "server",
        "desk-add",
        "evil\x1b]0;owned\x07",
        "--role",
        "call_taker",
        "--db",
        f"sqlite:///{tmp_path / 's.db'}",
    )
    assert "\x1b" not in err and "\x07" not in err and "␛" in err  # refused, and named escaped


def test_desk_config_refuses_such_a_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[desk]\nname = "desk\\u202e1"\nrole = "call_taker"\n', encoding="utf-8")
    monkeypatch.setenv("FENGQIAO_CONFIG", str(cfg))
    err = fails(tmp_path / "x.db", "orders")
    assert "\u202e" not in err and "U+202E" in err


def test_audit_escapes_a_synced_actor_kind_and_desk(tmp_path: Path) -> None:
    db_path = tmp_path / "x.db"
    no = ok(db_path, "dispatch", "--phone", "13857512345", "--town", "HZ", "--tag", "B01", "--text", "假货")
    order_id = json.loads(ok(db_path, "order", no, "--json"))["id"]
    from fengqiao.models.clock import system_clock
    from fengqiao.models.events import new_id
    from fengqiao.models.machine import Event

    now = system_clock()
    db = Database(db_path)
    try:  # what another desk's events could carry once synced
        ev = Event(
            id=new_id(),
            order_id=order_id,
            kind="note\x1b[31m",
            event_at=now,
            recorded_at=now,
            desk="far\u202edesk",
            actor="op\x9b2J\x07",
            assignment_id=None,
            payload={},
        )
        with db.write() as conn:
            append_events(conn, "far\u202edesk", [ev])
    finally:
        db.close()
    out = run(db_path, "audit", no).output
    for raw in ("\x1b", "\x9b", "\x07", "\u202e"):
        assert raw not in out
    assert "\\u202e" in out and "\\x9b" in out and "␛[31m" in out


def test_a_token_never_reaches_the_crash_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fengqiao.console.cli as cli
    from fengqiao.store.sync import SyncClient

    log = tmp_path / "logs" / "crash.log"
    monkeypatch.setattr(cli, "_crash_log", lambda: log)
    token = "fq1_SECRETsecretSECRETsecret0123456789"

    def boom(self, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise RuntimeError(f"unexpected while talking with token {token}")

    monkeypatch.setattr(SyncClient, "sync_once", boom)
    monkeypatch.setattr("sys.argv", ["fengqiao", "sync", "--server", "http://127.0.0.1:9", "--token", token])
    result = run(tmp_path / "x.db", "sync", "--server", "http://127.0.0.1:9", "--token", token, "--once")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert token not in result.output
    text = log.read_text(encoding="utf-8")
    assert "RuntimeError" in text and token not in text and "SECRET" not in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    log.chmod(0o644)  # an old world-readable log is made private on the next write
    run(tmp_path / "x.db", "sync", "--server", "http://127.0.0.1:9", f"--token={token}", "--once")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and token not in log.read_text(encoding="utf-8")


def test_markdown_in_an_order_number_is_no_link_in_the_dingtalk_message() -> None:
    import tempfile

    from fengqiao.models.clock import FixedClock
    from fengqiao.models.intake import IntakeForm
    from fengqiao.models.roles import Desk
    from fengqiao.server.webhooks import message
    from fengqiao.store.orders import OrderStore
    from tests.sync.sim import T0

    with tempfile.TemporaryDirectory() as d:
        db = Database(Path(d) / "x.db")
        store = OrderStore(db, ref=REF, desk=Desk(name="d"), clock=FixedClock(T0))
        o = store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="假货"), "B01")
        state = store.order(o.order_no)
        db.close()
    from dataclasses import replace

    evil = replace(state, order_no="[点我](http://evil.example/x) ![](http://evil.example/p.png) **急**")
    body = message(REF, evil, evil.primary.assignee, "markdown")
    text = body["markdown"]["text"]
    assert "](" not in text.replace("\\](", "") and "![" not in text.replace("!\\[", "")
    assert "http://" not in text and "**急**" not in text
    assert "\\[点我\\]" in text
    plain = message(REF, evil, evil.primary.assignee, "text")["text"]["content"]
    assert evil.order_no in plain  # text messages are not rendered: shown as sent


def test_md_escape_leaves_no_markup() -> None:
    """Rendered by a CommonMark renderer (markdown-it, with GFM tables and strikethrough): no link, image, bold,
    code or HTML comes out of the text, and it reads as typed."""
    from markdown_it import MarkdownIt

    evil = "[a](http://x.y) ![i](https://x.y/i.png) **b** __c__ <img src=x> `code` ~~s~~ <http://x.y> | c"
    html = (
        MarkdownIt("commonmark", {"html": True})
        .enable(["table", "strikethrough"])
        .render(f"| h |\n|---|\n| {md_escape(evil)} |\n")
    )
    for live in ("<a ", "<img", "<strong", "<em", "<code", "<s>", "<del"):
        assert live not in html, (live, html)
    assert html.count("<td>") == 1  # the | did not split the cell
    assert "[a](http://x.y)" in html.replace("&quot;", '"')


@pytest.mark.parametrize(
    "at", ["0001-01-01", "0001-01-01T00:00", "9999-12-31T23:59", "1970-01-01T08:00", "1999-12-31T23:59"]
)
def test_at_is_bounded_on_both_ends_with_a_clear_error(tmp_path: Path, at: str) -> None:
    db = tmp_path / "x.db"
    err = fails(db, "dispatch", "--phone", "13857512345", "--town", "HZ", "--tag", "B01", "--text", "假货", "--at", at)
    assert "Traceback" not in err
    assert "2000" in err or "9999" in err  # which bound, or which time could not be read
    assert not db.exists() or json.loads(ok(db, "orders", "--json"))["orders"] == []  # nothing written


def test_act_at_before_2000_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", "--phone", "13857512345", "--town", "HZ", "--tag", "B01", "--text", "假货")
    err = fails(db, "act", no, "sign", "--at", "1970-01-01T08:00")
    assert "2000" in err
