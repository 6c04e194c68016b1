"""Optional outbound notifications: a DingTalk-robot-style message when an order is routed to a department.

The server's config file (``fengqiao server run --config server.toml``) names a webhook URL per assignee::

    [webhooks]
    msgtype = "markdown"          # or "text"
    SCJG = "https://oapi.dingtalk.com/robot/send?access_token=…"
    "ZZ-HZ" = "https://…"         # a township centre; "GA-HZ" a police station; "GA" every station

A message is written to ``srv_webhooks`` in the same transaction as the dispatch (or reassignment) it
announces, so it is never lost, and a background thread delivers it afterwards: a push never waits for
DingTalk. Failed deliveries are retried with capped exponential backoff and jitter, up to ``max_attempts``.
The message carries the order number, tag, town and deadlines, never the caller's phone or words.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import or_, select, update

from fengqiao.models.backoff import backoff_delay
from fengqiao.models.clock import Clock, fmt_local, system_clock, to_db
from fengqiao.models.errors import ValidationError
from fengqiao.models.governance import NoticeState
from fengqiao.models.i18n import t
from fengqiao.models.machine import Action, Event, OrderState
from fengqiao.models.markdown import md_escape
from fengqiao.models.reference import Reference
from fengqiao.models.routing import describe_assignee
from fengqiao.models.tomlfile import read_toml, table

from .schema import SrvWebhook

log = logging.getLogger("fengqiao.server.webhooks")
MSGTYPES = ("markdown", "text", "actionCard")


@dataclass
class WebhookConfig:
    urls: dict[str, str] = field(default_factory=dict)  # assignee code (SCJG, ZZ-HZ, GA-HZ) or dept (GA) -> URL
    msgtype: str = "markdown"
    max_attempts: int = 10
    lang: str = "zh"
    link: Any = None  # (order id, unit) -> the phone page's signed link; set by the app when [field] is configured

    @classmethod
    def load(cls, path: Path) -> WebhookConfig:
        section = table(read_toml(path), "webhooks", path)
        msgtype = section.get("msgtype", "markdown")
        if msgtype not in MSGTYPES:
            raise ValidationError(t("config.bad_value", path=path, key="webhooks.msgtype", value=msgtype))
        attempts = section.get("max_attempts", 10)
        if not isinstance(attempts, int) or attempts < 1:
            raise ValidationError(t("config.bad_value", path=path, key="webhooks.max_attempts", value=attempts))
        urls = {}
        for key, value in section.items():
            if key in ("msgtype", "max_attempts", "lang"):
                continue
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise ValidationError(t("config.bad_value", path=path, key=f"webhooks.{key}", value=value))
            urls[key.upper()] = value
        lang = section.get("lang", "zh")
        return cls(urls=urls, msgtype=msgtype, max_attempts=attempts, lang=lang if lang in ("zh", "en") else "zh")

    def url_for(self, assignee: str, dept: str) -> str | None:
        return self.urls.get(assignee.upper()) or self.urls.get(dept.upper())

    def for_notice(self, ref: Reference, n: NoticeState, ev: Event, now: str) -> list[dict[str, Any]]:
        """One summary for a notice's owner per ``every`` calls recorded on it (not one message per call)."""
        if ev.kind != "notice_call" or not n.calls or len(n.calls) % n.every:
            return []
        url = self.url_for(n.owner, n.owner.split("-")[0])
        if not url:
            return []
        values = {"no": n.no, "title": md_escape(n.title), "calls": len(n.calls), "every": n.every}
        body: dict[str, Any]
        if self.msgtype == "text":
            body = {"msgtype": "text", "text": {"content": t("server.hook_notice", lang=self.lang, **values)}}
        else:
            title = t("server.hook_notice_title", lang=self.lang, **values)
            body = {
                "msgtype": "markdown",
                "markdown": {"title": title, "text": t("server.hook_notice", lang=self.lang, **values)},
            }
        return [
            {
                "event_id": ev.id,
                "order_id": n.id,
                "assignee": n.owner,
                "url": url,
                "body": json.dumps(body, ensure_ascii=False),
                "attempts": 0,
                "next_try_at": now,
                "claimed_until": None,
                "delivered_at": None,
                "last_error": None,
            }
        ]

    def for_event(
        self, ref: Reference, before: OrderState | None, after: OrderState, ev: Event, now: str
    ) -> list[dict[str, Any]]:
        """Rows for ``srv_webhooks``: one per assignment this applied event routes the order to."""
        if ev.kind == Action.DISPATCH:
            targets = list(after.assignments)
        elif ev.kind == Action.REASSIGN:
            old = {a.id for a in before.assignments} if before else set()
            targets = [a for a in after.assignments if a.id not in old]
        elif ev.kind == Action.REOPEN:
            targets = list(after.active_assignments)
        elif ev.kind in (Action.MERGE_INTO, Action.UNMERGE):  # merged away: its units told their work is withdrawn
            merge = str(ev.payload.get("merge"))  # ... and, the merge undone, that it is theirs again
            if ev.kind == Action.MERGE_INTO:
                targets = [a for a in after.assignments if a.withdrawn == merge]
            else:
                gone = {a.id for a in before.assignments if a.withdrawn == merge} if before else set()
                targets = [a for a in after.active_assignments if a.id in gone]
        else:
            return []
        rows = []
        for a in targets:
            url = self.url_for(a.assignee, a.dept)
            if url:
                rows.append(
                    {
                        "event_id": ev.id,
                        "order_id": after.id,
                        "assignee": a.assignee,
                        "url": url,
                        "body": json.dumps(
                            message(
                                ref,
                                after,
                                a.assignee,
                                self.msgtype,
                                self.lang,
                                link=self.link(after.id, a.assignee) if self.link else None,
                                reopened=ev.kind == Action.REOPEN,
                                merged_into=after.merge.into_no
                                if ev.kind == Action.MERGE_INTO and after.merge
                                else None,
                                unmerged=ev.kind == Action.UNMERGE,
                            ),
                            ensure_ascii=False,
                        ),
                        "attempts": 0,
                        "next_try_at": now,
                        "claimed_until": None,
                        "delivered_at": None,
                        "last_error": None,
                    }
                )
        return rows


