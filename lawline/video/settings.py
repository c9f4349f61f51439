"""WebRTC settings (`[webrtc]`): ICE servers, host addresses, TURN credentials."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IceServer(BaseModel):
    urls: list[str]
    username: str = ""
    credential: str = ""


class WebRTCSettings(BaseModel):
    # STUN/TURN servers for consoles and terminals; none by default (lawline never
    # asks a public STUN server unless one is configured here).
    ice_servers: list[IceServer] = Field(default_factory=list)
    # Addresses lawline's WebRTC peers offer as host candidates. Empty: every
    # interface (loopback left out). ["127.0.0.1"]: media stays on this machine.
    host_addresses: list[str] = Field(default_factory=list)
    # TURN relays for terminals behind NAT (coturn with `use-auth-secret`), e.g.
    # ["turn:turn.example.org:3478?transport=udp"]. Browsers get credentials lawline
    # issues (TURN REST style: short-lived, signed with turn_secret), never a password.
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: str = ""  # coturn's static-auth-secret
    turn_ttl_s: int = Field(default=3600, gt=0)  # how long issued credentials last
