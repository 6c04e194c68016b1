"""A hand-built week of orders where every KPI is known exactly; shared by the KPI, report and cockpit tests.

Everything goes through OrderStore (the real state machine), entered with explicit times (late entries) while
the clock stands at END. Calls from 2026-11-20 09:00 Shanghai (01:00 UTC); phones are unique per scenario.

Department SCJG (tag B01: sign 10 min, arrive 30 min, feedback 24 h, site visit), town LS:

=====  ===========================================================  =====  ======  ========  ======
order  story                                                        sign   arrive  feedback  repeat
=====  ===========================================================  =====  ======  ========  ======
o1     on time everywhere, resolved, visit satisfied, closed         ok     ok      ok        7 min: no
o2     signs late (15), arrives 25, feeds back at 30 h, visit basic  late   ok      late      8 min: yes
o3     signs at 11, extension 24 h approved, feedback at 30 h        late   ok      ok (ext)  72 h: yes
       (unresolved, so fed back but not resolved)
o4     feedback unresolved, reopened, resolved 2 h later (new        ok     ok      ok (new)  73 h: no
       deadline), visit unsatisfied
o5     returned unsigned after 3 min, judged unjustified, reassigned fail   fail    fail      —
       to ZJJ
o6     signed, returned, judged justified (left out)                 —      —       —         —
o7     returned, not judged (left out)                               —      —       —         —
o8     dispatched 3 minutes before "now" (pending: left out)         —      —       —         —
o9     dual B02 (ZJJ + 鹿山派出所): police arrive at 12, ZJJ at 20 (gap +8 min)
o10    cancelled (left out of every rate)
=====  ===========================================================  =====  ======  ========  ======

SCJG: sign 2/5, arrival 4/5, feedback 3/5, resolution 2/4 (o1, o2 of o1–o4), repeat 2/5 (o1–o4, o8),
satisfaction 2/3, score 100 × (0.4 + 0.8 + 0.6 + 0.5 + 0.6) / 5 = 58.0.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fengqiao.models.clock import UTC, FixedClock
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent
from fengqiao.store.orders import OrderStore

START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 2026-11-20 09:00 Shanghai
END = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)  # the conftest clock: 2026-11-28 09:30 Shanghai
M = timedelta(minutes=1)
H = timedelta(hours=1)


def dispatch(
    store: OrderStore,
    phone: str,
    tag: str,
    at: datetime,
    town: str = "LS",
    address: str = "",
    text: str = "来电反映情况",
) -> str:
    form = IntakeForm(phone=phone, town=town, description=text, address=address)
    return store.dispatch(form, tag, at=at, received_at=at).order_no


def act(store: OrderStore, no: str, at: datetime, action: Action, **kw: object) -> None:
    store.act(no, Intent(action, **kw), at=at)  # type: ignore[arg-type]


def full_course(
    store: OrderStore,
    no: str,
    t0: datetime,
    *,
    sign: int,
    arrive: int,
    feedback: timedelta,
    result: str = "resolved",
    assignee: str | None = None,
) -> None:
    act(store, no, t0 + sign * M, Action.SIGN, assignee=assignee)
    act(store, no, t0 + arrive * M, Action.ARRIVE, assignee=assignee)
    act(store, no, t0 + feedback, Action.FEEDBACK, result=result, note="已处置", assignee=assignee)


def build(store: OrderStore, clock: FixedClock) -> dict[str, str]:
    """Write the week; leaves the clock at END. Returns the order numbers by name."""
    clock.set(END)
    o: dict[str, str] = {}
    t = START
    o["o1"] = dispatch(store, "13800000001", "B01", t)
    full_course(store, o["o1"], t, sign=5, arrive=20, feedback=2 * H)
    act(store, o["o1"], t + 3 * H, Action.VISIT, satisfaction="satisfied")
    act(store, o["o1"], t + 4 * H, Action.CLOSE)
    o["r1"] = dispatch(store, "13800000001", "B11", t + 7 * M)  # 7 minutes: not a repeat

    t = START + 10 * M
    o["o2"] = dispatch(store, "13800000002", "B01", t)
    full_course(store, o["o2"], t, sign=15, arrive=25, feedback=30 * H)
    act(store, o["o2"], t + 31 * H, Action.VISIT, satisfaction="basic")
    o["r2"] = dispatch(store, "13800000002", "B11", t + 8 * M)  # 8 minutes: a repeat

    t = START + 20 * M
    o["o3"] = dispatch(store, "13800000003", "B01", t)
    act(store, o["o3"], t + 11 * M, Action.SIGN)
    act(store, o["o3"], t + 20 * M, Action.ARRIVE)
    act(store, o["o3"], t + 1 * H, Action.EXTEND, hours=24, note="需协调多方")
    act(store, o["o3"], t + 2 * H, Action.APPROVE_EXTENSION)
    act(store, o["o3"], t + 30 * H, Action.FEEDBACK, result="unresolved", note="分歧较大")
    o["r3"] = dispatch(store, "13800000003", "B11", t + 72 * H)  # exactly 72 hours: a repeat

    t = START + 30 * M
    o["o4"] = dispatch(store, "13800000004", "B01", t)
    full_course(store, o["o4"], t, sign=5, arrive=20, feedback=2 * H, result="unresolved")
    act(store, o["o4"], t + 3 * H, Action.REOPEN, note="重新办理")
    act(store, o["o4"], t + 5 * H, Action.FEEDBACK, result="resolved", note="已化解")
    act(store, o["o4"], t + 6 * H, Action.VISIT, satisfaction="unsatisfied")
    o["r4"] = dispatch(store, "13800000004", "B11", t + 73 * H)  # 73 hours: not a repeat

    t = START + 40 * M
    o["o5"] = dispatch(store, "13800000005", "B01", t)
    act(store, o["o5"], t + 3 * M, Action.RETURN, note="不属于本单位")
    act(store, o["o5"], t + 10 * M, Action.REASSIGN, to="ZJJ", note="改派")
    act(store, o["o5"], t + 1 * H, Action.JUDGE_RETURN, justified=False, note="推诿")

    t = START + 50 * M
    o["o6"] = dispatch(store, "13800000006", "B01", t)
    act(store, o["o6"], t + 2 * M, Action.SIGN)
    act(store, o["o6"], t + 4 * M, Action.RETURN, note="确属他部门")
    act(store, o["o6"], t + 1 * H, Action.JUDGE_RETURN, justified=True, note="合理")

    t = START + 60 * M
    o["o7"] = dispatch(store, "13800000007", "B01", t)
    act(store, o["o7"], t + 3 * M, Action.RETURN, note="不属于本单位")

    t = START + 70 * M
    o["o9"] = dispatch(store, "13800000009", "B02", t)
    for minutes, action, who in (
        (3, Action.SIGN, "GA"),
        (4, Action.SIGN, "ZJJ"),
        (12, Action.ARRIVE, "GA"),
        (20, Action.ARRIVE, "ZJJ"),
    ):
        act(store, o["o9"], t + minutes * M, action, assignee=who)
    act(store, o["o9"], t + 3 * H, Action.FEEDBACK, assignee="GA", result="resolved", note="现场秩序正常")
    act(store, o["o9"], t + 4 * H, Action.FEEDBACK, assignee="ZJJ", result="resolved", note="已协调物业")

    t = START + 80 * M
    o["o10"] = dispatch(store, "13800000010", "B01", t)
    act(store, o["o10"], t + 30 * M, Action.CANCEL, note="报警人称已解决")

    o["o8"] = dispatch(store, "13800000008", "B01", END - 3 * M)
    return o
