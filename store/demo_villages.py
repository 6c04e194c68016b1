"""Villages for the demo generator's calls (store/demo.py): which village and grid a synthetic address is in.

A pure function of the town and the address (CRC-32, no random numbers drawn), so the demo's other choices stay
as they were, and a frequent caller's address always lands in the same village. About six calls in ten get one:
the address becomes ``<village><an area word of one of its grids><n>号`` (前岩村祠堂7号), so the village is found
from the address as on a real desk, and the grid is that area's.
"""

from __future__ import annotations

import zlib

from fengqiao.models.reference import Reference
from fengqiao.models.villages import Grid, Village

SHARE = 6  # in ten calls


class DemoVillages:
    def __init__(self, ref: Reference) -> None:
        self.ref = ref
        self.by_town: dict[str, list[Village]] = {}
        for v in ref.villages.values():
            self.by_town.setdefault(v.town, []).append(v)

    def place(self, town: str, address: str) -> tuple[str, str | None, str | None]:
        """(address, village code, grid code) for a call in ``town`` from ``address``."""
        places = self.by_town.get(town)
        if not places:
            return address, None, None
        crc = zlib.crc32(f"{town}|{address}".encode())
        if crc % 10 >= SHARE:
            return address, None, None
        village = places[(crc // 10) % len(places)]
        if not village.grids:
            return f"{village.name_zh}{address}", village.code, None
        grid: Grid = self.ref.grids[village.grids[(crc // 1000) % len(village.grids)]]
        word = grid.area[(crc // 10000) % len(grid.area)] if grid.area else ""
        return f"{village.name_zh}{word}{(crc // 100000) % 60 + 1}号", village.code, grid.code
