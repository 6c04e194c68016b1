"""The grassroots units' code prefixes, apart from models/villages.py (its loaders and dataclasses), so that what
only needs to recognise a grassroots code — routing, the KPI tables, the cockpit — does not load the villages."""

from __future__ import annotations

GRASSROOTS = ("TJ", "WG", "SO")  # mediation committee, grid worker, social organisation: the assignee prefixes
GRASSROOTS_PREFIXES = tuple(f"{kind}-" for kind in GRASSROOTS)  # TJ-<village>, WG-<grid>, SO-<organisation>
