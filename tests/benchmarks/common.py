"""Shared pieces for benchmarks: rows of the printed table, timing, and cached demo databases."""

from __future__ import annotations

import os
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fengqiao.models.clock import UTC, FixedClock

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench"
# Demo databases shared by every checkout on this machine: copied, then migrated to the checkout's schema.
BASE = Path(os.environ.get("FENGQIAO_BENCH_BASE", ROOT.parent / ".bench-base"))
# Every benchmark sees the same "now", so cached databases stay valid between runs.
BENCH_NOW = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
DEMO_VERSION = 2  # bump when the demo generator (or the state machine it drives) changes what it writes


@dataclass
class Row:
    area: str
    what: str
    value: float | str
    unit: str = ""
    floor: float | str | None = None  # the same work done the plainest possible way, for comparison
    note: str = ""

    @property
    def ratio(self) -> str:
        if isinstance(self.value, (int, float)) and isinstance(self.floor, (int, float)) and self.floor:
            return f"{self.value / self.floor:.1f}×"
        return ""


@dataclass
class Context:
    sizes: list[int] = field(default_factory=lambda: [10_000, 100_000, 1_000_000])
    quick: bool = False
    tmp: Path = field(default_factory=lambda: CACHE / "tmp")

    def clock(self) -> FixedClock:
        return FixedClock(BENCH_NOW)

    def demo_db(self, orders: int, days: int | None = None) -> Path:
        """A demo database with ``orders`` orders, built once and kept in .bench/ (copy it before writing)."""
        from fengqiao.store import migrations
        from fengqiao.store.db import Database
        from fengqiao.store.demo import generate

        days = days or demo_days(orders)
        name = f"demo-{orders}-{days}-v{DEMO_VERSION}"
        path = CACHE / f"{name}-s{migrations.head()}.db"
        if path.exists():
            return path
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        for p in CACHE.glob(partial.name + "*"):
            p.unlink()
        base = shared_base(name, migrations.head())
        if base is not None:
            shutil.copyfile(base, partial)
            db = Database(partial)  # brings an older schema up to this checkout's
        else:
            db = Database(partial)
            generate(db, orders=orders, days=days, seed=1, clock=self.clock())
        db.checkpoint()
        db.close()
        partial.rename(path)
        if base is None:
            publish_base(path, name, migrations.head())
        return path

    def scratch(self, name: str) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        path = self.tmp / name
        for p in self.tmp.glob(name + "*"):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
        return path


def demo_days(orders: int) -> int:
    """How many days of history a demo of ``orders`` orders spans (about 2,700 orders a day at 1M)."""
    return max(30, min(365, orders // 2000))


def shared_base(name: str, head: int) -> Path | None:
    """The shared demo database ``name`` with the newest schema this checkout can open (migrating it up)."""
    found = []
    for candidate in BASE.glob(f"{name}-s*.db"):
        try:
            schema = int(candidate.stem.rsplit("-s", 1)[1])
        except ValueError:
            continue
        if schema <= head:
            found.append((schema, candidate))
    return max(found)[1] if found else None


def publish_base(path: Path, name: str, head: int) -> None:
    """Share a freshly generated demo database with the other checkouts (best effort)."""
    target = BASE / f"{name}-s{head}.db"
    if target.exists():
        return
    try:
        BASE.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copyfile(path, partial)
        partial.rename(target)
    except OSError:
        pass


def build_base(orders: int) -> Path:
    """Generate a shared demo database at this checkout's schema (``python -c 'from tests.benchmarks.common
    import build_base; build_base(1_000_000)'`` once per machine; the benchmarks also build what they miss)."""
    from fengqiao.store import migrations
    from fengqiao.store.db import Database
    from fengqiao.store.demo import generate

    days = demo_days(orders)
    name = f"demo-{orders}-{days}-v{DEMO_VERSION}"
    path = BASE / f"{name}-s{migrations.head()}.db"
    if path.exists():
        return path
    BASE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    db = Database(partial)
    generate(db, orders=orders, days=days, seed=1, clock=FixedClock(BENCH_NOW))
    db.checkpoint()
    db.close()
    for extra in (partial.with_name(partial.name + "-wal"), partial.with_name(partial.name + "-shm")):
        if extra.exists():
            extra.unlink()
    partial.rename(path)
    return path


def timed(fn: Callable[[], object], *, repeat: int = 5) -> float:
    """Median wall time in milliseconds of ``repeat`` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)