def message(
    ref: Reference,
    o: OrderState,
    assignee: str,
    msgtype: str = "markdown",
    lang: str = "zh",
    *,
    link: str | None = None,
    reopened: bool = False,
    merged_into: str | None = None,
    unmerged: bool = False,
) -> dict:
    """The DingTalk robot JSON body (``msgtype`` text, markdown or actionCard) announcing order ``o`` to
    ``assignee``; with ``link``, the phone page's signed link to the order (buttons on an actionCard)."""
    tag = ref.tags[o.tag]
    town = ref.towns[o.town]
    a = next(x for x in reversed(o.assignments) if x.assignee == assignee)
    values = {
        "order_no": o.order_no,
        "assignee": describe_assignee(ref, assignee, lang),
        "tag": f"{tag.code} {tag.name_en if lang == 'en' else tag.name_zh}",
        "town": town.name_en if lang == "en" else town.name_zh,
        "mode": t(f"mode.{o.mode}", lang=lang),
        "sign_due": fmt_local(a.sign_due),
        "feedback_due": fmt_local(a.feedback_due),
    }
    title = t("server.hook_title", lang=lang, **values)
    if reopened:
        title = t("server.hook_reopened", lang=lang, order_no=o.order_no)
    if merged_into is not None:  # withdrawn: a plain notice, no buttons (there is nothing left to do)
        text = t("server.hook_withdrawn", lang=lang, into=merged_into, **values)
        if msgtype == "text":
            return {"msgtype": "text", "text": {"content": text}}
        return {"msgtype": "markdown", "markdown": {"title": text, "text": md_escape(text)}}
    if unmerged:
        title = t("server.hook_unmerged", lang=lang, order_no=o.order_no)
    if msgtype == "text":
        text = t("server.hook_text", lang=lang, **values)
        return {"msgtype": "text", "text": {"content": text + (f"\n{link}" if link else "")}}
    values = {k: md_escape(v) for k, v in values.items()}  # desk-sent text shown literally
    text = t("server.hook_markdown", lang=lang, **values)
    if msgtype == "actionCard" and link:
        buttons = [
            ("sign", "签收" if lang == "zh" else "Sign"),
            ("arrive", "到场" if lang == "zh" else "Arrive"),
            ("feedback", "反馈" if lang == "zh" else "Feed back"),
        ]
        return {
            "msgtype": "actionCard",
            "actionCard": {
                "title": title,
                "text": text,
                "btnOrientation": "1",
                "btns": [{"title": label, "actionURL": f"{link}#{step}"} for step, label in buttons],
            },
        }
    if link:
        text += "\n\n" + t("server.hook_link", lang=lang, link=link)
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


