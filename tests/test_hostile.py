"""Hostile and broken input at the CLI and the store: one clear message each, nothing stored half-way, and
caller text stored exactly and shown literally (never interpreted by the terminal)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len

from fengqiao.console.cli import ERROR_LIMIT
from fengqiao.console.textout import dumps, table
from fengqiao.models.errors import StoreError, ValidationError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.models.text import visible
from fengqiao.store.audit import verify
from fengqiao.store.db import Database
from fengqiao.store.orders import OrderStore
from tests.test_cli import count, fails, ok, run

HOSTILE = [
    "[bold red]紧急[/bold red] [link=https://evil.example]点这里[/link]",
    "\x1b[2J\x1b[H\x1b[31m清屏\x1b[0m",
    "\x1b]0;窗口标题\x07 \x1b]8;;https://e.example\x1b\\链接\x1b]8;;\x1b\\",
    "\x9b31m C1 \x9d0;t\x9c",
    "\u202eevil\u202d bidi \u2066x\u2069",
    "响铃\x07 退格\x08 删除\x7f 换页\x0c尾",
    "😀🇨🇳👨‍👩‍👧❤️ 𠀀𪚥𰻞 é",
    "{order_no} %s {0} ${HOME} $(id) `id`",
    "<script>x</script> '; DROP TABLE orders; --",
]
# What must never reach the terminal raw: ESC, BEL, C1 controls (U+009B is a one-byte CSI), DEL, bidi controls.
RAW = ["\x1b", "\x07", "\x08", "\x7f", "\x9b", "\x9c", "\x9d", "\u202e", "\u202d", "\u2066", "\u2069"]


def assert_inert(output: str) -> None:
    leaked = [f"U+{ord(c):04X}" for c in RAW if c in output]
    assert not leaked, f"raw control characters reached the output: {leaked}"


def dispatch_args(**fields: str) -> list[str]:
    base = {"--phone": "13857512345", "--town": "HZ", "--tag": "B01", "--text": "买到假货"}
    base.update({f"--{k}": v for k, v in fields.items()})
    return ["dispatch", *[f"{k}={v}" for k, v in base.items()]]


def stored(db: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


# ---- markup and escape sequences: stored exactly, shown literally ---------------------------------------


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_markup_and_escapes_in_every_field_are_stored_exactly_and_shown_literally(tmp_path: Path, text: str) -> None:
    db = tmp_path / "x.db"
    no = ok(db, *dispatch_args(text=text, address=text, name=text[:50], dept="SFJ", reason=text))
    want = text.strip()
    call = stored(db, "SELECT description, address, name FROM calls")[0]
    assert call == (want, want, text[:50].strip())
    assert stored(db, "SELECT override_reason FROM orders") == [(want,)]
    ok(db, "act", no, "return", f"--note={text}")
    human = ok(db, "order", no)
    assert_inert(human)
    assert visible(want) in human  # the description, made visible but otherwise as typed
    if "[bold red]" in text:
        assert "[bold red]紧急[/bold red]" in human
    if "\x1b" in text:
        assert "␛" in human
    raw_json = ok(db, "order", no, "--json")
    assert_inert(raw_json)
    detail = json.loads(raw_json)
    assert detail["call"]["description"] == want and detail["call"]["address"] == want
    assert detail["override"]["reason"] == want
    assert detail["assignments"][0]["return_reason"] == want
    audit = ok(db, "audit", no)
    assert_inert(audit)
    assert_inert(ok(db, "audit", no, "--json"))
    assert json.loads(ok(db, "audit", no, "--json"))["events"][0]["payload"]["call"]["description"] == want


def test_json_output_escapes_every_control_character_and_keeps_the_value() -> None:
    for text in HOSTILE:
        out = dumps({"t": text})
        assert_inert(out)
        assert json.loads(out) == {"t": text}


def test_visible_output_is_inert_and_single_line_stays_one_line() -> None:
    for text in [*HOSTILE, "a\nb\u2028c\u2029d\re\tf", "\ud800 lone surrogate"]:
        shown = visible(text, single_line=True)
        assert_inert(shown)
        assert "\n" not in shown and "\u2028" not in shown and "\r" not in shown
        shown.encode("utf-8")  # a lone surrogate is shown as \ud800 text, never written raw


# ---- widths: emoji and rare CJK keep the CLI tables aligned ----------------------------------------------

WIDE = [
    "😀😀😀😀😀😀",
    "👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧",
    "❤️❤️❤️❤️❤️❤️❤️",
    "𠀀𪚥𰻞𠀀𪚥𰻞𠀀",
    "é" * 12,
    "ｱｲｳｴｵ半角",
    "🇨🇳🇨🇳🇨🇳🇨🇳",
    "中文English混排",
    "\x1b[31m红\x1b[0m",
    "\u202e反转\u202c",
    "a\tb\nc",
    "",
    "x",
]


@pytest.mark.parametrize("max_width", [5, 8, 11, 40])
def test_table_columns_stay_aligned_with_emoji_and_rare_cjk(max_width: int) -> None:
    rows = [[a, b, "|"] for a in WIDE for b in WIDE[:4]]
    out = table(["名称", "内容", "|"], rows, max_width=max_width)
    lines = [line for line in out.splitlines() if "|" in line]
    assert len(lines) == len(rows) + 1
    offsets = {cell_len(line[: line.index("|")]) for line in lines}
    assert len(offsets) == 1, out
    assert_inert(out)


def test_check_table_stays_aligned_with_hostile_desk_names(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    desks = ["席位😀𠀀", "👨‍👩‍👧-desk", "[b]markup[/b]", "plain"]
    for desk in desks:
        ok(db, *dispatch_args(), "--desk", desk)
    assert "U+001B" in fails(db, *dispatch_args(), "--desk", "\x1b[31mred")  # refused (issue 11), not stored
    out = ok(db, "check")
    assert_inert(out)
    rows = [line for line in out.splitlines() if "本库写入" in line]
    assert len(rows) == len(desks)
    assert len({cell_len(line[: line.index("本库写入")]) for line in rows}) == 1, out


# ---- NUL, broken Unicode, 100 KB: refused with one line, nothing stored ----------------------------------

TEXT_FIELDS = ["text", "address", "name", "reason", "note"]


def _refused(db: Path, field: str, value: str) -> str:
    if field == "note":
        no = ok(db, *dispatch_args())
        before = count(db, "events")
        err = fails(db, "act", no, "cancel", f"--note={value}")
        assert count(db, "events") == before
        return err
    extra = {"dept": "SFJ"} if field == "reason" else {}
    err = fails(db, *dispatch_args(**{field: value, **extra}))
    assert count(db, "orders") == 0 and count(db, "events") == 0 and count(db, "calls") == 0
    return err


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_nul_is_refused_in_every_text_field(tmp_path: Path, field: str) -> None:
    assert "空字符" in _refused(tmp_path / "x.db", field, "前\x00后")


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_100_kb_pasted_into_a_field_is_refused_with_a_short_line(tmp_path: Path, field: str) -> None:
    pasted = ("粘贴" * 50 + "\x1b[31m") * 1000  # about 100 KB, escape sequences included
    err = _refused(tmp_path / "x.db", field, pasted)
    assert "太长" in err and f"{len(pasted)} 字" in err
    assert len(err) < ERROR_LIMIT + 40
    assert_inert(err)


@pytest.mark.parametrize("option", ["--town", "--tag", "--phone", "--dept"])
def test_100_kb_in_a_code_gives_one_short_line(tmp_path: Path, option: str) -> None:
    db = tmp_path / "x.db"
    err = fails(
        db,
        *dispatch_args(**{option[2:]: "\x1b]0;x\x07" + "Z" * 100_000}),
        *(["--reason", "r"] if option == "--dept" else []),
    )
    assert len(err) < ERROR_LIMIT + 40
    assert_inert(err)
    assert count(db, "orders") == 0


def test_invalid_utf8_on_the_command_line_is_refused(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 arrive as lone surrogates; they cannot be stored faithfully."""
    db = tmp_path / "x.db"
    exe = Path(sys.executable).parent / "fengqiao"
    argv = [
        os.fsencode(str(exe)),
        b"--db",
        os.fsencode(str(db)),
        b"dispatch",
        b"--phone",
        b"13857512345",
        b"--town",
        b"HZ",
        b"--tag",
        b"B01",
        b"--text",
        b"\xff\xfe caller \xe4\xb8",
    ]
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONUTF8": "1"}
    result = subprocess.run(argv, capture_output=True, env=env, timeout=60)
    err = result.stderr.decode("utf-8", "replace").strip()
    assert result.returncode == 1 and len(err.splitlines()) == 1, err
    assert "无效的 Unicode" in err
    assert "Traceback" not in err
    assert not db.exists() or count(db, "events") == 0


