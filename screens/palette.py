"""Command palette entries for a screen's keys: every key that works here (the same list as F1 help).

Add ``COMMANDS = {ScreenKeys}`` to a Screen: Ctrl+P then lists its actions by their localized names (only the
enabled ones, so an order action appears exactly when it may be taken) and runs the one chosen.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ScreenKeys(Provider):
    def _commands(self) -> Iterator[tuple[str, str, Any]]:
        screen = self.screen
        seen: set[str] = set()
        for _key, active in screen.active_bindings.items():
            binding = active.binding
            if not active.enabled or not binding.description or binding.description in seen:
                continue
            if binding.action in ("help", "command_palette", "app.command_palette", "quit"):
                continue  # the app lists these itself
            seen.add(binding.description)
            yield (
                binding.description,
                self.app.get_key_display(binding),
                partial(self.app.run_action, binding.action, active.node),
            )

    async def discover(self) -> Hits:
        for name, key, run in self._commands():
            yield DiscoveryHit(name, run, help=key)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, key, run in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=key)
