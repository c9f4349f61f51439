"""Who may do what: the roles of people and of lawline's own processes."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    LAWYER = "lawyer"
    MEDIATOR = "mediator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    # lawline's own processes: telephony workers and terminal gateways enter contacts.
    GATEWAY = "gateway"


# Roles a person's account may have; GATEWAY is only ever a service token's.
USER_ROLES = (Role.LAWYER, Role.MEDIATOR, Role.SUPERVISOR, Role.ADMIN)
