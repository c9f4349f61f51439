"""Steering a call's media: the caller's RTP straight to a media server, not the worker.

pjsua2 negotiates with the SDP it sends, so a worker cannot point the caller at
another address and keep quiet itself. The SIP front does it instead (kamailio.cfg,
route STEER_BY_WORKER). The worker first quiets the call (a re-INVITE offering
`a=inactive`, which the front passes on: neither end sends), then sends the caller a
re-INVITE offering `a=inactive` again (pjsua runs no stream for the call) with
`X-Lawline-Steer: ADDRESS PORT`; the front removes the header, points the offer's c=
and m=audio at that address as sendrecv, and turns the caller's answer back to
inactive for the worker. Until the worker re-INVITEs offering media again (unsteer),
the front keeps the dialog steered, also through the caller's own re-INVITEs. The
front honours the header only from the workers' addresses.

What the worker learns is the caller's own RTP address (the answer's, and a
re-INVITE's offer while steered): where the media server sends the caller's audio.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import pjsua2 as pj

HEADER = "X-Lawline-Steer"
# Below 1024 no media server listens; kamailio.cfg checks the same range.
MIN_PORT, MAX_PORT = 1024, 65535
_RESPONSE = re.compile(r"SIP/2\.0 (\d{3}) ")


@dataclass(frozen=True, slots=True)
class RtpAddress:
    host: str
    port: int

    @classmethod
    def checked(cls, host: str, port: int) -> RtpAddress:
        """An address the front accepts: a dotted IPv4 address, a port from 1024."""
        try:
            ipaddress.IPv4Address(host)
        except ValueError as exc:
            raise ValueError(f"not an IPv4 address: {host!r}") from exc
        if not MIN_PORT <= port <= MAX_PORT:
            raise ValueError(f"RTP port {port} not in {MIN_PORT}-{MAX_PORT}")
        return cls(host, port)

    def header_value(self) -> str:
        return f"{self.host} {self.port}"


def sdp_audio_address(sdp: str) -> RtpAddress | None:
    """Where an SDP's audio is received: the first m=audio's port at its own c= (else
    the session's). None without audio, for a disabled stream (port 0) or no IPv4."""
    session_host = media_host = ""
    port = 0
    in_audio = False
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            if port:
                break  # past the first audio section
            fields = line[2:].split()
            in_audio = len(fields) >= 2 and fields[0] == "audio" and fields[1].isdigit()
            port = int(fields[1]) if in_audio else 0
        elif line.startswith("c=IN IP4 "):
            host = line[len("c=IN IP4 ") :].split("/", 1)[0].strip()
            if in_audio:
                media_host = host
            elif not port:
                session_host = host
    try:
        return RtpAddress.checked(media_host or session_host, port) if port else None
    except ValueError:
        return None


def _reinvite(call: pj.Call, direction: int, headers: dict[str, str]) -> None:
    prm = pj.CallOpParam(True)
    # The direction persists in pjsua's later offers and answers (its own refreshes
    # too), until the next re-INVITE that sets it.
    prm.opt.flag |= pj.PJSUA_CALL_SET_MEDIA_DIR
    prm.opt.mediaDir = pj.IntVector([direction])
    for name, value in headers.items():
        header = pj.SipHeader()
        header.hName, header.hValue = name, value
        prm.txOption.headers.append(header)
    call.reinvite(prm)


def quiet_media(call: pj.Call) -> None:
    """Both ends' streams stopped (a=inactive, no header: the front passes it on as it
    is). Done before a steer: a phone pointed at the room while the worker still sends
    latches onto the worker's first packet (pjsua did, within 1 ms) and never sends
    to the room."""
    _reinvite(call, pj.PJMEDIA_DIR_NONE, {})


def steer_media(call: pj.Call, target: RtpAddress) -> None:
    """Ask the caller (through the front) to send and receive its RTP at target; this
    call's own stream stops. Raises pj.Error when pjsua cannot send the re-INVITE now
    (another offer is in progress)."""
    _reinvite(call, pj.PJMEDIA_DIR_NONE, {HEADER: target.header_value()})


def unsteer_media(call: pj.Call) -> None:
    """The caller's media back to this call's own stream (sendrecv)."""
    _reinvite(call, pj.PJMEDIA_DIR_ENCODING_DECODING, {})


def answer_to_offer(prm: pj.OnCallTsxStateParam) -> tuple[int, str] | None:
    """(status, SDP) of a final response to this call's own INVITE or UPDATE, as
    received ('' without SDP); None for any other transaction event."""
    event = prm.e
    if event.type != pj.PJSIP_EVENT_TSX_STATE:
        return None
    tsx = event.body.tsxState
    if tsx.type != pj.PJSIP_EVENT_RX_MSG or tsx.tsx.role != pj.PJSIP_ROLE_UAC:
        return None
    if tsx.tsx.method not in ("INVITE", "UPDATE"):
        return None
    message = tsx.src.rdata.wholeMsg
    status = _RESPONSE.match(message)
    if status is None or status.group(1).startswith("1"):
        return None
    head, _, body = message.partition("\r\n\r\n")
    return int(status.group(1)), body if "application/sdp" in head.lower() else ""
