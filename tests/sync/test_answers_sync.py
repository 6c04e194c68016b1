"""The knowledge base on the server, synced to desks like reference data (issue 17 item 3): the server serves its
reference folder's answers.toml and announces its SHA-256 in every hello; a desk whose copy differs fetches it,
checks it and uses it for the intake, `answer` and the KPI figures; a bad copy is refused with one line and the
old one stays in use; an unchanged file is not fetched again."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from fengqiao.models.answers import digest
from fengqiao.models.reference import load_reference
from fengqiao.store.governance import GovernanceStore
from fengqiao.store.kb import answers_in_use, synced

from .hub import Hub

EXTRA = """
[[answer]]
id = "KB900"
tags = ["C03"]
title = "黄泽镇计划停水"
text = "12月3日 8:00-17:00 黄泽镇区管网检修停水，请提前储水；提前恢复会短信通知。"
source = "县水务集团停水公告〔2026〕41号"
owner = "SW"
expires = "2027-01-31"
keywords = ["停水", "没水", "水停了"]
"""


def county_folder(tmp: Path, extra: str) -> Path:
    folder = tmp / "county"
    shutil.copytree(Path(str(resources.files("fengqiao.fixtures"))), folder, ignore=shutil.ignore_patterns("*.py"))
    with (folder / "answers.toml").open("a", encoding="utf-8") as f:
        f.write(extra)
    return folder


def test_the_servers_knowledge_base_reaches_the_desks_and_is_used(hub: Hub, tmp_path: Path) -> None:
    folder = county_folder(tmp_path, EXTRA)
    hub.server.ref = load_reference(folder)
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    before = {a.id for a in answers_in_use(ct.db, hub.ref)}
    assert "KB900" not in before
    report = ct.sync()
    assert report.answers and not report.problems
    got = synced(ct.db)
    assert got is not None and got.sha256 == digest((folder / "answers.toml").read_text(encoding="utf-8"))
    assert {a.id for a in answers_in_use(ct.db, hub.ref)} == before | {"KB900"}
    # The desk answers a call with the server's answer, though its own reference folder has no such entry.
    gov = GovernanceStore(ct.db, ref=hub.ref, desk=ct.desk, clock=hub.clock)
    from fengqiao.models.intake import IntakeForm

    done = gov.answer_call(IntakeForm(phone="13857500001", town="HZ", description="家里怎么停水了"), "KB900")
    assert done.answer_id == "KB900"
    # Unchanged on the server: not fetched again.
    assert ct.sync().answers is False


def test_a_copy_this_desk_cannot_check_is_refused_and_the_old_one_stays(hub: Hub, tmp_path: Path) -> None:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    hub.server.ref = load_reference(county_folder(tmp_path, EXTRA))
    assert ct.sync().answers
    kept = synced(ct.db)
    # The county adds a tag (D16) and an answer for it; this desk's reference data is older and has no D16.
    later = tmp_path / "later"
    shutil.copytree(tmp_path / "county", later)
    with (later / "taxonomy.csv").open("a", encoding="utf-8") as f:
        f.write("D16,D,医保异地备案咨询,Out-of-area medical insurance enquiries,YBJ,single,no,30,,24,医保|异地,no\n")
    with (later / "answers.toml").open("a", encoding="utf-8") as f:
        f.write(EXTRA.replace("KB900", "KB901").replace('["C03"]', '["D16"]'))
    hub.server.ref = load_reference(later)
    report = ct.sync()
    assert report.answers is False
    assert any("D16" in p for p in report.problems), report.problems
    assert synced(ct.db) == kept
    assert "KB900" in {a.id for a in answers_in_use(ct.db, hub.ref)}


def test_a_server_without_a_knowledge_base_changes_nothing(hub: Hub, tmp_path: Path) -> None:
    folder = county_folder(tmp_path, "")
    (folder / "answers.toml").unlink()
    hub.server.ref = load_reference(folder)
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    report = ct.sync()
    assert report.answers is False and not report.problems
    assert synced(ct.db) is None
    assert {a.id for a in answers_in_use(ct.db, hub.ref)}  # the packaged knowledge base still serves this desk
