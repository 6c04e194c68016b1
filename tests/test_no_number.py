"""Phones as people type them: full-width input (NFKC) everywhere a number is typed, and calls without a number.

A call without a number (withheld, or taken on paper) is an explicit choice (Ctrl+O on the intake form,
``--no-number`` on the command line), is stored with an empty phone, shown as 无号码, and left out of the
repeat-call rate (numerator and denominator) and of the frequent callers.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Input
from typer.testing import CliRunner

from fengqiao.console.cli import app as cli
from fengqiao.models.errors import ValidationError
from fengqiao.models.intake import Draft, IntakeForm, validate_intake
from fengqiao.models.kpi import Counts, rates
from fengqiao.models.phone import mask_phone, normalize_phone
from fengqiao.models.privacy import phone_view
from fengqiao.models.roles import Desk
from fengqiao.store.db import Database
from fengqiao.store.kpi import KpiStore
from fengqiao.store.orders import OrderStore

from .intake_helpers import make_app, paste, settle, type_text

runner = CliRunner()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１３８５７５１２３４５", "13857512345"),
        ("１３８　５７５１　２３４５", "13857512345"),  # ideographic spaces
        ("＋８６ １３８－５７５１－２３４５", "13857512345"),
        ("（0575）83012345", "0575-83012345"),
        ("（０５７５）８３０１２３４５", "0575-83012345"),
        ("８３０１２３４５", "0575-83012345"),
    ],
)
def test_full_width_numbers_are_read_as_typed(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_no_number_is_explicit() -> None:
    from fengqiao.models.reference import default_reference

    ref = default_reference()
    with pytest.raises(ValidationError):  # an empty phone without the choice is still an error
        validate_intake(ref, IntakeForm(phone="", town="LS", description="x"))
    clean = validate_intake(ref, IntakeForm(phone="", town="LS", description="x", no_number=True))
    assert clean.phone == "" and clean.no_number
    with pytest.raises(ValidationError) as err:
        validate_intake(ref, IntakeForm(phone="138", town="LS", description="x", no_number=True))
    assert err.value.field == "phone"
    assert mask_phone("") == "无号码" and phone_view(Desk(name="d", role="call_taker"))("") == "无号码"
    assert Draft.from_json(Draft(no_number=True).to_json()).no_number
    assert not Draft(no_number=True).is_empty()


def test_cli_takes_full_width_phones_and_no_number(tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    base = ["--db", str(db), "dispatch", "--town", "LS", "--tag", "B02", "--text", "门禁停了"]
    first = runner.invoke(cli, [*base, "--phone", "１３８５７５１２３４５"])
    assert first.exit_code == 0, first.stderr
    none = runner.invoke(cli, [*base, "--no-number"])
    assert none.exit_code == 0, none.stderr
    missing = runner.invoke(cli, base)
    assert missing.exit_code != 0 and "号码" in missing.stderr
    with Database(db) as store, store.read() as conn:
        phones = [r[0] for r in conn.exec_driver_sql("SELECT phone FROM orders ORDER BY call_at")]
    assert phones == ["13857512345", ""]
    shown = runner.invoke(cli, ["--db", str(db), "order", none.stdout.split()[0]])
    assert shown.exit_code == 0 and "无号码" in shown.stdout


def test_calls_without_a_number_are_left_out_of_the_repeat_rate(db: Database, ref, clock) -> None:  # noqa: ANN001
    store = OrderStore(db, ref=ref, clock=clock)
    store.dispatch(IntakeForm(phone="", town="LS", description="门禁停了", no_number=True), "B02")
    clock.advance(minutes=30)  # a second call without a number: not a repeat of the first
    second = store.dispatch(IntakeForm(phone="", town="LS", description="又停了", no_number=True), "B02")
    assert second.repeat_of is None
    store.dispatch(IntakeForm(phone="13857512345", town="LS", description="门禁停了"), "B02")
    clock.advance(minutes=30)
    store.dispatch(IntakeForm(phone="13857512345", town="LS", description="还是停"), "B02")
    clock.advance(hours=1)
    kpi = KpiStore(db, ref=ref, clock=clock)
    total = kpi.table(kpi_window(clock), "overall").total.to_json()
    assert (total["repeat_orders"], total["repeat_base"], total["orders"]) == (1, 2, 4)
    assert total["repeat_rate"] == 0.5
    callers = kpi.frequent(clock() - timedelta(days=1), clock(), by="phone", limit=10)
    assert all(f.key for f in callers)  # no "caller" made of calls without a number


def kpi_window(clock):  # noqa: ANN001, ANN201
    from fengqiao.models.kpi import last_days, local_date

    return last_days(local_date(clock()), 1)


def test_rates_use_the_orders_with_a_number() -> None:
    assert rates(Counts(orders=10, repeat_base=4, repeat_orders=1))["repeat_rate"] == 0.25
    assert rates(Counts(orders=3, repeat_base=0))["repeat_rate"] is None


async def test_ctrl_o_dispatches_a_call_without_a_number(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        screen = app.screen
        phone = screen.query_one("#phone", Input)
        assert phone.disabled and app.focused is screen.query_one("#town")
        assert "无号码" in str(screen.query_one("#msg").render())
        await type_text(pilot, "ls")
        await pilot.press("enter")
        await paste(pilot, "金桂苑3幢")
        await pilot.press("enter")
        await paste(pilot, "小区物业把门禁停了，业主进不了门")
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        assert "无号码" in app.screen.summary
        await pilot.press("enter")
        await settle(pilot)
        assert not phone.disabled and phone.value == ""  # the next call starts with a number again
    with db.read() as conn:
        (row,) = conn.exec_driver_sql("SELECT phone, repeat_of FROM orders").all()
    assert tuple(row) == ("", None)


async def test_a_full_width_number_typed_in_the_form(db, ref, clock) -> None:  # noqa: ANN001
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await paste(pilot, "１３８５７５１２３４５")
        await pilot.press("enter")
        await settle(pilot)
        assert "13857512345" in str(app.screen.query_one("#msg").render())
        assert app.focused is app.screen.query_one("#town")
