"""Shared pieces for benchmarks: rows of the printed table, timing, and cached demo databases."""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from models.clock import UTC, FixedClock

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench"
# Every benchmark sees the same "now", so cached databases stay valid between runs.
BENCH_NOW = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
DEMO_VERSION = 1  # bump when the demo generator changes what it writes


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
        from store import migrations
        from store.db import Database
        from store.demo import generate

        days = days or max(30, min(365, orders // 2000))
        path = CACHE / f"demo-{orders}-{days}-v{DEMO_VERSION}-s{migrations.head()}.db"
        if not path.exists():
            CACHE.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            for p in CACHE.glob(partial.name + "*"):
                p.unlink()
            db = Database(partial)
            generate(db, orders=orders, days=days, seed=1, clock=self.clock())
            with db.write() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
            partial.rename(path)
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


def timed(fn: Callable[[], object], *, repeat: int = 5) -> float:
    """Median wall time in milliseconds of ``repeat`` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)
