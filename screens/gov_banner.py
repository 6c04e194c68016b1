"""The intake's banner for risk: words that signal danger as they are typed, the open warnings a call touches (the
same address in the town, the same caller) and the open cases (专班) it may belong to.

The intake screen's lookup worker reads what the call touches (``store.governance.GovernanceStore.touching``);
this widget only draws it. Ctrl+G marks the call to join the first case offered: after the order is sent (or
the call linked), it is added to that case.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from fengqiao.models.clock import fmt_local
from fengqiao.models.governance import NoticeState, WarningRules, danger_words
from fengqiao.models.i18n import t
from fengqiao.store.governance import Touching

LEVEL_STYLE = {"red": "bold white on red", "orange": "bold black on dark_orange", "yellow": "bold black on yellow"}


class GovBanner(Static):
    DEFAULT_CSS = """
    GovBanner { height: auto; max-height: 3; padding: 0 1; display: none; text-wrap: nowrap; text-overflow: ellipsis; }
    GovBanner.-shown { display: block; }
    """

    def __init__(self, rules: WarningRules, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.rules = rules
        self.touching = Touching()
        self.words: list[str] = []
        self.join = False  # Ctrl+G: add the order to the first case offered
        self.notices: list[NoticeState] = []  # the notices in force in the call's town (from the lookup)
        self.town, self.description = "", ""
        self.at: datetime | None = None

    @property
    def case_no(self) -> str | None:
        """The case this call joins after it is sent (None: it joins none)."""
        return self.touching.cases[0].no if self.join and self.touching.cases else None

    @property
    def notice(self) -> NoticeState | None:
        """The notice the call is about (its town, its window, one of its keywords in the words), or None."""
        if self.at is None:
            return None
        return next((n for n in self.notices if n.matches(self.town, self.description, self.at)), None)

    def show_words(self, description: str) -> None:
        words = danger_words(description, self.rules)
        before = self.notice
        self.description = description
        if words != self.words or self.notice is not before:
            self.words = words
            self._draw()

    def show_notices(self, town: str, notices: list[NoticeState], at: datetime) -> None:
        self.town, self.notices, self.at = town, notices, at
        self._draw()

    def show_touching(self, touching: Touching) -> None:
        offered = {c.no for c in self.touching.cases}
        self.touching = touching
        if {c.no for c in touching.cases} != offered:
            self.join = False  # another case is offered: nothing chosen yet
        self._draw()

    def toggle_join(self) -> bool:
        """Ctrl+G; returns False when no case is offered."""
        if not self.touching.cases:
            return False
        self.join = not self.join
        self._draw()
        return True

    def clear(self) -> None:
        self.touching, self.words, self.join = Touching(), [], False
        self.notices, self.description = [], ""
        self._draw()

    def _draw(self) -> None:
        lines: list[Text] = []
        if self.words:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f" {t('gov.level_red')} ", style=LEVEL_STYLE["red"])
            line.append(" " + t("banner.danger", words="、".join(self.words)), style="bold red")
            lines.append(line)
        notice = self.notice
        if notice is not None:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f" {t(f'notice.kind_{notice.kind}')} ", style="bold white on blue")
            line.append(" " + t("notice.banner_take"), style="bold")  # the key first: the rest may be cut
            line.append(" · ")
            line.append(
                t(
                    "notice.banner",
                    kind="",
                    no=notice.no,
                    title=notice.title,
                    starts=fmt_local(notice.starts, date=False),
                    ends=fmt_local(notice.ends, date=False),
                ).strip()
            )
            lines.append(line)
        for w in self.touching.warnings[:1]:
            line = Text(
                no_wrap=True, overflow="ellipsis"
            )  # (a style given to Text() would be the whole line's: each part has its own)
            line.append(f" {t(f'gov.level_{w.level}')} ", style=LEVEL_STYLE.get(w.level, "bold"))
            line.append(" ")
            line.append(t("banner.warning", no=w.no, status=t(f"gov.status_{w.status}")))
            line.append(" · ")
            line.append(w.summary)  # Text.append: shown literally, never read as markup
            more = len(self.touching.warnings) - 1
            if more > 0:
                line.append("  " + t("banner.more", count=more), style="dim")
            lines.append(line)
        for c in self.touching.cases[: 0 if notice is not None and len(lines) >= 3 else 1]:
            mark = "☑" if self.join else "☐"
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f" {mark} ", style="bold")
            line.append(t("banner.case", no=c.no))
            line.append("「")
            line.append(c.title)
            line.append("」 ")
            line.append(t("banner.case_join" if not self.join else "banner.case_joined"), style="bold")
            lines.append(line)
        self.set_class(bool(lines), "-shown")
        self.update(Text("\n", no_wrap=True, overflow="ellipsis").join(lines))
