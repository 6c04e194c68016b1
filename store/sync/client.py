"""One desk talking to the server: hello, push, pull, epoch checks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from fengqiao.models.answers import digest
from fengqiao.models.clock import Clock, from_db, system_clock
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.i18n import t
from fengqiao.models.roles import Desk
from fengqiao.models.validate import CLOCK_SKEW

from ..db import Database
from ..kb import keep_synced, synced_sha
from ..signing import fingerprint, is_key
from ..wire import MAX_PULL, PROTOCOL, AnswersFile, Hello, OutEvent, PullResponse, PushResponse, push_json
from .errors import SyncAuthError, SyncError, SyncTooLarge, SyncUnavailable
from .log import META_CURSOR, META_EPOCH, META_PUSHED, DeskLog, meta_int
from .transport import HttpTransport

log = logging.getLogger("fengqiao.sync")

PUSH_BYTES = 4 * 1024 * 1024  # a push body stays under half the server's 8 MiB limit (server/limits.py)


def _fits(batch: list[OutEvent], budget: int) -> list[OutEvent]:
    """The leading events of ``batch`` whose JSON stays within ``budget`` bytes (at least one event).

    Estimated without serializing: a payload character is at most 3 bytes of UTF-8 (escapes that make it more
    are rare, and the server's 413 makes the client halve the batch anyway), plus the other fields."""
    total = 0
    for i, ev in enumerate(batch):
        total += 3 * len(ev.payload) + 2 * len(ev.actor) + 600
        if total > budget and i > 0:
            return batch[:i]
    return batch


@dataclass
class SyncReport:
    pushed: int = 0
    duplicates: int = 0
    refused: int = 0
    quarantined: int = 0  # pulled events that failed validation here: stored, marked, not projected
    pulled: int = 0
    orders: int = 0
    epoch_reset: bool = False
    head: int = 0
    cursor: int = 0
    waiting: int = 0
    clock_skew: float | None = None  # seconds this desk's clock is ahead of the server's (negative: behind)
    problems: list[str] = field(default_factory=list)
    answers: bool = False  # a new knowledge base came from the server

    @property
    def changed(self) -> bool:
        return bool(self.pulled or self.refused or self.quarantined or self.epoch_reset or self.orders or self.answers)


class _Restart(Exception):
    """The server's epoch changed under us: start the round again from the new state."""


class SyncClient:
    """One desk talking to the server. Holds no state of its own: everything is in the desk's file."""

    log_class: type[DeskLog] = DeskLog

    def __init__(
        self,
        db: Database,
        transport: HttpTransport,
        *,
        desk: Desk | None = None,
        clock: Clock = system_clock,
        push_batch: int = 500,
        pull_limit: int = 1000,
        crash: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.log = self.log_class(db)
        self.transport = transport
        self.desk = desk
        self.clock = clock
        self.push_batch = push_batch
        self.pull_limit = min(pull_limit, MAX_PULL)
        self.crash = crash
        self.me: str | None = None

    def _crash(self, point: str) -> None:
        if self.crash is not None:
            self.crash(point)

    def hello(self) -> Hello:
        return self.transport.call("GET", "/v1/hello", Hello)

    def sync_once(self) -> SyncReport:
        """Push everything waiting, then pull everything new. Raises :class:`SyncError` subclasses."""
        return self._run(push=True, pull=True)

    def push(self) -> SyncReport:
        """Only push this desk's waiting events."""
        return self._run(push=True, pull=False)

    def pull(self) -> SyncReport:
        """Only pull what is new on the server."""
        return self._run(push=False, pull=True)

    def _run(self, *, push: bool, pull: bool) -> SyncReport:
        report = SyncReport()
        for _attempt in range(3):
            try:
                self._round(report, push=push, pull=pull)
                break
            except _Restart:
                report.epoch_reset = True
                continue
        if push and pull:
            self.log.mark_ok(self.clock())
        report.cursor = self.log.cursor()
        report.waiting = self.log.waiting(self.me or "")
        return report

    def _round(self, report: SyncReport, *, push: bool = True, pull: bool = True) -> None:
        marks = self._marks()  # read before asking, so a concurrent sync of this file cannot fool the check
        hello = self.hello()
        if self.desk is not None and self.desk.name != hello.desk:
            raise SyncError(t("sync.wrong_desk", token_desk=hello.desk, desk=self.desk.name))
        self.me = hello.desk
        if self.desk is not None and hello.prefix and self.desk.prefix != hello.prefix:
            report.problems.append(t("sync.wrong_prefix", prefix=self.desk.prefix, registered=hello.prefix))
        if hello.server_key:
            if not is_key(hello.server_key):
                raise SyncUnavailable(t("sync.garbage", server=self.transport.where))
            kept = self.log.trust_server_key(hello.server_key)
            if kept is not None:
                raise SyncError(t("sync.server_key_changed", kept=fingerprint(kept), now=fingerprint(hello.server_key)))
            marks = self._marks()
        self._clock_check(hello, report)
        self._check(hello.epoch, hello.head, marks, expected=hello.expected)
        rejected = self._push(report) if push else None
        if pull:
            self._pull(report)
            if hello.answers and hello.answers != synced_sha(self.db):
                self._answers(report)
        if rejected:
            raise SyncError(rejected)

    def _answers(self, report: SyncReport) -> None:
        """Fetch the county's knowledge base and keep it if it checks out; else say why and keep the old one."""
        try:
            got = self.transport.call("GET", "/v1/answers", AnswersFile)
        except SyncAuthError:
            raise
        except SyncError as exc:  # the events went through; the answers wait for the next round
            report.problems.append(t("sync.answers_failed", error=str(exc)))
            return
        if digest(got.toml) != got.sha256:
            report.problems.append(t("sync.answers_failed", error=t("sync.garbage", server=self.transport.where)))
            return
        try:
            keep_synced(self.db, self.log.ref, got.toml, self.clock())
        except FengqiaoError as exc:  # checked against this desk's reference data: a fault keeps the old copy
            report.problems.append(t("sync.answers_bad", error=str(exc)))
            return
        report.answers = True

    def _clock_check(self, hello: Hello, report: SyncReport) -> None:
        """Warn when this desk's clock is far from the server's: past ``CLOCK_SKEW`` its events are refused."""
        try:
            skew = self.clock() - from_db(hello.server_time)
        except (TypeError, ValueError):
            return
        report.clock_skew = skew.total_seconds()
        if abs(skew) > CLOCK_SKEW / 2:
            minutes = round(skew.total_seconds() / 60)
            report.problems.append(
                t("sync.clock_off", minutes=abs(minutes), way=t("sync.ahead" if minutes > 0 else "sync.behind"))
            )

    def _marks(self) -> tuple[int, int]:
        with self.db.read() as conn:
            return meta_int(conn, META_CURSOR), meta_int(conn, META_PUSHED)

    def _check(self, epoch: str, head: int, marks: tuple[int, int], *, expected: int | None = None) -> None:
        """Adopt the server's epoch; reset if it changed, or if the server has gone back in time (it has fewer
        events than this desk has pulled, or fewer of this desk's events than it acknowledged)."""
        me = self.me or ""
        cursor, pushed = marks
        known = self.log.meta(META_EPOCH)
        if known is None:
            self.log.adopt_epoch(epoch, me, reset=cursor > 0 or pushed > 0)
            return
        behind = head < cursor or (expected is not None and expected - 1 < pushed)
        if known != epoch or behind:
            log.warning("server epoch changed or server went back in time: re-pushing and re-pulling")
            self.log.adopt_epoch(epoch, me, reset=True)
            raise _Restart()

    def _push(self, report: SyncReport) -> str | None:
        """Push the outbox in batches; returns the first rejection's message (the queue stops there)."""
        me = self.me or ""
        limit, budget = self.push_batch, PUSH_BYTES
        while True:
            marks = self._marks()
            batch = _fits(self.log.outbox(me, limit), budget)
            if not batch:
                return None
            try:
                resp = self.transport.call(
                    "POST",
                    "/v1/push",
                    PushResponse,
                    body=push_json(PROTOCOL, self.log.meta(META_EPOCH), batch),
                )
            except SyncTooLarge:
                if len(batch) == 1:
                    raise
                limit = max(1, len(batch) // 2)  # the server's limit is lower than we thought: smaller batches
                budget = 1 << 62
                log.warning("push of %d events over the server's body limit: sending %d at a time", len(batch), limit)
                continue
            self._crash("push:answered")
            self._check(resp.epoch, resp.head, marks, expected=resp.expected)
            out = self.log.record_push(me, batch, resp)
            report.pushed += out.stored
            report.duplicates += out.duplicates
            report.refused += out.refused
            report.head = resp.head
            if out.rejected:
                report.problems.extend(out.rejected)
                return out.rejected[0]
            if out.taken_through < batch[0].desk_seq:  # nothing taken and nothing rejected: a gap
                own = self.log.own_head(me)
                if resp.expected > own + 1:
                    raise SyncError(t("sync.diverged", desk=me, expected=resp.expected, head=own))
                return None

    def _page(self, cursor: int) -> PullResponse:
        return self.transport.call("GET", "/v1/pull", PullResponse, params={"cursor": cursor, "limit": self.pull_limit})

    def _pull(self, report: SyncReport) -> None:
        """Pull pages until the server has no more. With a transport that allows it (``PREFETCH``), the next
        page is asked for in a thread while this one is stored: the server builds it meanwhile, in its own
        process. The pages, their order and their checks are the same; a page that fails comes after the pages
        before it are stored, as when it is asked for afterwards."""
        me = self.me or ""
        marks = self._marks()  # read before asking, as in _round
        prefetch = getattr(self.transport, "PREFETCH", False)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fengqiao-pull") as ahead:
            nxt: Future[PullResponse] | None = None
            while True:
                resp = nxt.result() if nxt is not None else self._page(marks[0])
                self._check(resp.epoch, resp.head, marks)
                if resp.cursor < marks[0]:
                    raise SyncUnavailable(t("sync.garbage", server=self.transport.where))
                nxt = ahead.submit(self._page, resp.cursor) if prefetch and resp.more else None
                new, orders = self.log.apply_pull(me, resp, self.crash, now=self.clock())
                report.quarantined += len(self.log.quarantined)
                report.problems.extend(self.log.quarantined)
                report.pulled += new
                report.orders += orders
                report.head = resp.head
                if not resp.more:
                    return
                # the marks the next page is checked against: this desk's, as they are once this page is stored
                marks = (resp.cursor, marks[1]) if nxt is not None else self._marks()
