"""Issue 11 item 7: synced copies of other desks' chains are anchored to the server's signatures.

Before, a rewritten event with its hash (and the links after it) recomputed passed `check` on every desk that
held a copy: nothing outside the file vouched for the hashes. The server now signs every event it takes
(store/signing.py), the desk keeps the signatures, and `check` verifies the newest event of every run of a
desk's events it holds. These tests rewrite events the way someone with the file would and show that only the
signatures see it (the other checks stay clean), and that the key itself is compared at every sync.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fengqiao.models.events import hash_fields
from fengqiao.store.audit import verify
from fengqiao.store.signing import Verifier, fingerprint
from fengqiao.store.sync import SyncError
from fengqiao.store.sync.log import META_SERVER_KEY, DeskLog

from .hub import FORM, FORM_HZ, Hub, HubDesk

COLS = "id, order_id, assignment_id, kind, actor, desk, desk_seq, event_at, recorded_at, payload, prev_hash, hash"


def _rewrite(d: HubDesk, desk: str, seq: int, **changes: str) -> None:
    """Change event ``seq`` of ``desk`` in ``d``'s file, recompute its hash and relink every later event of that
    desk the file holds (and the head, for the desk's own chain): what someone covering their tracks would do."""
    with d.db.write() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT {COLS} FROM events WHERE desk = ? AND desk_seq >= ? ORDER BY desk_seq", (desk, seq)
        ).all()
        conn.exec_driver_sql("DROP TRIGGER events_append_only_update")
        prev: str | None = None
        last = None
        for r in rows:
            f = dict(r._mapping)
            if f["desk_seq"] == seq:
                f.update(changes)
            elif prev is None or f["desk_seq"] != last + 1:
                break
            if prev is not None:
                f["prev_hash"] = prev
            new = hash_fields(**{k: v for k, v in f.items() if k != "hash"})
            conn.exec_driver_sql(
                "UPDATE events SET actor = ?, payload = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (f["actor"], f["payload"], f["prev_hash"], new, f["id"]),
            )
            prev, last = new, f["desk_seq"]
        conn.exec_driver_sql("UPDATE desk_heads SET hash = ? WHERE desk = ? AND seq = ?", (prev, desk, last))
        conn.exec_driver_sql(
            "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events\nBEGIN\n"
            "    SELECT RAISE(ABORT, 'events are append-only: an event cannot be changed');\nEND"
        )


def _world(hub: Hub) -> tuple[HubDesk, HubDesk]:
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    sup = hub.add("SUP", "supervisor")
    for _ in range(3):
        ct.store.dispatch(FORM, "B01")
        hub.clock.advance(minutes=1)
    hub.sync_all()
    report = verify(sup.db)
    assert report.ok and report.anchor is not None and report.anchor.verified == 1, report.faults
    return ct, sup


def _kinds(d: HubDesk) -> set[str]:
    return {f.kind for f in verify(d.db).faults}


def test_the_server_signs_the_newest_event_of_each_run_and_the_desk_keeps_it(hub: Hub) -> None:
    """Protocol 2 signs where `check` looks: the newest event of each run of a desk's chain in what a desk
    receives (a pull), and the newest event a push took (its answer), not every event."""
    ct, sup = _world(hub)
    key = hub.server.public_key()
    assert sup.rows("SELECT value FROM meta WHERE key = ?", META_SERVER_KEY) == [(key,)]
    sql = (
        "SELECT e.desk, e.desk_seq, e.id, e.hash, s.sig FROM events e JOIN event_state s ON s.event_id = e.id "
        "ORDER BY e.desk_seq"
    )
    for d in (sup, ct):  # one pull, one push: CT1's events 1-3 are one run on both
        rows = d.rows(sql)
        assert [r[1] for r in rows if r[4] is not None] == [3], d.name
        assert all(Verifier(key).valid(sig, *rest) for *rest, sig in rows if sig is not None)
        assert not Verifier(key).valid(rows[-1][4], *rows[0][:4])  # a signature binds its own event


