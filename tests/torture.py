"""A writer for crash tests: real store calls in a loop, acknowledging each committed write.

``python -m tests.torture --db PATH`` (a real process for the crash tests to kill) and the crash test's forked
victims both run :func:`run`: it
dispatches orders (with hostile text among ordinary text), moves its own orders along (sign, arrive,
feed back, visit, close) and links repeat calls, each one transaction through :class:`OrderStore`, exactly
as the console does. After each commit it calls ``ack(order_no, events)``: the order and how many events it
has now. Whatever was acknowledged must survive a SIGKILL at any moment.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable

from fengqiao.models.clock import Clock, system_clock
from fengqiao.models.errors import FengqiaoError
from fengqiao.models.intake import IntakeForm
from fengqiao.models.machine import Action, Intent, OrderState
from fengqiao.models.reference import default_reference
from fengqiao.models.roles import Desk, make_desk
from fengqiao.store.db import Database, open_db
from fengqiao.store.orders import OrderStore

TEXTS = (
    "买到假冒名牌运动鞋，商家拒绝退货",
    "楼上装修噪音太大，晚上十点还在施工",
    "[bold red]紧急[/] 物业不给开门 [link=http://x]点我[/link]",
    "\x1b[2J\x1b[31m清屏了吗\x1b]0;窗口标题\x07 \x9b31m",
    "😀🇨🇳👨‍👩‍👧 emoji 与生僻字 𠀀𪚥𰻞𰻞面",
    "多行\n第二行\t制表符\r回车",
)
STEPS = (Action.SIGN, Action.ARRIVE, Action.FEEDBACK, Action.VISIT, Action.CLOSE)
Ack = Callable[[str, int], None]


def run(db: Database, *, desk: Desk, seed: int, ack: Ack, count: int | None = None, clock: Clock = system_clock) -> int:
    """Write until ``count`` writes are done (forever if None); return how many were acknowledged."""
    rng = random.Random(seed)
    ref = default_reference()
    store = OrderStore(db, ref=ref, desk=desk, clock=clock)
    towns = sorted(ref.towns)
    tags = sorted(ref.tags)
    open_orders: dict[str, tuple[OrderState, int]] = {}
    done = 0
    while count is None or done < count:
        roll = rng.random()
        try:
            if not open_orders or roll < 0.35:
                form = IntakeForm(
                    phone=f"13{rng.randrange(3, 10)}{rng.randrange(10**8):08d}",
                    town=rng.choice(towns),
                    description=rng.choice(TEXTS),
                    name=rng.choice(("", "王[i]某", "李\x1b[7m")),
                    address=rng.choice(("", "某小区 3 幢", "𠀀街 [u]1[/u] 号")),
                )
                state = store.dispatch(form, rng.choice(tags))
                events = 1
            else:
                order_no = rng.choice(sorted(open_orders))
                state, events = open_orders[order_no]
                if roll < 0.42:
                    form = IntakeForm(phone=state.call.phone, town=state.town, description="又打来催促")
                    state = store.link(order_no, form)
                else:
                    state = _advance(store, state, rng)
                    if state is None:
                        del open_orders[order_no]
                        continue
                events += 1
        except FengqiaoError:
            continue  # e.g. a step another process made illegal: nothing was written
        if state.status in ("closed", "cancelled"):
            open_orders.pop(state.order_no, None)
        else:
            open_orders[state.order_no] = (state, events)
        ack(state.order_no, events)
        done += 1
    return done


def _advance(store: OrderStore, state: OrderState, rng: random.Random) -> OrderState | None:
    """Take the next forward step on ``state`` (None when no step is left)."""
    allowed = [(a, target) for a, target in store.allowed(state) if a in STEPS]
    if not allowed:
        return None
    action, target = rng.choice(allowed)
    assignee = state.assignment(target).assignee if target else None
    intent = Intent(
        action,
        assignee=assignee,
        note="已处理 [b]完毕[/b]" if action == Action.FEEDBACK else "",
        result="resolved" if action == Action.FEEDBACK else None,
        satisfaction="satisfied" if action == Action.VISIT else None,
    )
    return store.act(state.order_no, intent)


def main(argv: list[str] | None = None) -> None:
    """Write orders in a loop; print "ORDER_NO EVENTS" after each commit. Test-only: it writes fake orders."""
    parser = argparse.ArgumentParser(prog="python -m tests.torture")
    parser.add_argument("--db", required=True, help="the SQLite file to write (never a desk's real store)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=None, help="stop after this many writes (default: never)")
    parser.add_argument("--desk", default="torture")
    args = parser.parse_args(argv)
    db = open_db(args.db)
    out = sys.stdout

    def ack(order_no: str, events: int) -> None:
        out.write(f"{order_no} {events}\n")
        out.flush()

    try:
        run(db, desk=make_desk(default_reference(), args.desk, None), seed=args.seed, ack=ack, count=args.count)
    finally:
        db.close()


if __name__ == "__main__":
    main()
