"""Merge, undo a merge and split from the board (issue 17 item 2), on the focused order.

* ``g`` merge: the numbers of the orders to merge into the focused one, a reason, then a confirmation.
* ``z`` undo: the focused order holds merged orders; every one of them goes back to work.
* ``l`` split: the unit codes of the child orders, a reason, then a confirmation.

Each key is offered (footer, F1 help, the command palette) only when this desk's role may take the step on
the focused order and its state allows it; the store checks again when the step runs (store/merging.py).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rich.text import Text
from textual import work
from textual.binding import Binding

from fengqiao.models import roles
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import get_lang, t
from fengqiao.models.machine import OPEN_STATUSES, WORKING_STATUSES, Action, OrderState
from fengqiao.store.attention import mark_seen

from .base import safe
from .forms import ActionForm, ConfirmScreen, FormField
from .orderfmt import assignee_label, tag_label

log = logging.getLogger("fengqiao.board")

MERGE_BINDINGS = [
    Binding("g", "merge_orders", "board.key_merge", show=False, id="board.merge"),
    Binding("z", "unmerge_orders", "board.key_unmerge", show=False, id="board.unmerge"),
    Binding("l", "split_order", "board.key_split", show=False, id="board.split"),
]
_STEPS = {"merge_orders": Action.MERGED, "unmerge_orders": Action.UNMERGE, "split_order": Action.SPLIT}


def numbers(text: str) -> list[str]:
    """Order numbers or unit codes typed in one field: separated by spaces, commas or 、."""
    return [part.upper() for part in re.split(r"[\s,，、;；]+", text) if part]


def may(desk: Any, ref: Any, state: OrderState, step: str) -> bool:
    """Whether the board offers ``step`` on ``state`` to this desk now."""
    if not roles.can_take(desk, ref, state, _STEPS[step]):
        return False
    if step == "merge_orders":  # the order kept: any open one (the store refuses a closed one too)
        return state.merge is None and state.status in OPEN_STATUSES
    if step == "unmerge_orders":
        return bool(state.absorbed) or state.merge is not None
    return (
        state.merge is None and state.status in WORKING_STATUSES and roles.can_take(desk, ref, state, Action.DISPATCH)
    )


class MergeMixin:
    """Mix into a Screen with ``current_offer()``, ``after_action()`` and a ``ctx`` (before ActionsMixin)."""

    app: Any
    ctx: Any

    def current_offer(self) -> Any:  # pragma: no cover - the screen's
        raise NotImplementedError

    def after_action(self, state: OrderState | None) -> None:  # pragma: no cover - the screen's
        pass

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _STEPS:
            offer = self.current_offer()
            return offer is not None and may(self.ctx.desk, self.ctx.ref, offer.state, action)
        return super().check_action(action, parameters)  # type: ignore[misc]

    def _state(self, step: str) -> OrderState | None:
        offer = self.current_offer()
        if offer is None or not may(self.ctx.desk, self.ctx.ref, offer.state, step):
            self.app.bell()
            return None
        return offer.state

    def _subtitle(self, state: OrderState) -> Text:
        return Text(f"{state.order_no}  {tag_label(self.ctx.ref, state.tag)}")

    def action_merge_orders(self) -> None:
        state = self._state("merge_orders")
        if state is None:
            return
        fields = [
            FormField("orders", "text", t("board.form_merge_orders"), required=True, text_field="note"),
            FormField("note", "text", t("board.form_merge_reason"), text_field="reason"),
        ]

        def filled(values: dict[str, Any] | None) -> None:
            if values:
                others = numbers(values["orders"])
                message = Text(t("board.confirm_merge", others=" ".join(others), order_no=state.order_no) + "\n")
                message.append_text(safe(values["note"]))
                self._confirm_step(
                    t("board.key_merge"), message, lambda: self._merge(state.order_no, others, values["note"])
                )

        self.app.push_screen(ActionForm(t("board.key_merge"), self._subtitle(state), fields), filled)

    def action_unmerge_orders(self) -> None:
        state = self._state("unmerge_orders")
        if state is None:
            return
        others = [x.order_no for x in state.absorbed] or ([state.merge.into_no] if state.merge else [])
        fields = [FormField("note", "text", t("board.form_unmerge_reason"), text_field="reason")]

        def filled(values: dict[str, Any] | None) -> None:
            if values is not None:
                message = Text(t("board.confirm_unmerge", order_no=state.order_no, others=" ".join(others)) + "\n")
                message.append_text(safe(values["note"]))
                self._confirm_step(
                    t("board.key_unmerge"), message, lambda: self._unmerge(state.order_no, values["note"])
                )

        self.app.push_screen(ActionForm(t("board.key_unmerge"), self._subtitle(state), fields), filled)

    def action_split_order(self) -> None:
        state = self._state("split_order")
        if state is None:
            return
        fields = [
            FormField("units", "text", t("board.form_split_units"), required=True, text_field="note"),
            FormField("note", "text", t("board.form_split_reason"), text_field="reason"),
        ]

        def filled(values: dict[str, Any] | None) -> None:
            if values:
                units = numbers(values["units"])
                named = t("board.units_sep").join(self._unit(code) for code in units)
                message = Text(t("board.confirm_split", order_no=state.order_no, units=named) + "\n")
                message.append_text(safe(values["note"]))
                self._confirm_step(
                    t("board.key_split"), message, lambda: self._split(state.order_no, units, values["note"])
                )

        self.app.push_screen(ActionForm(t("board.key_split"), self._subtitle(state), fields), filled)

    def _unit(self, code: str) -> str:
        """A unit's name and code (前岩村人民调解委员会 TJ-HZ-QY); an unknown code as typed (the store refuses it)."""
        label = assignee_label(self.ctx.ref, code, get_lang())
        return f"{label} {code}" if label != code else code

    def _confirm_step(self, title: str, message: Text, run: Any) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                run()

        self.app.push_screen(ConfirmScreen(title, message), answered)

    # ---- the steps, each one store transaction in a thread ---------------------------------------
    @work(thread=True, group="order-merge", exit_on_error=False)
    def _merge(self, keep: str, others: list[str], reason: str) -> None:
        def run() -> tuple[OrderState, str]:
            result = self.ctx.store.merge(keep, others, reason=reason)
            nos = " ".join(o.order_no for o in result.absorbed)
            return result.keep, t("board.merged_done", others=nos, order_no=result.keep.order_no)

        self._run(run)

    @work(thread=True, group="order-merge", exit_on_error=False)
    def _unmerge(self, order_no: str, reason: str) -> None:
        def run() -> tuple[OrderState, str]:
            back = self.ctx.store.unmerge(order_no, reason=reason)
            return back[0], t("board.unmerged_done", orders=" ".join(o.order_no for o in back) or "-")

        self._run(run)

    @work(thread=True, group="order-merge", exit_on_error=False)
    def _split(self, order_no: str, units: list[str], reason: str) -> None:
        def run() -> tuple[OrderState, str]:
            result = self.ctx.store.split(order_no, units, reason=reason)
            children = " ".join(f"{c.order_no}→{self._unit(c.primary.assignee)}" for c in result.children)
            return result.parent, t("board.split_done", order_no=result.parent.order_no, children=children)

        self._run(run)

    def _run(self, run: Any) -> None:
        try:
            state, done = run()
            mark_seen(self.ctx.db, self.ctx.desk, state.id, self.ctx.clock())
        except FengqiaoError as exc:
            self.app.call_from_thread(self._stepped, None, str(exc))
            return
        except Exception as exc:  # a bug: keep the console alive, say what happened
            log.exception("merge or split failed")
            self.app.call_from_thread(self._stepped, None, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._stepped, state, done)

    def _stepped(self, state: OrderState | None, text: str) -> None:
        if state is None:
            self.app.notify(text, title=t("board.refused"), severity="error", timeout=8, markup=False)
        else:
            self.app.notify(text, timeout=4, markup=False)
        self.after_action(state)
