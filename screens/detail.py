"""One order in full: the call, the routing, each assignment with its deadlines and times, and the timeline.

Opened with Enter from the board. The same single-letter actions as on the board, offered exactly when the
store allows them for this desk. Esc goes back. Refreshes when the store changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from fengqiao.models import geo
from fengqiao.models.clock import fmt_local
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import t
from fengqiao.models.machine import AssignmentState, Event, OrderState
from fengqiao.models.privacy import phone_view
from fengqiao.models.roles import own_deadline
from fengqiao.models.routing import describe_assignee
from fengqiao.models.text import visible
from fengqiao.models.urgency import Urgency
from fengqiao.store.attention import mark_seen

from .actions import ACTION_BINDINGS, ActionsMixin, Offer
from .base import LocalizedMixin, safe
from .messages import StoreChanged
from .orderfmt import assignee_label, countdown_cell, stamp, status_label, tag_label, town_label, when
from .palette import ScreenKeys

WIDE = 110  # from this width on the timeline shows the record time in its own column
# Payload fields worth showing in the timeline, in this order (the dispatch payload is summarised instead).
_DETAIL_FIELDS = ("result", "text", "satisfaction", "hours", "justified", "reason", "note")


class DetailBody(LocalizedMixin, VerticalScroll):
    """The scrolling body (its scroll keys listed in the desk's language in F1 help)."""


class DetailScreen(ActionsMixin, LocalizedMixin, Screen[None]):
    COMMANDS: ClassVar = {ScreenKeys}

    DEFAULT_CSS = """
    DetailScreen #detail-body { height: 1fr; padding: 0 1; }
    DetailScreen #detail-body:focus { background-tint: $foreground 0%; }
    DetailScreen .section { height: auto; margin-top: 1; }
    DetailScreen .title { text-style: bold; height: auto; }
    DetailScreen .heading { text-style: bold underline; height: 1; margin-top: 1; }
    """

    BINDINGS: ClassVar = [
        Binding("escape", "back", "detail.back", show=True, id="detail.back"),
        *ACTION_BINDINGS,
        Binding("ctrl+r", "reload", "board.reload", show=False, id="detail.reload"),
    ]

    class Loaded(Message):
        def __init__(self, offer: Offer | None, events: list[Event], error: str | None = None) -> None:
            super().__init__()
            self.offer, self.events, self.error = offer, events, error

    def __init__(self, order_no: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order_no = order_no
        self.offer: Offer | None = None
        self.events: list[Event] = []
        self._title_shown: Text | None = None

    def compose(self) -> ComposeResult:
        yield self.desk_app.make_header()
        with DetailBody(id="detail-body"):
            yield Static(t("detail.loading"), id="detail-title", classes="title")
            yield Static("", id="detail-call", classes="section")
            yield Static(t("detail.assignments"), classes="heading")
            yield Static("", id="detail-assignments")
            yield Static(t("detail.timeline"), classes="heading")
            yield Static("", id="detail-timeline")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail-body").focus()
        self.set_interval(1.0, self._tick)
        self.load()

    # ---- loading -------------------------------------------------------------------------------
    def load(self) -> None:
        self._load()

    @work(thread=True, group="detail-load", exclusive=True, exit_on_error=False)
    def _load(self) -> None:
        store = self.ctx.store
        try:
            state, events = store.order_with_events(self.order_no)
            offer = Offer(state, store.allowed(state))
            # merge and split (store/merging.py): the absorbed orders whose merge took, the children's states
            self.merged_orders = store.merged_calls(state) if state.absorbed else []
            self.split_children = store.children(state) if state.children else []
            if not self.ctx.read_only:
                mark_seen(self.ctx.db, self.ctx.desk, state.id, self.ctx.clock())  # opened: it no longer floats
        except FengqiaoError as exc:
            self.post_message(self.Loaded(None, [], str(exc)))
            return
        self.post_message(self.Loaded(offer, events))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.offer is None:
            self._set_title(Text(message.error or ""))
            self.offer = None
            self.refresh_bindings()
            return
        self.offer = message.offer
        self.events = message.events
        self._show_order()
        self.refresh_bindings()

    def current_offer(self) -> Offer | None:
        return self.offer

    def after_action(self, state: Any) -> None:
        self.load()

    def on_store_changed(self, _message: StoreChanged) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        if self.offer is not None:
            self.load()

    def on_resize(self) -> None:
        if self.offer is not None:
            self._show_order()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()

    # ---- rendering -----------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.offer is not None:
            self._set_title(self._title(self.offer.state, self.ctx.clock()))

    def _set_title(self, title: Text) -> None:
        """Show ``title`` unless it is what is shown already (the tick comes every second; a countdown past an
        hour changes once a minute, and a redraw re-lays out the screen)."""
        if title != self._title_shown:
            self._title_shown = title
            self.query_one("#detail-title", Static).update(title)

    def _title(self, o: OrderState, now: datetime) -> Text:
        nxt = own_deadline(self.ctx.desk, self.ctx.ref, o)  # a department's own deadline, not the station's
        due, level = countdown_cell(
            str(o.status), nxt[0] if nxt else None, nxt[1] if nxt else None, nxt[2] if nxt else None, now
        )
        text = Text(f"{o.order_no}  ", style="bold")
        text.append(f"{status_label(str(o.status))}  ")
        text.append_text(due)
        text.append(f"  {tag_label(self.ctx.ref, o.tag)}  {t(f'mode.{o.mode}')}")
        if o.escalations:
            text.append("  " + t("detail.escalated", count=o.escalations), style="bold")
        if o.urges:
            text.append("  " + t("detail.urged", count=o.urges), style="bold")
        if level == Urgency.OVERDUE and o.first_overdue_at:
            text.append("  " + t("detail.overdue_since", at=when(o.first_overdue_at, now)))
        return text

    def _phone(self, phone: str) -> str:
        """A caller's number as this desk sees it (the one rule everywhere: ``models.privacy.phone_view``)."""
        return phone_view(self.ctx.desk)(phone)

    def _show_order(self) -> None:
        assert self.offer is not None
        o = self.offer.state
        now = self.ctx.clock()
        ref, lang = self.ctx.ref, self.ctx.lang
        self._set_title(self._title(o, now))
        # The call and the routing.
        call = Text()
        call.append(t("detail.caller") + "：", style="bold")
        call.append(self._phone(o.call.phone))
        if o.call.name:
            call.append(" ")
            call.append_text(safe(o.call.name, single_line=True))
        call.append("  " + fmt_local(o.call.received_at) + "\n")
        call.append(t("field.town") + "：", style="bold")
        call.append(town_label(ref, o.town) + " ")
        call.append_text(safe(o.call.address, single_line=True))
        if o.village and o.village in ref.villages:  # grassroots: the village, its grid worker, the rule, who is told
            v = ref.villages[o.village]
            call.append("\n" + t("grassroots.pv_village") + "：", style="bold")
            call.append(v.name_en if lang == "en" else v.name_zh)
            g = ref.grids.get(o.grid or "")
            if g is not None:
                call.append(
                    " · " + t("grassroots.pv_grid", grid=g.name_en if lang == "en" else g.name_zh, worker=g.worker)
                )
            if o.rule:
                call.append(" · " + t("grassroots.detail_rule", rule=o.rule), style="italic")
            if o.informed:
                told = "、".join(describe_assignee(ref, c, lang) for c in o.informed)
                call.append(" · " + t("grassroots.detail_informed", who=told))
        call.append("\n" + t("field.description") + "：", style="bold")
        call.append_text(safe(o.call.description))
        for linked in o.linked_calls:
            call.append(
                "\n" + t("detail.linked_call", at=fmt_local(linked.received_at), phone=self._phone(linked.phone)) + " ",
                style="italic",
            )
            call.append_text(safe(linked.description, single_line=True))
        self._merge_lines(call, o)
        call.append("\n" + t("detail.routing") + "：", style="bold")
        route = [t(f"mode.{o.mode}")]
        if o.one_team:
            route.append(t("detail.one_team"))
        if o.repeat_of:
            route.append(t("detail.repeat_call"))
        call.append(" · ".join(route))
        if o.override_dept:
            call.append("\n" + t("detail.override", dept=o.override_dept) + " ")
            call.append_text(safe(o.override_reason or "", single_line=True))
        if o.satisfaction:
            call.append("\n" + t("field.satisfaction") + "：", style="bold")
            call.append(t(f"satisfaction.{o.satisfaction}") + " ")
            call.append_text(safe(o.visit_note or "", single_line=True))
        if o.cancel_reason:
            call.append("\n" + t("detail.cancelled") + "：", style="bold")
            call.append_text(safe(o.cancel_reason, single_line=True))
        self.query_one("#detail-call", Static).update(call)
        self.query_one("#detail-assignments", Static).update(self._assignments(o, now, lang))
        self.query_one("#detail-timeline", Static).update(self._timeline(o, now, lang))

    def _merge_lines(self, call: Text, o: OrderState) -> None:
        """Merge and split: where this order went, the calls of the orders merged into it, its parent, children."""
        if o.merge is not None:
            call.append(
                "\n"
                + t("cli.merged_into", order_no=o.merge.into_no, at=fmt_local(o.merge.at), reason="").rstrip("：: "),
                style="bold",
            )
        for x in getattr(self, "merged_orders", []):
            at, phone = fmt_local(x.call.received_at), self._phone(x.call.phone)
            call.append("\n" + t("detail.merged_call", order_no=x.order_no, at=at, phone=phone) + " ", style="italic")
            call.append_text(safe(x.call.description, single_line=True))
        if o.parent is not None:
            call.append("\n" + t("cli.split_from", order_no=o.parent[1]), style="bold")
        children = getattr(self, "split_children", [])
        if children:
            listed = ", ".join(f"{no}→{unit} {status_label(st) if st != '-' else '-'}" for no, unit, st in children)
            call.append("\n" + t("cli.split_children", children=listed))

    def _assignments(self, o: OrderState, now: datetime, lang: str) -> Group:
        ref = self.ctx.ref
        table = Table(box=None, padding=(0, 1), show_edge=False, expand=True, header_style="bold")
        table.add_column(t("cli.assignee"), ratio=3, overflow="fold")
        table.add_column(t("cli.status"), ratio=2, no_wrap=True)
        for kind in ("sign", "arrive", "feedback"):
            table.add_column(t(f"deadline.{kind}"), ratio=2, no_wrap=True)
        notes: list[Text] = []
        for a in o.assignments:
            who = Text(assignee_label(ref, a.assignee, lang))
            if a.role == "police":
                who.append(" " + t("detail.police_role"), style="dim")
            elif a.role == "co":
                who.append(" " + t("detail.co_role"), style="dim")
            if not a.active:
                who.stylize("dim strike" if a.status != "returned" else "dim")
            table.add_row(
                who,
                Text(t(f"asg_status.{a.status}")),
                self._step(a.sign_due, a.signed_at, now),
                self._step(a.arrive_due, a.arrived_at, now) if a.onsite else Text("—", style="dim"),
                self._step(a.feedback_due, a.fed_back_at, now),
            )
            notes.extend(self._assignment_notes(a, lang))
            notes.extend(self._field_notes(o, a, lang))
        return Group(table, *notes)

    def _step(self, due: datetime | None, done: datetime | None, now: datetime) -> Text:
        """``≤09:40`` and, once done, the time it was done (``✖`` when late)."""
        text = Text(f"≤{when(due, now)}", style="dim")
        if done is not None:
            late = due is not None and done > due
            text.append("\n" + ("✖" if late else "✓") + when(done, now), style="bold" if late else "")
        return text

    def _assignment_notes(self, a: AssignmentState, lang: str) -> list[Text]:
        who = assignee_label(self.ctx.ref, a.assignee, lang)
        out = []
        if a.result:
            line = Text(f"{who} {t('field.result')}：{t(f'result.{a.result}')} ")
            line.append_text(safe(a.feedback_text or "", single_line=True))
            out.append(line)
        if a.return_reason:
            line = Text(f"{who} {t('detail.returned')}：")
            line.append_text(safe(a.return_reason, single_line=True))
            if a.return_justified is not None:
                line.append("  " + t("board.justified_yes" if a.return_justified else "board.justified_no"))
            out.append(line)
        if a.ext_status:
            line = Text(f"{who} {t('detail.extension', hours=a.ext_hours or 0)} {t(f'detail.ext_{a.ext_status}')} ")
            line.append_text(safe(a.ext_reason or "", single_line=True))
            out.append(line)
        return out

    def _field_notes(self, o: OrderState, a: AssignmentState, lang: str) -> list[Text]:
        """What the phone page added: who of the unit holds it, where the arrival was, the feedback's photos
        (``fengqiao attach get`` fetches them from the server)."""
        who = assignee_label(self.ctx.ref, a.assignee, lang)
        out = []
        if a.holder_name:
            out.append(Text(visible(t("mobile.cli_holder", assignee=who, name=a.holder_name), single_line=True)))
        if a.location:
            where = f"{a.location['lat']:.5f}, {a.location['lon']:.5f}"
            place = geo.find_place(self.ctx.ref.directory, o.town, o.call.address)
            if place is not None:
                metres = round(geo.distance_m(place.lat, place.lon, a.location["lat"], a.location["lon"]))
                where += " " + t("mobile.cli_distance", metres=metres, place=place.name)
            out.append(Text(visible(t("mobile.cli_location", assignee=who, where=where), single_line=True)))
        for n, photo in enumerate(a.photos, start=1):
            text = t(
                "mobile.cli_photo",
                n=n,
                assignee=who,
                kb=max(1, round(photo["size"] / 1024)),
                at=fmt_local(a.fed_back_at),
                sha=photo["sha256"][:16] + "…",
            )
            out.append(Text(text, style="dim"))
        if a.photos:
            out.append(Text(t("mobile.cli_photo_hint", order_no=o.order_no), style="dim"))
        return out

    def _timeline(self, o: OrderState, now: datetime, lang: str) -> Table:
        table = Table(box=None, padding=(0, 1), show_edge=False, expand=True, header_style="bold")
        wide = self.size.width >= WIDE
        table.add_column(t("cli.event_at"), no_wrap=True, min_width=14)
        if wide:
            table.add_column(t("cli.recorded_at"), no_wrap=True, min_width=14)
        table.add_column(t("cli.kind"), no_wrap=True, min_width=8)
        table.add_column(t("detail.who"), ratio=2, overflow="fold")
        table.add_column(t("cli.detail"), ratio=5, overflow="fold")
        by_id = {a.id: a for a in o.assignments}
        for ev in self.events:
            at = Text(stamp(ev.event_at))
            late = abs((ev.recorded_at - ev.event_at).total_seconds()) >= 60
            recorded = Text(stamp(ev.recorded_at), style="bold" if late else "dim")
            if late and not wide:  # a late entry: when it was recorded matters
                at.append("\n" + t("detail.recorded", at=stamp(ev.recorded_at)), style="dim")
            who = safe(ev.actor, single_line=True)
            if ev.desk and ev.desk != ev.actor:
                who.append(" @ ")
                who.append_text(safe(ev.desk, single_line=True))
            cells = [at, recorded] if wide else [at]
            table.add_row(*cells, Text(t(f"action.{ev.kind}")), who, self._event_detail(ev, by_id, lang))
        return table

    def _event_detail(self, ev: Event, by_id: dict[str, AssignmentState], lang: str) -> Text:
        ref = self.ctx.ref
        p = ev.payload
        text = Text()
        if ev.assignment_id and ev.assignment_id in by_id:
            text.append(assignee_label(ref, by_id[ev.assignment_id].assignee, lang) + " ", style="dim")
        if ev.kind == "dispatch":
            text.append(
                " + ".join(
                    assignee_label(ref, a["assignee"], lang) + (t("detail.co_role") if a.get("role") == "co" else "")
                    for a in p.get("assignments", [])
                )
            )
            return text
        if ev.kind == "reassign":
            text.append("→ " + assignee_label(ref, p.get("assignment", {}).get("assignee"), lang) + " ")
        if ev.kind == "merge-into":
            text.append(f"→ {str(p.get('into_no', ''))[:40]} ")
        if ev.kind == "merged":
            text.append(
                "← "
                + " ".join(str(x.get("order_no", ""))[:40] for x in p.get("orders", []) if isinstance(x, dict))
                + " "
            )
        if ev.kind == "unmerged":
            text.append(f"↩ {str(p.get('order_no', ''))[:40]} ")
        if ev.kind == "split":
            listed = [
                f"{str(c.get('order_no', ''))[:40]}→{str(c.get('assignee', ''))[:40]}"
                for c in p.get("children", [])
                if isinstance(c, dict)
            ]
            text.append(" ".join(listed) + " ")
        if ev.kind == "note":
            visibility = str(p.get("visibility", "internal"))
            label = t(f"note.{visibility}") if visibility in ("internal", "caller") else visibility[:16]
            text.append(f"[{label}] ", style="bold" if visibility == "caller" else "dim")
            text.append_text(safe(str(p.get("text", "")), single_line=True))
            return text
        if ev.kind == "link":
            call = p.get("call", {})
            text.append(self._phone(str(call.get("phone", ""))) + " ")
            text.append_text(safe(str(call.get("description", "")), single_line=True))
            return text
        for key in _DETAIL_FIELDS:
            value = p.get(key)
            if value in (None, ""):
                continue
            if key == "result":
                text.append(t(f"result.{value}") + " ")
            elif key == "satisfaction":
                text.append(t(f"satisfaction.{value}") + " ")
            elif key == "hours":
                text.append(t("detail.hours", hours=value) + " ")
            elif key == "justified":
                text.append(t("board.justified_yes" if value else "board.justified_no") + " ")
            else:
                text.append_text(safe(str(value), single_line=True))
                text.append(" ")
        if ev.kind == "approve-extension" and p.get("feedback_due"):
            from fengqiao.models.clock import from_db

            text.append(t("detail.new_due", at=fmt_local(from_db(p["feedback_due"]))))
        text.rstrip()
        return text
