"""Screen-pop from the command palette: Ctrl+P, type the caller's number, Enter — the intake form opens with it.

The same as ``fengqiao run --caller PHONE`` (which a telephony system would run), for a desk whose phone
system cannot start programs.
"""

from __future__ import annotations

import re
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from fengqiao.models.i18n import t
from fengqiao.models.phone import fold_width

_PHONEISH = re.compile(r"^\+?[\d\s\-()]{3,}$")


class CallerPopProvider(Provider):
    async def discover(self) -> Hits:
        yield DiscoveryHit(t("intake.pop_discover"), partial(pop_caller, self.app, ""), help=t("intake.pop_help"))

    async def search(self, query: str) -> Hits:
        text = fold_width(query).strip()  # １３８… or （0575） from a Chinese input method
        if _PHONEISH.match(text):
            yield Hit(
                1.0,
                t("intake.pop_command", phone=text),
                partial(pop_caller, self.app, text),
                text=t("intake.pop_command", phone=text),
                help=t("intake.pop_help"),
            )
        else:
            matcher = self.matcher(text)
            label = t("intake.pop_discover")
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(pop_caller, self.app, ""), help=t("intake.pop_help"))


def pop_caller(app: object, phone: str) -> None:
    """Switch to the intake screen and fill the phone (empty: just put the cursor in the phone field)."""
    from .intake import IntakeScreen

    def fill() -> None:
        screen = next((s for s in reversed(app.screen_stack) if isinstance(s, IntakeScreen)), None)  # type: ignore[attr-defined]
        if screen is None:
            return
        if phone:
            screen.pop_caller(phone)
        elif screen.content_ready.is_set():
            screen.query_one("#phone").focus()

    app.switch_mode("intake")  # type: ignore[attr-defined]
    app.call_after_refresh(fill)  # type: ignore[attr-defined]
