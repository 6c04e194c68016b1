"""Capped exponential backoff with jitter: pure, shared by the desk's sync loop and the server's webhooks."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """The wait before retry number ``attempt`` (from 0): uniform in [d/2, d], d = min(cap, base·2^attempt)."""
    d = min(cap, base * 2**attempt)
    return d / 2 + rng.uniform(0, d / 2)


class Backoff:
    """Capped exponential backoff with jitter (:func:`backoff_delay`), counting the attempts."""

    def __init__(self, base: float = 1.0, cap: float = 120.0, rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()
        self.attempt = 0

    def next(self) -> float:
        self.attempt += 1
        return backoff_delay(self.attempt - 1, self.base, self.cap, self.rng)

    def reset(self) -> None:
        self.attempt = 0
