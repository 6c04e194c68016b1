"""The intake's address field completes the chosen town's villages and communities (issue 16, item 2)."""

from __future__ import annotations

import pytest

from fengqiao.models.finder import village_finder
from fengqiao.screens.address_field import AddressInput
from fengqiao.screens.town_field import TownHint

from .intake_helpers import make_app, paste, settle, type_text


def rows(db, sql: str) -> list:
    with db.read() as conn:
        return conn.exec_driver_sql(sql).fetchall()


@pytest.mark.parametrize("typed", ["qy", "qianyan", "前岩"])
async def test_the_address_completes_a_village_by_chinese_pinyin_or_initials(db, ref, clock, typed: str) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_text(pilot, "13857512345")
        await pilot.press("enter")
        await type_text(pilot, "hz")
        await pilot.press("enter")
        address = app.screen.query_one(AddressInput)
        assert app.focused is address
        await type_text(pilot, typed)
        hint = str(app.screen.query_one(TownHint).render())
        assert "前岩村" in hint and address.village == ""
        await pilot.press("enter")  # takes the highlighted village and stays for the rest of the address
        await pilot.pause()
        assert app.focused is address and address.value == "前岩村" and address.village == "HZ-QY"
        assert "✓ HZ · 前岩村" in str(app.screen.query_one(TownHint).render())
        await type_text(pilot, "祠堂边5号")
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is not address  # on to the caller's words
        await paste(pilot, "隔壁邻居天天吵架，吵到半夜")
        app.screen.set_tag("B04")
        await pilot.press("f9")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
    (order,) = rows(db, "SELECT village, grid, primary_assignee, police_assignee FROM orders")
    grid = [g for g in ref.villages["HZ-QY"].grids if any(w in "前岩村祠堂边5号" for w in ref.grids[g].area)]
    assert tuple(order) == ("HZ-QY", (grid or ["HZ-QY-1"])[0], "TJ-HZ-QY", "GA-HZ")


async def test_an_address_with_a_number_is_left_alone_and_another_town_has_other_villages(db, ref, clock) -> None:
    app = make_app(db, ref, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_text(pilot, "13857512345")
        await pilot.press("enter")
        await type_text(pilot, "gulai")  # 谷来镇: 前岩村 is not one of its villages
        await pilot.press("enter")
        address = app.screen.query_one(AddressInput)
        await type_text(pilot, "qy")
        assert "前岩村" not in str(app.screen.query_one(TownHint).render())
        await type_text(pilot, "12")  # a house number: no completion, Enter moves on
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is not address and address.value == "qy12" and address.village == ""


def test_village_finder_ranks_initials_pinyin_and_chinese(ref) -> None:
    finder = village_finder(ref, "HZ")
    for query in ("qy", "qianyan", "前岩", "HZ-QY", "Qianyan"):
        assert finder.best(query).code == "HZ-QY", query
    assert finder.best("hz").code == "HZ-HZ"  # the town's own initials find its community, not every code
    assert [e.code for e, _ in village_finder(ref, "GLL").search("qy")] == []


@pytest.mark.parametrize(("size", "lang"), [((80, 24), "zh"), ((120, 40), "en")], ids=["80x24-zh", "120x40-en"])
def test_dispatch_preview_of_a_grassroots_route(snap_compare, db, ref, size: tuple[int, int], lang: str) -> None:
    """B04 in 前岩村: the village's mediation committee and the police station, the rule that fired, the centre
    informed, the village and its grid worker."""
    from fengqiao.models.clock import FixedClock

    from .conftest import T0

    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await type_text(pilot, "13857512345")
        await pilot.press("enter")
        await type_text(pilot, "hz")
        await pilot.press("enter")
        await paste(pilot, "前岩村祠堂边5号")
        await pilot.press("enter")
        await paste(pilot, "隔壁邻居天天吵架，吵到半夜")
        pilot.app.screen.set_tag("B04")
        await pilot.press("f9")
        await settle(pilot)

    app = make_app(db, ref, FixedClock(T0), lang=lang)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_a_grassroots_desk_sees_its_own_orders_on_the_console_and_signs(tmp_path) -> None:
    """A console desk of a village's mediation committee (role department, dept TJ-HZ-QY) sees its assignment
    only, and signs and arrives from the board like any department."""
    from fengqiao.models.intake import IntakeForm
    from fengqiao.models.roles import make_desk
    from fengqiao.store.orders import OrderStore

    from .test_board_ui import board_numbers, build_scenario, event_kinds, focus, offered, open_board
    from .test_board_ui import make_app as board_app
    from .test_board_ui import settle as board_settle

    scene = build_scenario(tmp_path / "board.db")
    taker = OrderStore(scene.db, ref=scene.ref, desk=make_desk(scene.ref, "110-1", "call_taker"), clock=scene.clock)
    mine = taker.dispatch(
        IntakeForm(phone="13800000009", town="HZ", description="邻居把垃圾堆我家门口", address="前岩村岭脚8号"), "B04"
    )
    assert mine.primary.assignee == "TJ-HZ-QY"
    try:
        app = board_app(scene, "department", dept="TJ-HZ-QY")
        async with app.run_test(size=(80, 24)) as pilot:
            board = await open_board(pilot)
            assert board_numbers(board) == [mine.order_no]
            await focus(pilot, board, mine.order_no)
            assert {"order.sign", "order.return"} <= offered(board)
            await pilot.press("s")
            await board_settle(pilot)
            await pilot.press("a")
            await board_settle(pilot)
            from fengqiao.screens.detail import DetailScreen

            app.push_screen(DetailScreen(mine.order_no))
            await board_settle(pilot)
            shown = str(app.screen.query_one("#detail-call").render())
            assert "村社：前岩村 · 前岩村第二网格" in shown and "B04/*/*→TJ" in shown and "告知 黄泽镇综治中心" in shown
        assert event_kinds(scene, mine.order_no) == ["dispatch", "sign", "arrive"]
    finally:
        scene.db.close()