# ---- codes and phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("", "请输入来电号码"),
        ("abc", "非法字符「a」"),
        ("１３８ａ５７５１２３４５", "非法字符「a」"),  # full-width digits are read as digits (NFKC), a letter is not
        ("138\x1b[31m57512345", "非法字符「U+001B」"),
        ("\u202e13857512345", "非法字符「U+202E」"),
        ("1385751234", "应为 11 位，现在是 10 位"),
        ("12857512345", "不能以 12 开头"),
        ("+1 202 555 0100", "只受理中国大陆号码"),
        ("0575-123", "应为 7–8 位，现在是 3 位"),
        ("0575-0123456", "不能以 0 或 1 开头"),
        ("856", "号码太短"),
        ("8888888888", "无法识别的号码"),
        ("1234567890123456789", "应为 11 位，现在是 19 位"),
    ],
)
def test_malformed_phone_numbers(tmp_path: Path, phone: str, message: str) -> None:
    db = tmp_path / "x.db"
    err = fails(db, *dispatch_args(phone=phone))
    assert message in err
    assert_inert(err)
    assert count(db, "orders") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (dispatch_args(tag="\x1b[31mZ99"), "未知标签「␛[31mZ99」"),
        (dispatch_args(town="[bold]NOWHERE[/bold]"), "未知镇街「[bold]NOWHERE[/bold]」"),
        (dispatch_args(dept="XYZ", reason="r"), "未知部门「XYZ」"),
        (dispatch_args() + ["--role", "boss"], "未知角色「boss」"),
        (["orders", "--status", "\x9bgone"], "「\\x9bgone」不是有效的状态"),
    ],
)
def test_unknown_codes(tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "x.db"
    err = fails(db, *args)
    assert message in err, err
    assert_inert(err)
    assert not db.exists() or count(db, "events") == 0


def test_unknown_codes_on_an_existing_order(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    no = ok(db, *dispatch_args())
    assert "没有承办单位「XYZ」" in fails(db, "act", no, "sign", "--assignee", "XYZ")
    assert "「fly」不是有效的操作" in fails(db, "act", no, "fly")
    assert "没有工单 SZ-0000" in fails(db, "act", "SZ-0000", "sign")
    ok(db, "act", no, "return", "--note", "不属本部门")
    assert "未知部门「XYZ」" in fails(db, "act", no, "reassign", "--to", "XYZ", "--note", "转")
    assert count(db, "events") == 2


# ---- the store refuses what the CLI refuses ------------------------------------------------------------


def test_store_refuses_nul_and_broken_unicode_in_notes_and_reasons(store: OrderStore) -> None:
    state = store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="假货"), "B01")
    with store.db.read() as conn:
        before = conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
    for note in ("a\x00b", "a\ud800b", "长" * 2001):
        with pytest.raises(ValidationError):
            store.act(state.order_no, Intent(Action.CANCEL, note=note))
    for reason in ("a\x00b", "\udcff"):
        with pytest.raises(ValidationError):
            store.dispatch(
                IntakeForm(phone="13857512345", town="HZ", description="x"),
                "B01",
                override_dept="SFJ",
                override_reason=reason,
            )
    with store.db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == before
    assert verify(store.db).ok


