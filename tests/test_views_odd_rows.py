"""Views stay up on rows this desk's reference data does not know (stored before validation, or by an older desk)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from fengqiao.console.cli import app
from fengqiao.models.intake import IntakeForm


def test_orders_and_order_show_an_unknown_tag_and_town_instead_of_failing(store, db, db_path) -> None:
    order = store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="小区楼下烧烤油烟"), "C15")
    with db.write() as conn:  # what an old server could have handed out before events were validated
        conn.exec_driver_sql("UPDATE orders SET tag = 'Z99', town = 'XX' WHERE id = ?", (order.id,))
    runner = CliRunner()
    listing = runner.invoke(app, ["--db", str(db_path), "orders"])
    assert listing.exit_code == 0, listing.output
    assert "Z99（未知代码）" in listing.stdout
    assert "XX（未知代码）" in listing.stdout
    as_json = runner.invoke(app, ["--db", str(db_path), "orders", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["orders"][0]["tag"] == "Z99"
    one = runner.invoke(app, ["--db", str(db_path), "order", order.order_no])
    assert one.exit_code == 0, one.output
