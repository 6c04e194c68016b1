"""Validation of what a call-taker types about a call, before anything is stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import from_db, to_db
from .phone import normalize_phone
from .reference import Reference
from .text import check_text


@dataclass(frozen=True)
class IntakeForm:
    phone: str
    town: str
    description: str
    name: str = ""
    address: str = ""
    no_number: bool = False  # taken without a number (withheld, on paper): chosen explicitly, phone left empty
    village: str = ""  # the village or community (a code or its name); empty: found from the address, if it names one
    grid: str = ""  # its grid (a code); empty: by the address's words, else the village's first grid


def validate_intake(ref: Reference, form: IntakeForm, *, words_required: bool = True) -> IntakeForm:
    """Return the form normalized (phone canonical, town code), or raise ValidationError for the first bad field.

    ``words_required`` False: a repeat call linked to an order may come without new words ("still nobody came"
    is often all a caller says, and the call-taker may link before typing it)."""
    if form.no_number:
        if form.phone.strip():
            from .errors import ValidationError
            from .i18n import t

            raise ValidationError(t("phone.number_and_none"), field="phone")
        phone = ""  # stored empty: shown as 无号码, left out of the repeat-call KPI
    else:
        phone = normalize_phone(form.phone)
    town = ref.town(form.town).code if form.town and form.town.strip() else ""
    if not town:
        from .errors import ValidationError
        from .i18n import t

        raise ValidationError(t("error.required", field=t("field.town")), field="town")
    name = check_text("name", form.name)
    address = check_text("address", form.address)
    description = check_text("description", form.description, required=words_required)
    village, grid = _village(ref, town, form.village, form.grid, address)
    return IntakeForm(
        phone=phone,
        town=town,
        description=description,
        name=name,
        address=address,
        no_number=form.no_number,
        village=village,
        grid=grid,
    )


def _village(ref: Reference, town: str, village: str, grid: str, address: str) -> tuple[str, str]:
    """The call's village and grid codes: those given (checked against the town), else the ones the address names
    (models/villages.py); ("", "") when neither."""
    from .routing import check_village, village_for
    from .villages import grid_for

    if not village.strip():
        if grid.strip():
            check_village(ref, ref.towns[town], None, grid)  # raises: a grid needs its village
        found, found_grid = village_for(ref, town, address)
        return found or "", found_grid or ""
    chosen = check_village(ref, ref.towns[town], village, grid)
    assert chosen is not None
    if grid.strip():
        return chosen.code, grid.strip().upper()
    g = grid_for(ref.villages, ref.grids, chosen.code, address)
    return chosen.code, g.code if g else ""


@dataclass(frozen=True)
class Draft:
    """What is typed on the intake form, as it is (not validated): kept in the store while the call is taken.

    ``town`` is the text in the town field, ``town_code`` the town chosen (empty until one is). Local desk
    state, not an order event: never synced, never in the log.
    """

    phone: str = ""
    name: str = ""
    town: str = ""
    town_code: str = ""
    address: str = ""
    description: str = ""
    tag: str = ""
    no_number: bool = False
    call_started: datetime | None = None
    saved_at: datetime | None = None

    def is_empty(self) -> bool:
        """Nothing a call-taker typed (a township centre's own town alone is not a call)."""
        texts = (self.phone, self.name, self.address, self.description)
        return not self.no_number and not any(x.strip() for x in texts)

    def to_json(self) -> str:
        data: dict[str, Any] = {k: getattr(self, k) for k in _DRAFT_TEXT}
        if self.no_number:
            data["no_number"] = True
        if self.call_started is not None:
            data["call_started"] = to_db(self.call_started)
        return json.dumps(data, sort_keys=True)  # ASCII escapes: any string typed survives the round trip

    @classmethod
    def from_json(cls, text: str, saved_at: datetime | None = None) -> Draft:
        """The draft stored as ``text``; what cannot be read is left empty (a draft is never worth a crash)."""
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        values = {k: v for k, v in data.items() if k in _DRAFT_TEXT and isinstance(v, str)}
        started = None
        if isinstance(data.get("call_started"), str):
            try:
                started = from_db(data["call_started"])
            except ValueError:
                started = None
        no_number = data.get("no_number") is True
        return cls(**values, no_number=no_number, call_started=started, saved_at=saved_at)


_DRAFT_TEXT = ("phone", "name", "town", "town_code", "address", "description", "tag")