def test_store_keeps_hostile_text_exactly(store: OrderStore) -> None:
    for text in HOSTILE:
        state = store.dispatch(
            IntakeForm(phone="13857512345", town="HZ", description=text, address=text[:200], name=text[:50]), "B01"
        )
        again = store.order(state.order_no)
        assert again.call.description == text.strip() and again.call.address == text[:200].strip()
        done = store.act(state.order_no, Intent(Action.CANCEL, note=text))
        assert done.cancel_reason == text.strip()
    assert verify(store.db).ok


# ---- the database file itself ----------------------------------------------------------------------------


def test_not_sqlite_truncated_and_directory(tmp_path: Path) -> None:
    png = tmp_path / "photo.db"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert "不是 SQLite 数据库文件" in fails(png, "orders")
    assert "是一个目录" in fails(tmp_path, "orders")
    db = tmp_path / "x.db"
    for _ in range(30):
        ok(db, *dispatch_args())
    size = db.stat().st_size
    cut = tmp_path / "cut.db"
    cut.write_bytes(db.read_bytes()[: size // 3])
    err = fails(cut, "orders")
    assert "已损坏" in err or "fengqiao check" in err, err
    assert png.read_bytes().startswith(b"\x89PNG")  # nothing was written into the stranger's file


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    """``folder`` seen read-only: a read-only bind mount as root (root ignores file modes), else chmod."""
    if os.geteuid() == 0:
        view = folder.with_name(folder.name + "-ro")
        view.mkdir()
        mounted = subprocess.run(["mount", "--bind", str(folder), str(view)], capture_output=True).returncode == 0
        if (
            mounted
            and subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], capture_output=True).returncode == 0
        ):
            try:
                yield view
            finally:
                subprocess.run(["umount", str(view)], check=False)
            return
        if mounted:
            subprocess.run(["umount", str(view)], check=False)
        pytest.skip("running as root without permission to mount: cannot make a read-only file")
    for p in folder.iterdir():
        p.chmod(0o444)
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def test_read_only_database(tmp_path: Path) -> None:
    folder = tmp_path / "stick"
    folder.mkdir()
    live = folder / "live.db"
    no = ok(live, *dispatch_args())
    ok(live, "backup", str(folder / "backup.db"))
    with read_only_folder(folder) as ro:
        for name in ("live.db", "backup.db"):
            err = fails(ro / name, *dispatch_args())
            assert "只读" in err, err
        # A single-file backup on a read-only stick can still be read, checked and restored from.
        assert no in ok(ro / "backup.db", "orders")
        assert "未发现问题" in ok(ro / "backup.db", "check")
        ok(tmp_path / "restored.db", "restore", str(ro / "backup.db"))
    assert count(tmp_path / "restored.db", "orders") == 1
    assert count(live, "orders") == 1


