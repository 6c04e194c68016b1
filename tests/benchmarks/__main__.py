"""``make bench``: run every benchmark module and print one table of figures, floors and ratios.

make bench                      # everything, sizes 10k, 100k and 1M orders
make bench ARGS="--quick"       # smaller sizes, for a quick look
make bench ARGS="--only demo"   # modules whose name contains "demo"
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback

from rich.cells import cell_len

from tests import benchmarks
from tests.benchmarks.common import Context, Row


def _fmt(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(rows: list[Row]) -> None:
    headers = ["area", "measurement", "value", "unit", "floor", "ratio", "note"]
    cells = [[r.area, r.what, _fmt(r.value), r.unit, _fmt(r.floor), r.ratio, r.note] for r in rows]
    widths = [
        max(cell_len(h), *(cell_len(c[i]) for c in cells)) if cells else cell_len(h) for i, h in enumerate(headers)
    ]
    right = {2, 4, 5}

    def line(values: list[str]) -> str:
        out = []
        for i, (v, w) in enumerate(zip(values, widths, strict=True)):
            pad = " " * (w - cell_len(v))
            out.append(pad + v if i in right else v + pad)
        return "| " + " | ".join(out) + " |"

    print(line(headers))
    print("|" + "|".join(("-" * (w + 1) + ":" if i in right else "-" * (w + 2)) for i, w in enumerate(widths)) + "|")
    for c in cells:
        print(line(c))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--only", action="append", default=[], help="run modules whose name contains this")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--sizes", help="comma-separated order counts, e.g. 10000,100000")
    args = parser.parse_args(argv)
    ctx = Context(quick=args.quick)
    if args.sizes:
        ctx.sizes = [int(s) for s in args.sizes.split(",")]
    elif args.quick:
        ctx.sizes = [10_000]
    rows: list[Row] = []
    failed = 0
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda i: i.name):
        if not info.name.startswith("bench_"):
            continue
        if args.only and not any(o in info.name for o in args.only):
            continue
        module = importlib.import_module(f"tests.benchmarks.{info.name}")
        started = time.perf_counter()
        print(f"… {info.name}", file=sys.stderr, flush=True)
        try:
            rows.extend(module.bench(ctx))
        except Exception:  # one broken benchmark must not hide the others' figures
            failed += 1
            traceback.print_exc()
            rows.append(Row(info.name.removeprefix("bench_"), "FAILED (see stderr)", "-"))
        print(f"  {info.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