class Deliverer:
    """Delivers pending webhook rows in a daemon thread. Several server processes may run one each."""

    def __init__(
        self,
        store: Any,
        *,
        clock: Clock = system_clock,
        client: httpx.Client | None = None,
        interval: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.client = client or httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
        self.interval = interval
        self.rng = rng or random.Random()
        self.max_attempts = store.hooks.max_attempts if store.hooks else 10
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fengqiao-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.deliver_due() and not self._stop.is_set():
                    pass
            except Exception:  # noqa: BLE001 - keep delivering; the database may come back
                log.exception("webhook delivery failed")
            self._stop.wait(self.interval)

    def _claim(self) -> dict[str, Any] | None:
        """Take one due row for 60 s (safe with several server processes)."""
        now = self.clock()
        text = to_db(now)
        with self.store.write() as conn:
            stmt = (
                select(SrvWebhook)
                .where(
                    SrvWebhook.delivered_at.is_(None),
                    SrvWebhook.next_try_at.is_not(None),
                    SrvWebhook.next_try_at <= text,
                    or_(SrvWebhook.claimed_until.is_(None), SrvWebhook.claimed_until < text),
                )
                .order_by(SrvWebhook.id)
                .limit(1)
            )
            if self.store.dialect != "sqlite":
                stmt = stmt.with_for_update(skip_locked=True)
            row = conn.execute(stmt).first()
            if row is None:
                return None
            conn.execute(
                update(SrvWebhook.__table__)
                .where(SrvWebhook.id == row.id)
                .values(claimed_until=to_db(now + timedelta(seconds=60)))
            )
            return dict(row._mapping)

    def deliver_due(self) -> bool:
        """Deliver one due message; False when none is due."""
        row = self._claim()
        if row is None:
            return False
        error = None
        try:
            resp = self.client.post(
                row["url"], content=row["body"].encode(), headers={"Content-Type": "application/json; charset=utf-8"}
            )
            if resp.status_code != 200:
                error = f"HTTP {resp.status_code}"
            else:
                try:
                    data = resp.json()
                except ValueError:
                    data = {}
                if isinstance(data, dict) and data.get("errcode", 0) not in (0, None):
                    error = f"errcode {data.get('errcode')}: {data.get('errmsg', '')}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        now = self.clock()
        attempts = int(row["attempts"]) + 1
        if error is None:
            values = {"delivered_at": to_db(now), "attempts": attempts, "next_try_at": None, "claimed_until": None}
        else:
            delay = backoff_delay(attempts - 1, 5.0, 3600.0, self.rng)
            nxt = None if attempts >= self.max_attempts else to_db(now + timedelta(seconds=delay))
            values = {"attempts": attempts, "next_try_at": nxt, "claimed_until": None, "last_error": error[:500]}
        with self.store.write() as conn:
            conn.execute(update(SrvWebhook.__table__).where(SrvWebhook.id == row["id"]).values(**values))
        return True


def pending(store: Any) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(SrvWebhook).order_by(SrvWebhook.id))]
