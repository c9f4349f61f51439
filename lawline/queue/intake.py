"""A contact as it enters the queue: one function builds it, whoever brings it.

A phone call (the menu's route, the SIP terminal or trunk it came from), a
voicemail, a village terminal's button and the HTTP API all enter contacts;
each says where the contact goes (a Route: the skills routing matches lawyers
on) and where it comes from (an Origin), and `new_contact` puts them together.
Plain values: no I/O, ids and times passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from lawline.queue.model import Contact
from lawline.queue.skills import Channel, Domain, GreenReason, Service

# A route that names no language: Mandarin.
DEFAULT_LANGUAGE = "zh"


class Route(Protocol):
    """Where a contact goes: the skills it carries into the queue (the voice menu's
    Route and the API's ContactIn are ones)."""

    @property
    def service(self) -> Service: ...

    @property
    def domain(self) -> Domain | None: ...

    @property
    def language(self) -> str | None: ...

    @property
    def green(self) -> GreenReason | None: ...


@dataclass(frozen=True, slots=True)
class Skills:
    """A Route made in code (a terminal's button, a voicemail)."""

    service: Service
    domain: Domain | None = None
    language: str | None = None
    green: GreenReason | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a contact comes from: its channel, the calling number ('' when withheld or
    none), and what the menu, trunk or terminal recorded (the ledger's origin)."""

    channel: Channel
    caller: str = ""
    attrs: Mapping[str, str] = field(default_factory=dict)


def new_contact(
    route: Route,
    origin: Origin,
    *,
    contact_id: str,
    entered_at: float,
    preferred_lawyer: str | None = None,
    callback: bool = False,
) -> Contact:
    """The waiting contact that enters the queue (addContact)."""
    return Contact(
        id=contact_id,
        channel=origin.channel,
        service=route.service,
        domain=route.domain,
        language=route.language or DEFAULT_LANGUAGE,
        caller=origin.caller,
        green=route.green,
        preferred_lawyer=preferred_lawyer,
        callback=callback,
        entered_at=entered_at,
        attrs=dict(origin.attrs),
    )
