"""Websocket settings (`[sockets]`): caps per credential, user and address."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SocketSettings(BaseModel):
    """Websockets of one web process: consoles, village terminals, supervisors' feeds."""

    # Open sockets per credential (a sign-in, a service token, a terminal's device token),
    # per user, and per source address (a township's boxes may share one NAT address).
    per_credential: int = Field(default=4, ge=1)
    per_user: int = Field(default=8, ge=1)
    per_address: int = Field(default=256, ge=1)
    # Queue events a console may fall behind by before it is closed (1013) to resync.
    console_queue: int = Field(default=10_000, ge=10)
    # A terminal sends its device token in its first frame within this long.
    auth_timeout_s: float = Field(default=10, gt=0)
    # Origins, besides the page's own, whose pages may open websockets here.
    allowed_origins: list[str] = Field(default_factory=list)


class WallboardSettings(BaseModel):
    """The supervisors' wallboard (`[wallboard]`): when a tile turns amber, then red."""

    longest_wait_amber_s: float = Field(default=60, gt=0)
    longest_wait_red_s: float = Field(default=120, gt=0)
    # The government-hotline standard: 95 % answered within routing.service_level_s.
    service_level_amber: float = Field(default=0.95, ge=0, le=1)
    service_level_red: float = Field(default=0.80, ge=0, le=1)
    abandon_rate_amber: float = Field(default=0.05, ge=0, le=1)
    abandon_rate_red: float = Field(default=0.10, ge=0, le=1)
