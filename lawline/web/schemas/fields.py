"""Rules shared by several bodies: ids, citizens' numbers, how a contact was closed."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import PlainValidator, WithJsonSchema

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


# A date, or a moment, in a query (?since=2026-12-01&until=2026-12-31): a plain date is
# a whole day of the centre's (until: up to the end of that day), a datetime keeps its
# offset or, without one, is read on the centre's clock (`lawline.centre_time`).
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# "+08:00" typed into a URL unescaped arrives as " 08:00".
_SPACED_OFFSET = re.compile(r"(\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def parse_day_or_time(value: object) -> date | datetime:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("give a date (2026-12-01) or a time (2026-12-01T08:30:00+08:00)")
    text = _SPACED_OFFSET.sub(r"\1+\2", value.strip())
    try:
        when = date.fromisoformat(text) if _DAY.match(text) else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("give a date (2026-12-01) or a time (2026-12-01T08:30:00+08:00)") from None
    if not 1970 <= when.year <= 2999:  # and no overflow at the ends of the calendar
        raise ValueError("dates are from 1970 to 2999")
    return when


DayOrTime = Annotated[
    date | datetime,
    PlainValidator(parse_day_or_time),
    WithJsonSchema(
        {
            "type": "string",
            "description": "a date (a whole day in the centre's time zone) or an ISO time",
            "examples": ["2026-12-01", "2026-12-01T08:30:00+08:00"],
        }
    ),
]