def test_runs_a_desk_receives_page_by_page_are_each_anchored(sqlite_hub: Hub) -> None:
    """Pages cut a desk's chain anywhere, and a desk that sees only some orders holds runs with holes: every run
    the desk ends up holding has a signed newest event, and a rewrite inside any run is found."""
    hub = sqlite_hub
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    town = hub.add("HZ", "township", town="HZ")
    for form in (FORM_HZ, FORM, FORM_HZ, FORM_HZ, FORM, FORM_HZ):  # SHH's orders are not the HZ centre's
        ct.store.dispatch(form, "B01")
        hub.clock.advance(minutes=1)
    ct.sync()
    town.sync(pull_limit=2)
    assert town.rows("SELECT desk_seq FROM events WHERE desk = 'CT1' ORDER BY desk_seq") == [(1,), (3,), (4,), (6,)]
    report = verify(town.db)
    assert report.ok and report.anchor is not None and report.anchor.verified == 3, report.faults
    _rewrite(town, "CT1", 3, actor="别人")
    assert _kinds(town) == {"bad_sig"}


def test_a_signature_made_for_one_pull_is_kept_for_the_next(sqlite_hub: Hub) -> None:
    hub = sqlite_hub
    ct, sup = _world(hub)
    other = hub.add("SUP2", "supervisor")
    with hub.server.read() as conn:
        kept = dict(conn.exec_driver_sql("SELECT seq, sig FROM srv_sigs").all())
    assert list(kept) == [3]  # the push's newest event (the pull found it there)
    hub.server._signer = None  # a wrong key now would give other signatures: the kept ones must be used
    with hub.server.write() as conn:
        conn.exec_driver_sql("UPDATE srv_meta SET value = ? WHERE key = 'sign_key'", ("11" * 32,))
    other.sync()
    assert other.rows("SELECT s.sig FROM event_state s WHERE s.sig IS NOT NULL") == [(kept[3],)]
    del ct, sup


def test_a_rewritten_last_event_with_its_hash_recomputed_is_found(sqlite_hub: Hub) -> None:
    _ct, sup = _world(sqlite_hub)
    _rewrite(sup, "CT1", 3, actor="别人")
    assert _kinds(sup) == {"bad_sig"}  # hashes, links, projection: all consistent; only the signature says no


def test_a_rewritten_earlier_event_relinked_to_the_end_is_found(sqlite_hub: Hub) -> None:
    _ct, sup = _world(sqlite_hub)
    _rewrite(sup, "CT1", 1, actor="别人")
    assert _kinds(sup) == {"bad_sig"}


def test_a_rewritten_own_event_is_found_through_the_push_answers(sqlite_hub: Hub) -> None:
    ct, _sup = _world(sqlite_hub)
    _rewrite(ct, "CT1", 2, actor="别人")
    assert _kinds(ct) == {"bad_sig"}


def test_a_signature_removed_is_a_fault(sqlite_hub: Hub) -> None:
    _ct, sup = _world(sqlite_hub)
    _rewrite(sup, "CT1", 3, actor="别人")
    with sup.db.write() as conn:
        conn.exec_driver_sql("UPDATE event_state SET sig = NULL")
    assert _kinds(sup) == {"unsigned"}


def test_a_replaced_key_stops_sync_and_an_operator_can_accept_a_real_change(sqlite_hub: Hub) -> None:
    _ct, sup = _world(sqlite_hub)
    other = "ab" * 32
    with sup.db.write() as conn:  # someone re-signs with their own key and puts it in the file
        conn.exec_driver_sql("UPDATE meta SET value = ? WHERE key = ?", (other, META_SERVER_KEY))
    with pytest.raises(SyncError) as err:
        sup.sync()
    assert fingerprint(other) in str(err.value) and fingerprint(sqlite_hub.server.public_key()) in str(err.value)
    assert "bad_sig" in _kinds(sup)  # the file's own key does not vouch for the server's signatures either
    DeskLog(sup.db).forget_server_key()  # what `sync --accept-server-key` does after the fingerprint matched
    sup.sync()
    assert verify(sup.db).ok


