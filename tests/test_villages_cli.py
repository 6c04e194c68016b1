"""The grassroots on the command line (issue 16): dispatch --village, order --json with the village and grid,
bad village input, a grassroots desk signing, arriving and feeding back, kpi --by village."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .test_cli import count, fails, ok, run

CALL = ("--phone", "13857512345", "--town", "HZ", "--text", "隔壁邻居天天吵架")


def test_dispatch_with_a_village_and_order_json_show_the_village_and_grid(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    sent = json.loads(ok(db, "dispatch", *CALL, "--tag", "B04", "--village", "HZ-QY", "--address", "岭脚3号", "--json"))
    assert sent["assignees"] == ["TJ-HZ-QY", "GA-HZ"] and sent["informed"] == ["ZZ-HZ"]
    assert (sent["village"], sent["grid"], sent["rule"]) == ("HZ-QY", "HZ-QY-2", "B04/*/*→TJ")  # 岭脚: grid 2
    order = json.loads(ok(db, "order", sent["order_no"], "--json"))
    assert order["village"] == {
        "code": "HZ-QY",
        "name_zh": "前岩村",
        "name_en": "Qianyan Village",
        "kind": "village",
        "town": "HZ",
    }
    assert (order["grid"]["code"], order["grid"]["name_zh"]) == ("HZ-QY-2", "前岩村第二网格")
    assert order["call"]["village"] == "HZ-QY" and order["informed"][0]["name"] == "黄泽镇综治中心"
    assert order["assignments"][0]["assignee_name"] == "前岩村人民调解委员会"
    text = ok(db, "order", sent["order_no"])
    assert "村社：前岩村（HZ-QY）" in text and "B04/*/*→TJ" in text


def test_the_village_is_found_from_the_address_without_village(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    sent = json.loads(ok(db, "dispatch", *CALL, "--tag", "B04", "--address", "白泥坎村祠堂边", "--json"))
    assert (sent["village"], sent["grid"], sent["assignees"][0]) == ("HZ-BNK", "HZ-BNK-2", "TJ-HZ-BNK")
    plain = json.loads(ok(db, "dispatch", *CALL, "--tag", "B04", "--address", "黄泽镇政府对面", "--json"))
    assert (plain["village"], plain["grid"], plain["assignees"][0], plain["rule"]) == (None, None, "ZZ-HZ", None)
    order = json.loads(ok(db, "order", plain["order_no"], "--json"))
    assert order["village"] is None and order["grid"] is None and "village" not in order["call"]


def test_bad_village_input_gets_one_line_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    ok(db, "init")
    assert "黄泽镇没有村（社区）「QQ」" in fails(db, "dispatch", *CALL, "--tag", "B04", "--village", "QQ")
    assert "金桥社区（LS-JQ）属于鹿山街道，不属于黄泽镇" in fails(
        db, "dispatch", *CALL, "--tag", "B04", "--village", "LS-JQ"
    )
    assert "is in Lushan Subdistrict, not in Huangze Town" in fails(
        db, "dispatch", *CALL, "--tag", "B04", "--village", "LS-JQ", lang="en"
    )
    assert "不属于前岩村" in fails(db, "dispatch", *CALL, "--tag", "B04", "--village", "HZ-QY", "--grid", "HZ-BNK-1")
    assert "HZ-QY-1" in fails(db, "dispatch", *CALL, "--tag", "B04", "--grid", "HZ-QY-1")  # a grid needs its village
    for table in ("events", "orders", "calls", "assignments"):
        assert count(db, table) == 0, table


def test_a_grassroots_desk_signs_arrives_and_feeds_back(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", *CALL, "--tag", "B04", "--village", "HZ-QY")
    mine = ("--role", "department", "--dept", "TJ-HZ-QY")
    listed = json.loads(ok(db, "orders", "--role", "department", "--desk-dept", "TJ-HZ-QY", "--json"))["orders"]
    assert [o["order_no"] for o in listed] == [no]
    other = json.loads(ok(db, "orders", "--role", "department", "--desk-dept", "TJ-HZ-BNK", "--json"))["orders"]
    assert other == []
    refused = fails(db, "act", no, "sign", "--role", "department", "--dept", "TJ-HZ-BNK")  # another committee
    assert no in refused
    assert "TJ-QQ" in fails(db, "act", no, "sign", "--role", "department", "--dept", "TJ-QQ")  # unknown unit
    ok(db, "act", no, "sign", *mine)
    ok(db, "act", no, "arrive", *mine)
    state = json.loads(
        ok(db, "act", no, "feedback", *mine, "--result", "resolved", "--note", "调委会到场调解，双方和解", "--json")
    )
    committee = next(a for a in state["assignments"] if a["assignee"] == "TJ-HZ-QY")
    assert committee["status"] == "fed_back" and committee["result"] == "resolved"
    assert committee["signed_at"] and committee["arrived_at"]
    police = next(a for a in state["assignments"] if a["assignee"] == "GA-HZ")
    assert police["status"] == "dispatched"  # the station's half is its own
    conn = sqlite3.connect(db)
    kinds = [r[0] for r in conn.execute("SELECT kind FROM events ORDER BY seq")]
    conn.close()
    assert kinds == ["dispatch", "sign", "arrive", "feedback"]
    assert json.loads(ok(db, "check", "--json"))["ok"] is True
    # Graded by the same KPIs: the committee is a row of the department view, its village a row of the village view.
    rows = {r["key"]: r for r in json.loads(ok(db, "kpi", "--json"))["rows"]}
    assert rows["TJ-HZ-QY"]["name"] == "前岩村人民调解委员会" and rows["TJ-HZ-QY"]["sign_rate"] == 1.0
    by_village = json.loads(ok(db, "kpi", "--by", "village", "--json"))
    assert [r["key"] for r in by_village["rows"]] == ["HZ-QY"] and by_village["rows"][0]["name"] == "前岩村（黄泽镇）"
    assert json.loads(ok(db, "kpi", "--dept", "TJ", "--json"))["total"]["dispatched"] == 1


def test_taxonomy_lists_the_villages(tmp_path: Path) -> None:
    data = json.loads(ok(tmp_path / "x.db", "taxonomy", "--villages", "--town", "hz", "--json"))
    assert [v["code"] for v in data["villages"]][:2] == ["HZ-HZ", "HZ-QY"]
    assert {o["code"] for o in data["organisations"]} >= {"HZ-PA", "HZ-QYXF", "SZ-LT"}
    assert any(r["tag"] == "B04" for r in data["rules"])
    assert "前岩村" in run(tmp_path / "x.db", "taxonomy", "--villages").stdout


def test_the_informed_centre_sees_the_order_and_may_note_but_not_sign(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, "dispatch", *CALL, "--tag", "B04", "--village", "HZ-QY", "--single")  # no police station share
    centre = ("--role", "township", "--desk-town", "HZ")
    assert [o["order_no"] for o in json.loads(ok(db, "orders", *centre, "--json"))["orders"]] == [no]
    others = json.loads(ok(db, "orders", "--role", "township", "--desk-town", "GLL", "--json"))["orders"]
    assert others == []
    assert no in fails(db, "act", no, "sign", "--role", "township", "--town", "HZ")  # signing is the committee's
    ok(db, "note", no, "镇综治中心已知悉，请调委会先行调解", "--role", "township", "--town", "HZ")
    assert count(db, "events") == 2
