"""What a toast says about an order that needs someone on this desk (see ``store.attention``)."""

from __future__ import annotations

from fengqiao.models.i18n import t
from fengqiao.models.reference import Reference
from fengqiao.store.attention import Alert

from .orderfmt import assignee_label, tag_label, town_label


def alert_line(ref: Reference, a: Alert, lang: str) -> str:
    """``SZ-20261128-0042  B01 消费纠纷 · 剡湖街道`` (+ the unit, and the deadline missed on a supervisor's)."""
    parts = [tag_label(ref, a.tag), town_label(ref, a.town)]
    if a.reason != "new":
        parts.append(assignee_label(ref, a.assignee, lang))
    if a.reason == "overdue" and a.due_kind:
        parts.append(t("board.late", step=t(f"board.step_{a.due_kind}"), time="").strip())
    return f"{a.order_no}  " + " · ".join(parts)
