"""Order actions from the keyboard, shared by the board (on the focused row) and the detail screen.

One letter per action (``s`` sign, ``a`` arrive, ``f`` feedback, ``r`` return, ``e`` escalate, ``v`` visit, …).
A key is offered (in the footer, F1 help and the command palette) only when the store says this desk may take
that action on this order now: the state machine's and the role's rules together (``OrderStore.allowed``).
The store checks again when the action runs, so a stale screen can never do what it may not.

Each action asks only for what it needs (a small form, see :mod:`screens.forms`); returning and cancelling
ask for confirmation. The action runs as one store transaction in a thread worker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.binding import Binding

from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import name, t
from fengqiao.models.machine import (
    ASSIGNMENT_ACTIONS,
    SATISFACTIONS,
    VISIBILITIES,
    Action,
    AssignmentState,
    Intent,
    OrderState,
)

from .base import safe
from .context import DeskMixin
from .forms import ActionForm, ConfirmScreen, FormField
from .orderfmt import assignee_label, tag_label

log = logging.getLogger("fengqiao.board")

# Keys of the screen actions (one UI action may stand for several state-machine actions).
ACTION_KEYS: list[tuple[str, str, bool]] = [  # (key, ui action, shown in the footer when offered)
    ("s", "sign", True),
    ("a", "arrive", True),
    ("f", "feedback", True),
    ("r", "return", False),
    ("t", "reassign", True),
    ("d", "extend", False),
    ("p", "decide-extension", True),
    ("e", "escalate", True),
    ("v", "visit", True),
    ("o", "reopen", False),
    ("c", "close", True),
    ("x", "cancel", False),
    ("j", "judge-return", False),
    ("n", "note", False),
    ("u", "urge", True),
]
UI_ACTIONS: dict[str, tuple[Action, ...]] = {
    "decide-extension": (Action.APPROVE_EXTENSION, Action.REFUSE_EXTENSION),
}
DESTRUCTIVE = frozenset({"return", "cancel"})

ACTION_BINDINGS = [
    Binding(key, f"act('{ui}')", f"board.key_{ui}", show=show, id=f"order.{ui}") for key, ui, show in ACTION_KEYS
]


def machine_actions(ui: str) -> tuple[Action, ...]:
    return UI_ACTIONS.get(ui) or (Action(ui),)


@dataclass(frozen=True)
class Offer:
    """What the desk may do on one order now."""

    state: OrderState
    allowed: list[tuple[Action, str | None]]

    def has(self, ui: str) -> bool:
        wanted = machine_actions(ui)
        return any(a in wanted for a, _ in self.allowed)


def _reason_field(label_key: str, *, required: bool) -> FormField:
    return FormField("note", "text", t(label_key), required=required, text_field="reason" if required else "note")


def form_fields(
    ui: str, state: OrderState, options: list[tuple[Action, str | None]], ref: Any, lang: str
) -> list[FormField]:
    """The fields action ``ui`` needs (none for sign, arrive and close)."""
    if ui == "feedback":
        return [
            FormField(
                "result",
                "choice",
                t("field.result"),
                choices=[(r, t(f"result.{r}")) for r in ("resolved", "unresolved")],
                default="resolved",
            ),
            FormField("note", "text", t("board.form_feedback_text"), required=True, text_field="text"),
        ]
    if ui == "return":
        return [_reason_field("board.form_return_reason", required=True)]
    if ui == "cancel":
        return [_reason_field("board.form_cancel_reason", required=True)]
    if ui == "reassign":
        current = state.primary.dept
        choices = [(d.code, f"{d.code}  {name(d)}") for d in ref.departments.values() if d.code not in ("GA", current)]
        return [
            FormField("to", "dept", t("field.to"), required=True, choices=choices),
            _reason_field("board.form_reassign_reason", required=False),
        ]
    if ui == "extend":
        return [
            FormField("hours", "hours", t("field.hours"), required=True, default="24"),
            _reason_field("board.form_extend_reason", required=True),
        ]
    if ui == "decide-extension":
        offered = {a for a, _ in options}
        choices = [(str(a), t(f"action.{a}")) for a in UI_ACTIONS[ui] if a in offered]
        return [
            FormField("decision", "choice", t("board.form_decision"), choices=choices),
            _reason_field("board.form_decision_note", required=False),
        ]
    if ui == "escalate":
        return [_reason_field("board.form_escalate_note", required=True)]
    if ui == "visit":
        return [
            FormField(
                "satisfaction",
                "choice",
                t("field.satisfaction"),
                choices=[(s, t(f"satisfaction.{s}")) for s in SATISFACTIONS],
                default="satisfied",
            ),
            _reason_field("board.form_visit_note", required=False),
        ]
    if ui == "note":
        return [
            FormField("note", "text", t("board.form_note_text"), required=True, text_field="note"),
            FormField(
                "visibility",
                "choice",
                t("board.form_visibility"),
                choices=[(v, t(f"note.{v}")) for v in VISIBILITIES],
                default="internal",
            ),
        ]
    if ui == "urge":
        return [_reason_field("board.form_urge_note", required=False)]
    if ui == "reopen":
        return [_reason_field("board.form_reopen_reason", required=False)]
    if ui == "judge-return":
        return [
            FormField(
                "justified",
                "choice",
                t("field.justified"),
                choices=[("yes", t("board.justified_yes")), ("no", t("board.justified_no"))],
            ),
            _reason_field("board.form_judge_note", required=False),
        ]
    return []


def build_intent(ui: str, target: AssignmentState | None, values: dict[str, Any]) -> Intent:
    assignee = target.assignee if target is not None else None
    note = str(values.get("note", ""))
    if ui == "decide-extension":
        return Intent(Action(values["decision"]), assignee=assignee, note=note)
    action = Action(ui)
    return Intent(
        action,
        assignee=assignee if action in ASSIGNMENT_ACTIONS else None,
        note=note,
        result=values.get("result"),
        satisfaction=values.get("satisfaction"),
        to=values.get("to"),
        hours=values.get("hours"),
        justified=None if "justified" not in values else values["justified"] == "yes",
        visibility=values.get("visibility"),
    )


def context_text(ui: str, state: OrderState, target: AssignmentState | None, ref: Any, lang: str) -> Text:
    """The lines a form shows above its fields: which order, which assignment, and what is being decided."""
    text = Text(f"{state.order_no}  {tag_label(ref, state.tag)}")
    if target is not None:
        text.append(f"\n{assignee_label(ref, target.assignee, lang)}")
    if ui == "decide-extension" and target is not None and target.ext_hours:
        text.append("\n" + t("board.ctx_extension", hours=target.ext_hours) + " ")
        text.append_text(safe(target.ext_reason or "", single_line=True))
    if ui == "judge-return" and target is not None and target.return_reason:
        text.append("\n" + t("board.ctx_return") + " ")
        text.append_text(safe(target.return_reason, single_line=True))
    if ui == "visit" and state.primary.result:
        text.append(f"\n{t('field.result')}：{t(f'result.{state.primary.result}')} ")
        text.append_text(safe(state.primary.feedback_text or "", single_line=True))
    if ui == "reassign" and state.primary.return_reason:
        text.append("\n" + t("board.ctx_return") + " ")
        text.append_text(safe(state.primary.return_reason, single_line=True))
    return text


class ActionsMixin(DeskMixin):
    """Mix into a Screen that can tell which order is in focus (:meth:`current_offer`)."""

    app: Any

    def current_offer(self) -> Offer | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def after_action(self, state: OrderState | None) -> None:  # pragma: no cover - overridden
        """Called on the UI thread after an action (``None``: refused); reload what the screen shows."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            offer = self.current_offer()
            return offer is not None and bool(parameters) and offer.has(str(parameters[0]))
        return super().check_action(action, parameters)  # type: ignore[misc]

    # ---- the flow: target -> form -> confirmation -> store ---------------------------------------
    def action_act(self, ui: str) -> None:
        offer = self.current_offer()
        if offer is None or not offer.has(ui):
            self.app.bell()
            return
        wanted = machine_actions(ui)
        options = [(a, tgt) for a, tgt in offer.allowed if a in wanted]
        targets = list(dict.fromkeys(tgt for _, tgt in options))
        state = offer.state
        if len(targets) > 1:
            lang = self.ctx.lang
            choices = [
                (str(tgt), assignee_label(self.ctx.ref, state.assignment(tgt).assignee, lang)) for tgt in targets if tgt
            ]
            form = ActionForm(
                t(f"board.key_{ui}"),
                context_text(ui, state, None, self.ctx.ref, lang),
                [FormField("target", "choice", t("field.assignee"), choices=choices)],
            )

            def chosen(values: dict[str, Any] | None) -> None:
                if values:
                    picked = [(a, tgt) for a, tgt in options if tgt == values["target"]]
                    self._ask(ui, state, picked)

            self.app.push_screen(form, chosen)
            return
        self._ask(ui, state, options)

    def _ask(self, ui: str, state: OrderState, options: list[tuple[Action, str | None]]) -> None:
        target_id = options[0][1]
        target = state.assignment(target_id) if target_id else None
        lang = self.ctx.lang
        fields = form_fields(ui, state, options, self.ctx.ref, lang)
        if not fields:
            self._confirm(ui, state, target, {})
            return

        def filled(values: dict[str, Any] | None) -> None:
            if values is not None:
                self._confirm(ui, state, target, values)

        self.app.push_screen(
            ActionForm(t(f"board.key_{ui}"), context_text(ui, state, target, self.ctx.ref, lang), fields), filled
        )

    def _confirm(self, ui: str, state: OrderState, target: AssignmentState | None, values: dict[str, Any]) -> None:
        intent = build_intent(ui, target, values)
        if ui not in DESTRUCTIVE:
            self.run_intent(state.order_no, intent)
            return
        message = Text(t(f"board.confirm_{ui}", order_no=state.order_no) + "\n")
        message.append_text(safe(intent.note))

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_intent(state.order_no, intent)

        self.app.push_screen(ConfirmScreen(t(f"board.key_{ui}"), message), answered)

    @work(thread=True, group="order-act", exit_on_error=False)
    def run_intent(self, order_no: str, intent: Intent) -> None:
        try:
            state = self.ctx.store.act(order_no, intent)
        except FengqiaoError as exc:
            self.app.call_from_thread(self._acted, order_no, intent, None, str(exc))
            return
        except Exception as exc:  # a bug: keep the console alive, say what happened
            log.exception("action %s on %s failed", intent.action, order_no)
            self.app.call_from_thread(self._acted, order_no, intent, None, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._acted, order_no, intent, state, None)

    def _acted(self, order_no: str, intent: Intent, state: OrderState | None, error: str | None) -> None:
        if state is None:
            self.app.notify(error or "", title=t("board.refused"), severity="error", timeout=8, markup=False)
            self.after_action(None)
            return
        self.app.notify(
            t("board.done", order_no=order_no, action=t(f"action.{intent.action}"), status=t(f"status.{state.status}")),
            timeout=4,
            markup=False,
        )
        self.after_action(state)