def test_a_desk_synced_before_signatures_fetches_them_again(sqlite_hub: Hub) -> None:
    _ct, sup = _world(sqlite_hub)
    with sup.db.write() as conn:  # as a desk upgraded from the version without signatures looks
        conn.exec_driver_sql("UPDATE event_state SET sig = NULL")
        conn.exec_driver_sql("DELETE FROM meta WHERE key = ?", (META_SERVER_KEY,))
    report = verify(sup.db)
    assert report.ok and report.anchor is not None and report.anchor.unanchored == 1
    assert [n.kind for n in report.notes] == ["unanchored"]
    sup.sync()
    signed = "SELECT e.desk_seq FROM events e JOIN event_state s ON s.event_id = e.id WHERE s.sig IS NOT NULL"
    assert sup.rows(signed) == [(3,)]  # the run's newest event: what check verifies
    report = verify(sup.db)
    assert report.ok and report.anchor is not None and report.anchor.verified == 1


def test_while_signatures_are_fetched_a_missing_one_is_a_note(sqlite_hub: Hub) -> None:
    _ct, sup = _world(sqlite_hub)
    with sup.db.write() as conn:
        conn.exec_driver_sql("UPDATE event_state SET sig = NULL")
        conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('sync.sigs_pending', '1')")
    report = verify(sup.db)
    assert report.ok and [n.kind for n in report.notes] == ["sigs_pending"]


def test_runs_broken_by_a_refused_event_are_each_anchored(sqlite_hub: Hub) -> None:
    """A refused event leaves a hole in its desk's chain on every other desk: each run is verified alone."""
    hub = sqlite_hub
    ct = hub.add("CT1", "call_taker", prefix="SZ")
    sup = hub.add("SUP", "supervisor")
    ct.store.dispatch(FORM, "B01")
    hub.sync_all()
    ct.forge("no-such-order-" + "0" * 20, "dispatch", {"order_no": "XX-1", "town": "SHH"})  # refused: prefix
    hub.clock.advance(minutes=1)
    ct.store.dispatch(FORM, "B01")
    hub.sync_all()
    assert sup.rows("SELECT desk_seq FROM events WHERE desk = 'CT1' ORDER BY desk_seq") == [(1,), (3,)]
    report = verify(sup.db)
    assert report.ok and report.anchor is not None and report.anchor.verified == 2
    _rewrite(sup, "CT1", 1, actor="别人")
    assert _kinds(sup) == {"bad_sig"}


def test_the_cli_accepts_a_new_key_only_with_its_fingerprint(
    sqlite_hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fengqiao sync --once` stops on a changed key and names both fingerprints; `--accept-server-key` with a
    wrong fingerprint changes nothing; with the server's, the desk keeps the new key and syncs."""
    import fengqiao.store.sync as sync_pkg
    from fengqiao.console.cli import app

    hub = sqlite_hub
    _ct, sup = _world(hub)
    real = sync_pkg.HttpTransport

    class Local(real):  # the CLI's transport, talking to the in-process server
        def __init__(self, _base: str | None, token: str, **_kw: object) -> None:
            super().__init__(None, token, client=hub.http)

        def close(self) -> None:  # the hub's client lives on
            pass

    monkeypatch.setattr(sync_pkg, "HttpTransport", Local)
    config = tmp_path / "sup.toml"
    config.write_text(
        f'[desk]\nname = "SUP"\nrole = "supervisor"\n\n[sync]\nserver = "http://hub"\ntoken = "{sup.token}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("FENGQIAO_CONFIG", str(config))
    other = "cd" * 32
    with sup.db.write() as conn:
        conn.exec_driver_sql("UPDATE meta SET value = ? WHERE key = ?", (other, META_SERVER_KEY))
    now = fingerprint(hub.server.public_key())
    runner = CliRunner()
    db = str(sup.db.path)

    changed = runner.invoke(app, ["--db", db, "sync", "--once"])
    assert changed.exit_code != 0 and now in changed.output and fingerprint(other) in changed.output
    assert "Traceback" not in changed.output
    wrong = runner.invoke(app, ["--db", db, "sync", "--once", "--accept-server-key", fingerprint(other)])
    assert wrong.exit_code != 0 and sup.rows("SELECT value FROM meta WHERE key = ?", META_SERVER_KEY) == [(other,)]
    right = runner.invoke(app, ["--db", db, "sync", "--once", "--accept-server-key", now])
    assert right.exit_code == 0, right.output
    assert sup.rows("SELECT value FROM meta WHERE key = ?", META_SERVER_KEY) == [(hub.server.public_key(),)]
