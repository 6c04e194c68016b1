"""Validation of what a call-taker types about a call, before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass

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


def validate_intake(ref: Reference, form: IntakeForm) -> IntakeForm:
    """Return the form normalized (phone canonical, town code), or raise ValidationError for the first bad field."""
    phone = normalize_phone(form.phone)
    town = ref.town(form.town).code if form.town and form.town.strip() else ""
    if not town:
        from .errors import ValidationError
        from .i18n import t

        raise ValidationError(t("error.required", field=t("field.town")), field="town")
    name = check_text("name", form.name)
    address = check_text("address", form.address)
    description = check_text("description", form.description, required=True)
    return IntakeForm(phone=phone, town=town, description=description, name=name, address=address)
