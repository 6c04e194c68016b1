"""Offline-first sync, the desk's side (no Textual here: the CLI, the console's worker and tests share it).

* **Outbox**: this desk's own events the server has not yet acknowledged, in ``desk_seq`` order. The mark
  ``sync.pushed`` (meta) is the last ``desk_seq`` the server took (stored, duplicate or refused): the server
  takes a desk's events only in order, so what it took is always a prefix of the desk's chain.
* **Push**: batches in desk order; the answer is recorded in one local transaction (server sequence numbers
  in ``event_state``; refused events marked and left out of the replay).
* **Pull**: by cursor; the events, the projection of every order they touch and the new cursor are written in
  one local transaction, so a crash mid-pull leaves the desk exactly as before. Events of kinds this version
  does not know are stored and kept (their status is ``unknown``).
* **Merge**: an order's state is the replay of its events in server order with this desk's unconfirmed events
  on top (``store.projection.load_events``); each event's outcome (applied, redundant, conflict, unknown)
  is stored in ``event_state`` and shown on the order's timeline.
* **Epoch**: when the server's epoch changes (restored from a backup) — or the server is seen to have gone
  back in time — the desk forgets every server sequence number, pulls from the start and re-pushes all it
  authored; the server's de-duplication makes that safe.
* **Retry**: :class:`SyncLoop` runs :meth:`SyncClient.sync_once` on a timer; network errors, time-outs,
  5xx and garbage answers are retried with capped exponential backoff and jitter.

The package, by concern: ``errors`` (the exceptions), ``log`` (the desk's bookkeeping: DeskLog, recompute, meta
keys), ``transport`` (HttpTransport), ``client`` (SyncClient, SyncReport), ``loop`` (SyncLoop, SyncStatus);
the backoff formula is ``models.backoff`` and an order's timeline ``store.timeline``.

Importing the package loads nothing: each name below is imported from its module on first use, so
``from fengqiao.store.sync import SyncError`` does not pull in httpx or pydantic.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "SyncError": "errors",
    "SyncUnavailable": "errors",
    "SyncAuthError": "errors",
    "SimulatedCrash": "errors",
    "META_EPOCH": "log",
    "META_CURSOR": "log",
    "META_PUSHED": "log",
    "META_LAST_OK": "log",
    "META_DESK": "log",
    "DeskLog": "log",
    "PushOutcome": "log",
    "recompute": "log",
    "meta_int": "log",
    "HttpTransport": "transport",
    "SyncClient": "client",
    "SyncReport": "client",
    "SyncLoop": "loop",
    "SyncStatus": "loop",
}
_ELSEWHERE = {
    "Backoff": "fengqiao.models.backoff",
    "backoff_delay": "fengqiao.models.backoff",
    "TimelineEntry": "fengqiao.store.timeline",
    "timeline": "fengqiao.store.timeline",
}
__all__ = sorted([*_WHERE, *_ELSEWHERE])


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        module = importlib.import_module(f"{__name__}.{_WHERE[name]}")
    elif name in _ELSEWHERE:
        module = importlib.import_module(_ELSEWHERE[name])
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value
