"""The year-end review report: the KPI tables of one window written as Markdown, CSV, Excel or JSON.

Every figure comes from the same ``KpiStore.table`` calls as ``fengqiao kpi --json`` (same window, same clock,
same weights), so the two always agree. Phone numbers are masked unless a supervisor asked for them
(``report --unmasked``, recorded in the access log first: ``console.privacy.phones_for``). Text typed by callers
(addresses) is data, never instructions: every text cell goes through ``models.text.spreadsheet_text`` (control
characters made visible; in CSV a cell that a spreadsheet would read as a formula, starting with = + - @, a tab
or a carriage return, gets an apostrophe; in Excel it is a text cell with the quote-prefix style) and in
Markdown it is escaped.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fengqiao.models.clock import fmt_local, to_db
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.kpi import RATES, SPREADS, Counts, Window, fmt_rate
from fengqiao.models.markdown import md_escape
from fengqiao.models.phone import mask_phone
from fengqiao.models.privacy import PhoneView
from fengqiao.models.routing import describe_assignee
from fengqiao.models.text import looks_like_formula, spreadsheet_text
from fengqiao.store.kpi import Frequent, KpiStore, KpiTable

FORMATS = ("md", "csv", "xlsx", "json")
REPORT_VIEWS = ("department", "town", "tag", "village")
ABOUT_KEYS = (*RATES, "returns", "cancelled", "score", "dual")


def columns() -> list[str]:
    """Every field of a KPI row, in report order."""
    cols = ["rank", "key", "name", "score", "dispatched", *RATES]
    cols += [c for c in Counts.names() if c != "dispatched"]
    cols += [f"{s}_{stat}" for s in SPREADS for stat in ("n", "p50", "p90")]
    return cols


def column_label(col: str) -> str:
    for s in SPREADS:
        if col.startswith(s + "_"):
            return f"{t(f'kpi.col.{s}')} {t('kpi.col.' + col.removeprefix(s + '_'))}"
    return t(f"kpi.col.{col}")


@dataclass
class Report:
    window: Window
    generated_at: datetime
    tables: dict[str, KpiTable]
    callers: list[Frequent]
    addresses: list[Frequent]
    phone: PhoneView = mask_phone
    answers: list[dict[str, Any]] = field(
        default_factory=list
    )  # calls answered on the spot, per answer owner  # how callers' numbers are shown (full only for a recorded supervisor export)

    @property
    def unmasked(self) -> bool:
        return self.phone is not mask_phone

    def phones(self) -> list[str]:
        """The callers' numbers this report shows (for the access log of an unmasked export)."""
        return [f.key for f in self.callers]

    def to_json(self) -> dict[str, Any]:
        first = next(iter(self.tables.values()))
        return {
            "from": self.window.first.isoformat(),
            "to": self.window.last.isoformat(),
            "generated_at": to_db(self.generated_at),
            "weights": first.weights.as_dict(),
            "basic_weight": first.weights.basic_weight,
            "views": {by: table.to_json() for by, table in self.tables.items()},
            "phones_masked": not self.unmasked,
            "frequent_callers": [_frequent_json(f, self.phone) for f in self.callers],
            "frequent_addresses": [_frequent_json(f, None) for f in self.addresses],
            "answers": self.answers,
        }


def _frequent_json(f: Frequent, phone: PhoneView | None) -> dict[str, Any]:
    return {
        "phone" if phone else "address": phone(f.key) if phone else f.key,
        "town": f.town,
        "calls": f.calls,
        "first_at": f.first_at.isoformat(),
        "last_at": f.last_at.isoformat(),
        "tags": list(f.tags),
    }


def build(kpi: KpiStore, window: Window) -> Report:
    tables = {by: kpi.table(window, by) for by in REPORT_VIEWS}
    callers = kpi.frequent(window.start, window.end, by="phone", limit=200)
    addresses = kpi.frequent(window.start, window.end, by="address", limit=200)
    report = Report(window, tables["department"].generated_at, tables, callers, addresses)
    report.answers = answer_rows(kpi.db, kpi.ref, window)
    return report


