"""Benchmarks for ``make bench``: each ``bench_*.py`` module here has ``bench(ctx) -> list[Row]``.

They are not collected by ``make test`` (wall-clock figures on a shared machine are not assertions).
"""
