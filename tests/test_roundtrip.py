"""Property: any text typed into any text field round-trips exactly, through the CLI and through the store.

"Exactly" is the storage policy of models/text.py: outer whitespace is trimmed; NUL and lone surrogates
are refused (they cannot be stored faithfully), as is text over the field's limit; everything else
(markup, escape sequences, controls, emoji, any script) comes back identical, from the database, the JSON
output and the replayed events, and the human output shows it made visible, never raw.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fengqiao.console.cli import app
from fengqiao.models.clock import FixedClock
from fengqiao.models.errors import ValidationError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.models.roles import Desk
from fengqiao.models.text import LIMITS, visible
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore
from tests.conftest import T0
from tests.test_hostile import HOSTILE, assert_inert

FIELDS = ("description", "address", "name", "reason", "note")
LIMIT = {
    "description": LIMITS["description"],
    "address": LIMITS["address"],
    "name": LIMITS["name"],
    "reason": LIMITS["reason"],
    "note": LIMITS["note"],
}

# Arbitrary Unicode (every category but surrogates), plus the nasty cases made likely: markup, escapes,
# NUL, lone surrogates, long pastes, whitespace only.
texts = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30),  # with surrogates
    st.sampled_from(HOSTILE),
    st.lists(
        st.sampled_from(
            [
                "[b]",
                "[/]",
                "\x1b[31m",
                "\x1b]0;t\x07",
                "\x9b",
                "\x00",
                "\u202e",
                "😀",
                "𠀀",
                " ",
                "\n",
                "\t",
                "é",
                "\u200d",
                "中",
            ]
        ),
        max_size=20,
    ).map("".join),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(1, 4500)),
)


def expected_error(field: str, value: str) -> str | None:
    """The message fragment the desk must see for ``value`` in ``field``, or None if it is accepted."""
    v = value.strip()
    if field == "description" and not v:
        return "不能为空"
    if len(v) > LIMIT[field]:
        return "太长"
    if "\x00" in v:
        return "空字符"
    if any("\ud800" <= c <= "\udfff" for c in v):
        return "无效的 Unicode"
    if field in ("reason", "note") and not v:
        return "需要填写理由"
    return None


_counter = itertools.count()
_tmp = Path(tempfile.mkdtemp(prefix="fq-roundtrip-"))
runner = CliRunner()


def cli(db: Path, *args: str):  # noqa: ANN201
    return runner.invoke(app, ["--db", str(db), *args])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=texts)
def test_any_text_round_trips_through_the_cli(field: str, value: str) -> None:
    db = _tmp / f"cli-{next(_counter) // 40}.db"  # a fresh file every 40 examples
    want = expected_error(field, value)
    options = {"description": "--text", "address": "--address", "name": "--name", "reason": "--reason"}
    args = ["dispatch", "--phone", "13857512345", "--town", "HZ", "--tag", "B01", "--json"]
    if field == "note":
        args += ["--text=x"]
    else:
        args += ([] if field == "description" else ["--text=x"]) + [f"{options[field]}={value}"]
        if field == "reason":
            args += ["--dept", "SFJ"]
    before = _events(db)
    result = cli(db, *args)
    if field == "note":
        assert result.exit_code == 0, result.output
        order_no = json.loads(result.stdout)["order_no"]
        before = _events(db)
        result = cli(db, "act", order_no, "return", f"--note={value}")
    if want is not None:
        assert result.exit_code == 1, (field, value, result.stdout)
        assert want in result.stderr, (field, value, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
        assert_inert(result.stderr)
        assert _events(db) == before  # nothing stored half-way
        return
    assert result.exit_code == 0, (field, value, result.stderr)
    order_no = order_no if field == "note" else json.loads(result.stdout)["order_no"]
    shown = cli(db, "order", order_no, "--json")
    assert_inert(shown.stdout)
    detail = json.loads(shown.stdout)
    got = {
        "description": detail["call"]["description"],
        "address": detail["call"]["address"],
        "name": detail["call"]["name"],
        "reason": (detail["override"] or {}).get("reason"),
        "note": detail["assignments"][0]["return_reason"],
    }[field]
    assert got == value.strip()
    if field in ("description", "address", "name"):
        conn = sqlite3.connect(db)
        raw = conn.execute(
            f"SELECT {field} FROM calls c JOIN orders o ON o.call_id = c.id WHERE o.order_no = ?", (order_no,)
        ).fetchone()[0]
        conn.close()
        assert raw == value.strip()
        human = cli(db, "order", order_no).stdout
        assert_inert(human)
        assert visible(value.strip(), single_line=field != "description") in human


def _events(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        return conn.execute("SELECT count(*) FROM events").fetchone()[0] if "events" in tables else 0
    finally:
        conn.close()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=texts)
def test_any_text_round_trips_through_the_store(field: str, value: str) -> None:
    db = Database(_tmp / f"store-{next(_counter) // 50}.db")
    try:
        store = OrderStore(db, desk=Desk(name="prop", operator="p"), clock=FixedClock(T0))
        want = expected_error(field, value)
        form = {"phone": "13857512345", "town": "HZ", "description": "x", "name": "", "address": ""}
        kwargs = {}
        if field in ("description", "address", "name"):
            form[field] = value
        elif field == "reason":
            kwargs = {"override_dept": "SFJ", "override_reason": value}
        before = db.last_event_seq()
        try:
            state = store.dispatch(IntakeForm(**form), "B01", **kwargs)
            if field == "note":
                before = db.last_event_seq()
                state = store.act(state.order_no, Intent(Action.RETURN, note=value))
        except ValidationError as exc:
            assert want is not None and want in str(exc), (field, value, str(exc))
            assert db.last_event_seq() == before
            return
        assert want is None, (field, value)
        again = store.order(state.order_no)  # replayed from the stored events
        got = {
            "description": again.call.description,
            "address": again.call.address,
            "name": again.call.name,
            "reason": again.override_reason,
            "note": again.primary.return_reason,
        }[field]
        assert got == value.strip()
    finally:
        db.close()
