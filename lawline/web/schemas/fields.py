"""Rules shared by several bodies: ids, citizens' numbers, how a contact was closed."""

from __future__ import annotations

import re
from enum import StrEnum

from lawline.phone_numbers import normalise_number

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_number(value: str) -> str:
    """A citizen's number as `normalise_number` takes it (digits, an optional leading +,
    bounded); the error never repeats the value."""
    return normalise_number(value)


def check_id(value: str | None) -> str | None:
    if value is not None and not _ID.match(value):
        raise ValueError("ids are 1-64 letters, digits, '_', '.' or '-'")
    return value


class Disposition(StrEnum):
    """How the lawyer closed the contact (办结方式)."""

    ANSWERED = "answered"
    REFERRED_LEGAL_AID = "referred_legal_aid"
    REFERRED_MEDIATION = "referred_mediation"
    REFERRED_NOTARY = "referred_notary"
    REFERRED_COURT = "referred_court"
    APPOINTMENT = "appointment"
    CALLBACK_NEEDED = "callback_needed"