def answer_rows(db: Any, ref: Any, window: Window) -> list[dict[str, Any]]:
    """Calls answered on the spot per answer owner in the window (store.governance.answer_figures): what ``kpi``
    shows under its table and the reports carry."""
    from fengqiao.store.governance import answer_figures

    return [
        {
            "owner": f.owner,
            "answered": f.answered,
            "called_back": f.called_back,
            "dispatched_same_tags": f.dispatched_same_tags,
            "spot_rate": f.spot_rate,
            "callback_rate": f.callback_rate,
        }
        for f in answer_figures(db, ref, window.start, window.end)
    ]


def _answer_table(report: Report, kpi: KpiStore) -> tuple[list[str], list[list[Any]]]:
    head = [t("kpi.col.key"), t("kpi.col.name"), t("kb.spot"), t("kb.spot_rate"), t("kb.callback_rate")]
    rows = [
        [
            a["owner"],
            describe_assignee(kpi.ref, a["owner"], get_lang()),
            a["answered"],
            a["spot_rate"],
            a["callback_rate"],
        ]
        for a in report.answers
    ]
    return head, rows


def csv_cell(value: Any) -> Any:
    """A CSV cell: text through :func:`models.text.spreadsheet_text` (never a formula), numbers as they are."""
    return spreadsheet_text(value, csv=True) if isinstance(value, str) else value


def _rows(table: KpiTable) -> list[dict[str, Any]]:
    return [r.to_json() for r in (*table.rows, table.total)]


def _frequent_rows(report: Report, kpi: KpiStore) -> dict[str, tuple[list[str], list[list[Any]]]]:
    lang = get_lang()
    out: dict[str, tuple[list[str], list[list[Any]]]] = {}
    for name, items in (("callers", report.callers), ("addresses", report.addresses)):
        head = [
            t("kpi.col.phone") if name == "callers" else t("kpi.col.address"),
            t("kpi.col.town"),
            t("kpi.col.calls"),
            t("kpi.first_call"),
            t("kpi.last_call"),
            t("kpi.col.tags"),
        ]
        rows = []
        for f in items:
            town = kpi.ref.towns.get(f.town)
            tags = [
                f"{c} {kpi.ref.tags[c].name_zh if lang == 'zh' else kpi.ref.tags[c].name_en}"
                for c in f.tags
                if c in kpi.ref.tags
            ]
            rows.append(
                [
                    report.phone(f.key) if name == "callers" else f.key,
                    (town.name_zh if lang == "zh" else town.name_en) if town else f.town,
                    f.calls,
                    fmt_local(f.first_at),
                    fmt_local(f.last_at),
                    "、".join(tags) if lang == "zh" else "; ".join(tags),
                ]
            )
        out[name] = (head, rows)
    return out


# ---- writers ------------------------------------------------------------------------------------------


def write(report: Report, kpi: KpiStore, fmt: str, path: Path) -> None:
    {"json": _write_json, "csv": _write_csv, "md": _write_md, "xlsx": _write_xlsx}[fmt](report, kpi, path)


def _write_json(report: Report, kpi: KpiStore, path: Path) -> None:
    path.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_csv(report: Report, kpi: KpiStore, path: Path) -> None:
    """One table of every view's rows (first column: the view); UTF-8 with BOM so Excel reads Chinese."""
    cols = columns()
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["view", *cols])
        for by, table in report.tables.items():
            for row in _rows(table):
                out.writerow([by, *(csv_cell(row[c]) if row[c] is not None else "" for c in cols)])


def _basic_line(report: Report) -> str:
    """The weight of 基本满意 in this report's satisfaction rate ([kpi] basic_weight)."""
    return t("kpi.about.basic_weight", weight=f"{report.tables['department'].weights.basic_weight:g}")


def _md_cell(value: Any) -> str:
    return md_escape("" if value is None else str(value))  # no links, images, bold or HTML from caller text


def _fmt(col: str, value: Any) -> str:
    if value is None:
        return "—"
    if col in RATES:
        return fmt_rate(value)
    if isinstance(value, float):
        return f"{value:.1f}" if col != "score" else f"{value:.2f}"
    return str(value)