def test_locked_longer_than_the_busy_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "x.db"
    no = ok(db, *dispatch_args())
    monkeypatch.setenv("FENGQIAO_BUSY_MS", "150")
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        for args in (["act", no, "sign"], dispatch_args()):
            err = fails(db, *args)
            assert "被另一个程序占用" in err and "0.15 秒" in err, err
        assert no in ok(db, "orders")  # readers are not blocked by a writer (WAL)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert count(db, "events") == 1
    ok(db, "act", no, "sign")


def _fill_until_full(db: Database, store: OrderStore) -> int:
    """Dispatch until the store reports a full disk; return how many succeeded."""
    done = 0
    for _ in range(2000):
        try:
            store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="满" * 1500), "B01")
        except StoreError as exc:
            assert "磁盘已满" in str(exc), exc
            return done
        done += 1
    raise AssertionError("the disk never filled")


def _cap_pages(db: Database) -> None:
    """Simulate a full disk: each new connection may not grow the file beyond its present size."""

    @db.engine.on_connect
    def _limit(dbapi_conn) -> None:  # noqa: ANN001
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    db.engine.dispose()


def test_full_disk_in_the_store_keeps_everything_whole(db: Database, ref, clock) -> None:
    store = OrderStore(db, ref=ref, clock=clock)
    store.dispatch(IntakeForm(phone="13857512345", town="HZ", description="满前"), "B01")
    _cap_pages(db)
    done = _fill_until_full(db, store)
    # A step after the dispatches that filled it: a few may still fit in the last free pages; then it is full.
    with pytest.raises(StoreError, match="磁盘已满"):
        for _ in range(100):
            store.act("SZ-20261128-0001", Intent(Action.NOTE, note="满" * 1900))
    report = verify(db)
    assert report.ok and report.orders == done + 1, report.faults


def test_full_disk_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "x.db"
    ok(db, "init")
    original = Database._make_engine

    def capped(self: Database):  # noqa: ANN202
        engine = original(self)

        @engine.on_connect
        def _limit(dbapi_conn) -> None:  # noqa: ANN001
            pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

        return engine

    monkeypatch.setattr(Database, "_make_engine", capped)
    for _ in range(200):
        result = run(db, *dispatch_args(text="满" * 3000))
        if result.exit_code:
            break
    assert result.exit_code == 1 and "磁盘已满" in result.stderr and "已写入的数据不受影响" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    monkeypatch.undo()
    assert "未发现问题" in ok(db, "check")


def test_a_really_full_filesystem(tmp_path: Path) -> None:
    """A 512 KB tmpfs (root only): the disk fills for real, SQLite says SQLITE_FULL, nothing is half-written."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("needs root and permission to mount a small tmpfs")
    try:
        db = mnt / "x.db"
        ok(db, "init")
        for _ in range(400):
            result = run(db, *dispatch_args(text="满" * 3999))
            if result.exit_code:
                break
        assert result.exit_code == 1, "the filesystem never filled"
        assert "磁盘已满" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "未发现问题" in ok(db, "check")
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


# ---- reports and exports: text a spreadsheet shows, never runs ---------------------------------------------


def test_spreadsheet_text_is_shown_not_run(tmp_path: Path) -> None:
    import openpyxl

    from fengqiao.models.text import spreadsheet_text

    formula = '=HYPERLINK("http://evil.example","点我")'
    wb = openpyxl.Workbook()
    ws = wb.active
    for row, text in enumerate([formula, *HOSTILE], start=1):
        cell = ws.cell(row, 1)
        cell.value = spreadsheet_text(text)  # openpyxl would refuse the raw escape sequences
        cell.data_type = "s"
    wb.save(tmp_path / "r.xlsx")
    back = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    assert back.cell(1, 1).value == formula and back.cell(1, 1).data_type == "s"
    assert back.cell(3, 1).value == visible(HOSTILE[1])
    assert spreadsheet_text(formula, csv=True) == "'" + formula
    assert spreadsheet_text("-1+1", csv=True) == "'-1+1" and spreadsheet_text("普通", csv=True) == "普通"
