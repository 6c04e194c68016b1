"""Places and distances for the phone page's arrivals (pure: reads a CSV, no network).

``places.csv`` in the reference folder lists known places (``town,name,lat,lon``): villages, streets, landmarks.
An arrival's distance is given from the place a call's address names; an address that names no known place
gives no distance (the coordinates are still kept). The shipped list is a small sample with approximate
coordinates; a county puts its own gazetteer in its reference folder (docs/reference-data.md).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

EARTH_M = 6_371_000.0


@dataclass(frozen=True)
class Place:
    town: str
    name: str
    lat: float
    lon: float


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))


@cache
def places(directory: Path | None) -> tuple[Place, ...]:
    """The places of a reference folder (none when it has no ``places.csv``; bad rows are skipped)."""
    if directory is None:
        return ()
    path = Path(directory) / "places.csv"
    if not path.is_file():
        return ()
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                lat, lon = float(row["lat"]), float(row["lon"])
            except (KeyError, TypeError, ValueError):
                continue
            if -90 <= lat <= 90 and -180 <= lon <= 180 and row.get("name"):
                out.append(Place((row.get("town") or "").strip(), row["name"].strip(), lat, lon))
    return tuple(sorted(out, key=lambda p: -len(p.name)))  # the longest name an address contains wins


def find_place(directory: Path | None, town: str, address: str) -> Place | None:
    """The known place ``address`` names in ``town`` (or in any town when the place's town is blank)."""
    if not address:
        return None
    for p in places(directory):
        if p.name in address and p.town in ("", town):
            return p
    return None