def _write_md(report: Report, kpi: KpiStore, path: Path) -> None:
    w = report.window
    lines = [
        f"# {t('kpi.report_title', first=w.first.isoformat(), last=w.last.isoformat())}",
        "",
        f"- {t('kpi.window')}: {w.first.isoformat()} — {w.last.isoformat()}",
        f"- {t('kpi.generated')}: {fmt_local(report.generated_at)}",
        f"- {t('kpi.weights')}: "
        + ", ".join(
            f"{t('kpi.col.' + k + '_rate')} {v:g}" for k, v in report.tables["department"].weights.as_dict().items()
        ),
        f"- {t('kpi.unmasked' if report.unmasked else 'kpi.masked')}",
        "",
    ]
    main = ["rank", "key", "name", "score", "dispatched", *RATES, "orders"]
    for by, table in report.tables.items():
        lines += [
            f"## {t(f'kpi.sheet.{by}')}",
            "",
            "| " + " | ".join(column_label(c) for c in main) + " |",
            "|" + "|".join("---:" if c not in ("key", "name") else "---" for c in main) + "|",
        ]
        for row in _rows(table):
            lines.append("| " + " | ".join(_md_cell(_fmt(c, row[c])) for c in main) + " |")
        lines.append("")
    for name, (head, rows) in _frequent_rows(report, kpi).items():
        lines += [
            f"## {t('kpi.frequent_' + name)}",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" for _ in head) + "|",
        ]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        lines.append("")
    if report.answers:
        head, rows = _answer_table(report, kpi)
        lines += [f"## {t('kb.report_title')}", "", "| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|"]
        lines += [
            "| " + " | ".join(_md_cell(c if i < 3 else fmt_rate(c)) for i, c in enumerate(row)) + " |" for row in rows
        ]
        lines.append("")
    lines += [f"## {t('kpi.definitions')}", ""] + [f"- {t('kpi.about.' + k)}" for k in ABOUT_KEYS]
    lines.append(f"- {_basic_line(report)}")
    lines.append(
        f"- {t('kpi.col.score')}: "
        + ", ".join(
            f"{t('kpi.col.' + k + '_rate')} {v:g}" for k, v in report.tables["department"].weights.as_dict().items()
        )
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_xlsx(report: Report, kpi: KpiStore, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)

    def put(ws: Any, row: int, col: int, value: Any, number_format: str | None = None) -> None:
        if isinstance(value, str):
            value = spreadsheet_text(value)  # control characters (which Excel refuses) made visible
        cell = ws.cell(row=row, column=col, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula or an error code, whatever the text says
            if looks_like_formula(value):
                cell.quotePrefix = True
        elif number_format and value is not None:
            cell.number_format = number_format

    def sheet(title: str, head: list[str], rows: list[list[Any]], formats: list[str | None]) -> None:
        ws = wb.create_sheet(title[:31])
        for c, label in enumerate(head, start=1):
            put(ws, 1, c, label)
            ws.cell(row=1, column=c).font = bold
            ws.column_dimensions[get_column_letter(c)].width = max(10, min(40, len(label) * 2 + 2))
        for r, values in enumerate(rows, start=2):
            for c, (value, fmt) in enumerate(zip(values, formats, strict=True), start=1):
                put(ws, r, c, value, fmt)
        ws.freeze_panes = "D2" if len(head) > 3 else "A2"

    cols = columns()
    formats = ["0.0%" if c in RATES else "0.00" if c == "score" or c.endswith(("_p50", "_p90")) else None for c in cols]
    for by, table in report.tables.items():
        sheet(
            t(f"kpi.sheet.{by}"),
            [column_label(c) for c in cols],
            [[row[c] for c in cols] for row in _rows(table)],
            formats,
        )
    for name, (head, rows) in _frequent_rows(report, kpi).items():
        sheet(t(f"kpi.sheet.{name}"), head, rows, [None] * len(head))
    if report.answers:
        head, rows = _answer_table(report, kpi)
        sheet(t("kb.report_title"), head, rows, [None, None, None, "0.0%", "0.0%"])
    w = report.window
    about: list[list[Any]] = [
        [t("kpi.window"), f"{w.first.isoformat()} — {w.last.isoformat()}"],
        [t("kpi.generated"), fmt_local(report.generated_at)],
        [t("kpi.unmasked" if report.unmasked else "kpi.masked"), ""],
    ]
    about += [
        [t("kpi.weights") + " · " + t("kpi.col." + k + "_rate"), v]
        for k, v in report.tables["department"].weights.as_dict().items()
    ]
    about += [[t("kpi.definitions"), t("kpi.about." + k)] for k in ABOUT_KEYS]
    about.append([t("kpi.definitions"), _basic_line(report)])
    sheet(t("kpi.sheet.about"), ["", ""], about, [None, None])
    wb.save(path)
