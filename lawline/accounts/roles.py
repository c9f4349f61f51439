"""Who may do what: the roles of people and of lawline's own processes."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    LAWYER = "lawyer"
    MEDIATOR = "mediator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    # lawline's own processes and tools, which carry service tokens:
    GATEWAY = "gateway"  # terminal gateways and scripts that enter contacts
    WORKER = "worker"  # telephony workers
    SCRAPER = "scraper"  # Prometheus, reading /metrics


# Roles a person's account may have; people sign in and hold sessions, never tokens.
USER_ROLES = (Role.LAWYER, Role.MEDIATOR, Role.SUPERVISOR, Role.ADMIN)
# Roles a service token may carry; no person's role is ever one of these.
SERVICE_ROLES = (Role.GATEWAY, Role.WORKER, Role.SCRAPER)
