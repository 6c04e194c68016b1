"""Outbound DingTalk-style notifications when an order is routed to a department: queued with the push,
delivered afterwards, retried on failure, never in the way of a dispatch."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest

from fengqiao.models.errors import ValidationError
from fengqiao.models.machine import Action, Intent
from fengqiao.server.webhooks import Deliverer, WebhookConfig, pending

from .hub import FORM, Hub


def config(tmp_path: Path, text: str) -> WebhookConfig:
    path = tmp_path / "server.toml"
    path.write_text(text, encoding="utf-8")
    return WebhookConfig.load(path)


def test_a_dispatch_is_announced_to_the_department(tmp_path: Path) -> None:
    hooks = config(
        tmp_path,
        '[webhooks]\nmsgtype = "markdown"\nSCJG = "https://robot.example/scjg"\nZJJ = "https://robot.example/zjj"\n',
    )
    hub = Hub(f"sqlite:///{tmp_path / 'server.db'}", tmp_path, hooks=hooks)
    sent: list[httpx.Request] = []

    def robot(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    try:
        ct = hub.add("CT1", "call_taker", prefix="SZ")
        o = ct.store.dispatch(FORM, "B01")  # SCJG
        ct.store.dispatch(FORM, "C04")  # SW: no webhook configured
        ct.sync()
        deliverer = Deliverer(hub.server, clock=hub.clock, client=httpx.Client(transport=httpx.MockTransport(robot)))
        while deliverer.deliver_due():
            pass
        assert [str(r.url) for r in sent] == ["https://robot.example/scjg"]
        body = json.loads(sent[0].content)
        assert body["msgtype"] == "markdown" and o.order_no in body["markdown"]["title"]
        assert "市场监督管理局" in body["markdown"]["text"] and "10:40" not in body["markdown"]["title"]
        assert FORM.phone.replace(" ", "") not in sent[0].content.decode()  # no caller data leaves the county
        assert FORM.description not in sent[0].content.decode()
        # returned and reassigned to ZJJ: ZJJ's robot hears about it
        scjg = hub.add("SCJG", "department", dept="SCJG")
        scjg.sync()
        hub.clock.advance(minutes=3)
        scjg.store.act(o.order_no, Intent(Action.RETURN, note="不归我们"))
        scjg.sync()
        ct.sync()
        ct.store.act(o.order_no, Intent(Action.REASSIGN, to="ZJJ", note="改派"))
        ct.sync()
        while deliverer.deliver_due():
            pass
        assert [str(r.url) for r in sent] == ["https://robot.example/scjg", "https://robot.example/zjj"]
        assert all(row["delivered_at"] for row in pending(hub.server))
    finally:
        hub.close()


def test_failures_are_retried_and_never_block_dispatch(tmp_path: Path) -> None:
    hooks = config(tmp_path, '[webhooks]\nmsgtype = "text"\nmax_attempts = 3\nSCJG = "https://robot.example/x"\n')
    hub = Hub(f"sqlite:///{tmp_path / 'server.db'}", tmp_path, hooks=hooks)
    calls = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("no route")
        if len(calls) == 2:
            return httpx.Response(200, json={"errcode": 310000, "errmsg": "keywords not in content"})
        return httpx.Response(500)

    try:
        ct = hub.add("CT1", "call_taker", prefix="SZ")
        ct.store.dispatch(FORM, "B01")
        assert ct.sync().pushed == 1  # stored at once: the robot is not contacted during the push
        assert calls == []
        deliverer = Deliverer(
            hub.server, clock=hub.clock, client=httpx.Client(transport=httpx.MockTransport(down)), rng=random.Random(1)
        )
        assert deliverer.deliver_due()
        assert not deliverer.deliver_due()  # the next try waits for its backoff
        row = pending(hub.server)[0]
        assert row["attempts"] == 1 and "ConnectError" in row["last_error"] and row["next_try_at"]
        body = json.loads(calls[0].content)
        assert body["msgtype"] == "text" and "新派单" in body["text"]["content"]
        for _ in range(2):
            hub.clock.advance(hours=1)
            assert deliverer.deliver_due()
        row = pending(hub.server)[0]
        assert row["attempts"] == 3 and row["next_try_at"] is None and row["delivered_at"] is None  # gave up
        assert "500" in row["last_error"]
        hub.clock.advance(hours=5)
        assert not deliverer.deliver_due()
    finally:
        hub.close()


def test_bad_webhook_config_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="msgtype"):
        config(tmp_path, '[webhooks]\nmsgtype = "card"\n')
    with pytest.raises(ValidationError, match="webhooks.SCJG"):
        config(tmp_path, '[webhooks]\nSCJG = "ftp://x"\n')
