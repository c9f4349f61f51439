"""The media server's settings (`[media]`): Janus, run by `lawline serve` as a child.

Janus's APIs listen on private addresses only (loopback by default) and answer only
with the secrets lawline generates (data_dir/janus/secrets); browsers never talk to
them. Every phone conversation has its room there (media/rooms.py).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class MediaSettings(BaseModel):
    # Run Janus as a child of `lawline serve` (scripts/setup.sh installs it).
    enabled: bool = True
    janus: str = "janus"  # the binary (a name on PATH or a path)
    # Where Janus's modules are; None: the ones it was built with (Debian's).
    lib_dir: Path | None = None
    # Where the telephony workers and Janus exchange the callers' audio as plain RTP
    # (Janus's AudioBridge binds there, each call's relay too): loopback when they share
    # the node.
    rtp_host: str = "127.0.0.1"
    # Janus's HTTP API (lawline's client) and admin API: private addresses only.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8088, gt=0, lt=65536)
    admin_host: str = "127.0.0.1"
    admin_port: int = Field(default=7088, gt=0, lt=65536)
    # UDP ports of the WebRTC legs (ICE) and of plain-RTP participants (AudioBridge);
    # apart from the telephony workers' (telephony.rtp_port up).
    rtp_port_range: str = Field(default="20000-24999", pattern=r"^\d{1,5}-\d{1,5}$")
    plain_rtp_port_range: str = Field(default="25000-29999", pattern=r"^\d{1,5}-\d{1,5}$")
    # The addresses Janus offers as ICE candidates (its ice_enforce_list); empty: every
    # interface but loopback (Janus never offers loopback).
    interfaces: list[str] = Field(default_factory=list)
    # Behind a 1:1 NAT: the public address Janus advertises instead of its own.
    nat_1_1: str = ""
    # AudioBridge: packets buffered per participant before mixing (Janus's default 6
    # adds 120 ms each way; 2 dropped audio under load), and the rate a phone call's room
    # mixes at: the call is G.711, 8 kHz, end to end.
    prebuffer: int = Field(default=3, ge=1, le=20)
    sampling_rate: int = Field(default=8000)
    # The codec of the browsers in a phone call's room. PCMU, like the trunk: Janus then
    # neither encodes nor decodes Opus for the call (most of its cost per call) and the
    # caller's narrowband voice loses nothing. "opus" where lawyers' links lose packets
    # (its in-band FEC).
    browser_codec: Literal["pcmu", "opus"] = "pcmu"
    # Design B: while a lawyer talks to a caller, the SIP front steers the caller's RTP
    # straight to the call's room (telephony/steering.py), so no audio passes through the
    # worker; off: the worker relays it (design A). Only calls the Kamailio front signed;
    # a caller behind a NAT (RTP not from its SDP's address) is relayed all the same.
    steer_calls: bool = True
    # A console on duty keeps its connection up between calls, parked muted, so a call's
    # audio starts at accept without a new one (media/standby.py): ~150-250 ms sooner,
    # for about a quarter of a call's media-server CPU per waiting lawyer.
    park_lawyers: bool = True
    # A lawyer's console shows when a supervisor listens in, coaches or joins their call
    # (a centre's rule; media/monitoring.py).
    announce_monitoring: bool = True
    # Janus's shared event loops for handles (0: a thread per handle, Janus's default).
    event_loops: int = Field(default=2, ge=0)
    # Janus's configuration and the secrets every process of the node reads to reach
    # it; None: data_dir/janus.
    config_dir: Path | None = None
    # Janus drops a session nobody kept alive for this long.
    session_timeout_s: int = Field(default=60, ge=10)
    # How long `lawline serve` waits for Janus's API to answer after a start.
    start_timeout_s: float = Field(default=20, gt=0)

    @field_validator("sampling_rate")
    @classmethod
    def _janus_rate(cls, rate: int) -> int:
        if rate not in (8000, 12000, 16000, 24000, 48000):
            raise ValueError("AudioBridge mixes at 8000, 12000, 16000, 24000 or 48000 Hz")
        return rate

    @field_validator("interfaces", "nat_1_1", "api_host", "admin_host", "rtp_host")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        for one in [value] if isinstance(value, str) else value:
            if one:
                ipaddress.ip_address(one)  # ValueError names it
        return value

    @field_validator("api_host", "admin_host", "rtp_host")
    @classmethod
    def _private(cls, host: str) -> str:
        address = ipaddress.ip_address(host)
        if not (address.is_loopback or address.is_private):
            raise ValueError(f"{host}: Janus's APIs listen on private addresses only")
        return host
