"""Telephony's settings (`[telephony]`, `[telephony.front]`): the workers, the voice
menu, callbacks, and the Kamailio front with the scanners it drops."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from lawline.telephony.menu import Menu, default_menu

# SIP scanners and attack tools, by the User-Agent they send.
SCANNER_USER_AGENTS = [
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "VaxSIPUserAgent",
    "sip-scan",
    "sipsak",
    "sundayddr",
    "iWar",
    "SIVuS",
    "Gulp",
    "smap",
    "pplsip",
    "PortSIP VoIP SDK",
]


class SipFrontSettings(BaseModel):
    """Kamailio on the public SIP address (sip_host:sip_port), the workers behind it."""

    # Off: the workers answer on sip_port, sip_port+1... themselves (no protection).
    enabled: bool = True
    kamailio: str = "kamailio"
    # Addresses or subnets (CIDR) allowed to send INVITEs: the carrier's trunks.
    trunks: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    # The workers' SIP: loopback, first port (0: sip_port + 1), one port each.
    # Their RTP stays on sip_host, so media goes straight between trunk and worker.
    worker_host: str = "127.0.0.1"
    worker_port: int = Field(default=0, ge=0, lt=65536)
    # New calls per second the front lets in; more get 503 (below what workers survive).
    invites_per_s: int = Field(default=20, ge=1)
    # A source other than a trunk sending more than pike_requests in pike_window_s
    # is blocked for pike_block_s.
    pike_requests: int = Field(default=30, ge=1)
    pike_window_s: int = Field(default=2, ge=1)
    pike_block_s: int = Field(default=60, ge=1)
    # OPTIONS to each worker this often; a worker that does not answer is skipped.
    probe_interval_s: int = Field(default=1, ge=1)
    # A worker that has not answered an INVITE in this long: try the next one.
    worker_timeout_s: float = Field(default=2.0, gt=0)
    # Requests from these user agents (case-insensitive substrings) are dropped.
    blocked_user_agents: list[str] = Field(default_factory=lambda: list(SCANNER_USER_AGENTS))
    # SIP terminals (`lawline terminal add --sip`) register and call with digest
    # authentication in this realm; changing it voids every terminal's SIP password.
    realm: str = Field(default="lawline", pattern=r"^[A-Za-z0-9.-]{1,100}$")
    # How often the front's copy of the terminals' SIP credentials is brought up to
    # date from the database (a revoked terminal can call for at most this long).
    accounts_sync_s: float = Field(default=2.0, gt=0)


class TelephonySettings(BaseModel):
    # The centre's own recordings, by prompt id (main_menu.wav...); missing ones
    # fall back to lawline's generated Mandarin defaults in data_dir/prompts.
    prompts_dir: Path | None = None
    menu: Menu = Field(default_factory=default_menu)
    # No RTP from a caller for this long: the line is dead even without a BYE. A call
    # steered to its room (no RTP here) has its phone asked this often instead.
    rtp_timeout_s: float = Field(default=30, gt=0)
    # The workers' conference clock (pjsua): 8000 matches G.711 callers and the media
    # server's phone legs, so their audio is never resampled (the relay's clock thread
    # cost 40 % less per call than at 16000 on the bridge bench); 16000 keeps wideband
    # (G.722) SIP terminals' prompts and recordings wide, at that cost.
    conference_rate_hz: int = 8000

    @field_validator("conference_rate_hz")
    @classmethod
    def _conference_rate(cls, rate: int) -> int:
        if rate not in (8000, 16000):
            raise ValueError("the conference clock is 8000 or 16000 Hz")
        return rate

    # Telephony workers `lawline serve` runs (each at most 4 calls); 0: none.
    # None: enough for expected_calls, and at least one per core.
    workers: int | None = Field(default=None, ge=0)
    # Simultaneous calls (in the menu, queued and with lawyers) this node should hold.
    expected_calls: int = Field(default=16, ge=1)
    # This node's name: workers are "<node>/worker-N" in Redis and the record, so
    # nodes sharing one Redis keep theirs apart. Empty: the host name.
    node: str = ""
    front: SipFrontSettings = Field(default_factory=SipFrontSettings)
    # First RTP port; each worker takes its own range above it.
    rtp_port: int = Field(default=40000, gt=1024)
    # The carrier's SIP trunk (host:port) that callbacks are dialled through.
    # Empty: back to where the caller's call came from.
    trunk: str = ""
    # A callback that rings out unanswered is tried again after callback_retry_s,
    # at most callback_attempts times in all.
    callback_attempts: int = Field(default=3, ge=1)
    callback_retry_s: float = Field(default=300, ge=0)
    dial_timeout_s: float = Field(default=45, gt=0)
