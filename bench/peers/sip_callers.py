"""Cheap SIP callers for the bridge bench: many phone calls from one asyncio process.

A pjsua2 process per caller costs ~3-4 % of a core; these cost a fraction of that, so a
2-core machine can hold dozens of calls against the telephony workers. Each caller is
a minimal SIP UA over UDP on loopback (INVITE with a G.711 u-law offer, ACK, answers
200 to whatever the worker asks in the dialog in the direction its offer allows, BYE;
through a proxy, the 200's Record-Route as its route), then says a continuous tone as
RTP (20 ms packets, one timer for all callers), presses keys as RFC 4733 events, and
hears the far tone with tone_ear.Ear on the sender's RTP timeline anchored at its
earliest arrival (as a phone's jitter buffer plays it): times are time.monotonic().

    caller = await SipCaller.start(("127.0.0.1", worker_port), hz_say=440, hz_hear=1200)
    await caller.answered.wait(); caller.press("11")
    ... caller.ear.summary() ...
    await caller.hang_up()
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import struct
import time
from typing import cast

import numpy as np
from peers.tone_ear import RATE, Ear, ulaw_encode, ulaw_table

ULAW = ulaw_table()
HOST = "127.0.0.1"
EVENT_PT = 101
SLEW_S = 0.0005  # see rtp_in
KEY_PACKETS, END_PACKETS = 5, 3  # a key is 100 ms of RFC 4733 events, then 3 ends
ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


def tone_packets(hz: int) -> list[bytes]:
    """One second of the tone as 50 u-law payloads (a whole number of cycles at 440 Hz)."""
    tone = 12000 * np.sin(2 * np.pi * hz * np.arange(RATE) / RATE)
    return [ulaw_encode(tone[k * 160 : (k + 1) * 160]) for k in range(50)]


def _header(msg: str, name: str) -> str:
    m = re.search(rf"^{name}:\s*(.*)$", msg, re.MULTILINE | re.IGNORECASE)
    return m.group(1).strip() if m else ""


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self, caller: SipCaller) -> None:
        self.caller = caller

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.caller.rtp_in(data)


class _Sip(asyncio.DatagramProtocol):
    def __init__(self, caller: SipCaller) -> None:
        self.caller = caller

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.caller.sip_in(data.decode(errors="replace"), addr)


class SipCaller:
    def __init__(self, target: tuple[str, int], number: str, say: list[bytes], hear_hz: int):
        self.target = target
        self.number = number
        self.say = say
        self.ear = Ear(hear_hz)
        self.answered = asyncio.Event()
        self.ended = asyncio.Event()
        self.status = 0
        self.call_id = f"{random.getrandbits(64):016x}@{HOST}"
        self.tag = f"{random.getrandbits(32):08x}"
        self.to = ""  # the To header with the worker's tag, once answered
        self.remote_uri = f"sip:12348@{target[0]}:{target[1]}"
        self.sip: asyncio.DatagramTransport
        self.rtp: asyncio.DatagramTransport
        self.media_to: tuple[str, int] | None = None
        self.ssrc, self.seq, self.ts = random.getrandbits(32), random.getrandbits(16), 0
        self.keys: list[str] = []
        self.key_step = 0
        self.key_ts = 0
        self.ts0: int | None = None
        self.rx_ssrc = 0  # the sender whose timeline ts0 is on
        self.anchor = 0.0
        self.cseq = 1
        self.routes: list[str] = []  # the dialog's route set (a proxy's Record-Route)
        self.direction = "sendrecv"  # this end's, from the last offer answered

    @classmethod
    async def start(
        cls, target: tuple[str, int], number: str, say: list[bytes], hear_hz: int
    ) -> SipCaller:
        self = cls(target, number, say, hear_hz)
        loop = asyncio.get_running_loop()
        sip, _ = await loop.create_datagram_endpoint(lambda: _Sip(self), local_addr=(HOST, 0))
        rtp, _ = await loop.create_datagram_endpoint(lambda: _Rtp(self), local_addr=(HOST, 0))
        self.sip, self.rtp = (
            cast(asyncio.DatagramTransport, sip),
            cast(asyncio.DatagramTransport, rtp),
        )
        self._send_request("INVITE", 1, self._sdp())
        return self

    # ----- SIP ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self.sip.get_extra_info("sockname")[1])

    def _sdp(self, direction: str = "sendrecv") -> str:
        rtp_port = self.rtp.get_extra_info("sockname")[1]
        return (
            f"v=0\r\no=- 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
            f"m=audio {rtp_port} RTP/AVP 0 {EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=rtpmap:{EVENT_PT} telephone-event/8000\r\na=fmtp:{EVENT_PT} 0-15\r\n"
            f"a=ptime:20\r\na={direction}\r\n"
        )

    def _send_request(self, method: str, cseq: int, body: str = "") -> None:
        to = self.to or f"<{self.remote_uri}>"
        lines = [
            f"{method} {self.remote_uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {HOST}:{self.port};branch=z9hG4bK{random.getrandbits(48):x};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.number}@{HOST}>;tag={self.tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{self.number}@{HOST}:{self.port}>",
        ]
        if self.to:  # in the dialog: along its route
            lines[1:1] = [f"Route: {r}" for r in self.routes]
        if body:
            lines.append("Content-Type: application/sdp")
        lines += [f"Content-Length: {len(body.encode())}", "", body]
        self.sip.sendto("\r\n".join(lines).encode(), self.target)

    def sip_in(self, msg: str, addr: tuple[str, int]) -> None:
        head, _, body = msg.partition("\r\n\r\n")
        first = head.split("\r\n", 1)[0]
        if first.startswith("SIP/2.0 "):
            status = int(first.split()[1])
            method = _header(head, "CSeq").split()[-1]
            if method == "INVITE" and status >= 200:
                self.to = _header(head, "To")
                found = re.findall(r"^Record-Route:\s*(.*?)\r?$", head, re.M | re.I)
                routes = [r.strip() for line in found for r in line.split(",")]
                self.routes = routes[::-1]  # the caller's route set: last proxy first
                contact = re.search(r"<([^>]+)>", _header(head, "Contact"))
                if contact:
                    self.remote_uri = contact.group(1)
                self._send_request("ACK", 1)  # (its CSeq number is the INVITE's)
                self.status = status
                if status == 200:
                    self._media(body)
                    self.answered.set()
                else:
                    self.ended.set()
            elif method == "BYE":
                self.ended.set()
            return
        # A request from the worker in our dialog: 200 to all; a BYE ends the call.
        method = first.split()[0]
        if method == "ACK":
            return
        reply = ["SIP/2.0 200 OK"]
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            reply += [f"{name}: {v}" for v in re.findall(rf"^{name}:\s*(.*?)\r?$", head, re.M)]
        sdp = ""
        if method in ("INVITE", "UPDATE") and body.strip():
            # Answered in the direction the offer allows, and heeded: a phone stops
            # sending on an inactive offer (the worker's quiet step before a steer).
            offered = re.search(r"^a=(sendrecv|sendonly|recvonly|inactive)", body, re.M)
            self.direction = ANSWER_DIRECTION[offered.group(1) if offered else "sendrecv"]
            sdp = self._sdp(self.direction)
        reply.append(f"Contact: <sip:{self.number}@{HOST}:{self.port}>")
        if sdp:
            reply.append("Content-Type: application/sdp")
            self._media(body)
        reply += [f"Content-Length: {len(sdp.encode())}", "", sdp]
        self.sip.sendto("\r\n".join(reply).encode(), addr)
        if method == "BYE":
            self.ended.set()

    def _media(self, sdp: str) -> None:
        c = re.search(r"^c=IN IP4 (\S+)", sdp, re.M)
        m = re.search(r"^m=audio (\d+)", sdp, re.M)
        if c and m:
            self.media_to = (c.group(1), int(m.group(1)))
            if self.ear.t0 is None:
                self.ear.t0 = time.monotonic()

    async def hang_up(self, timeout_s: float = 5) -> None:
        if self.answered.is_set() and not self.ended.is_set():
            self.cseq += 1
            self._send_request("BYE", self.cseq)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ended.wait(), timeout_s)
        self.media_to = None
        self.sip.close()
        self.rtp.close()

    # ----- RTP ---------------------------------------------------------------------------

    def press(self, keys: str) -> None:
        self.keys.extend(keys)

    def send_next(self) -> None:
        """The next 20 ms: a tone packet, or an event packet while a key is pressed."""
        if self.media_to is None or self.ended.is_set():
            return
        if self.direction not in ("sendrecv", "sendonly"):
            return
        if self.keys:
            if self.key_step == 0:
                self.key_ts = self.ts
            end = self.key_step >= KEY_PACKETS
            duration = 160 * min(self.key_step + 1, KEY_PACKETS)
            payload = struct.pack("!BBH", int(self.keys[0]), 0x80 * end | 10, duration)
            marker = 0x80 if self.key_step == 0 else 0
            head = struct.pack(
                "!BBHII", 0x80, marker | EVENT_PT, self.seq & 0xFFFF, self.key_ts, self.ssrc
            )
            self.rtp.sendto(head + payload, self.media_to)
            self.key_step += 1
            if self.key_step >= KEY_PACKETS + END_PACKETS:
                self.keys.pop(0)
                self.key_step = 0
        else:
            head = struct.pack("!BBHII", 0x80, 0, self.seq & 0xFFFF, self.ts, self.ssrc)
            self.rtp.sendto(head + self.say[self.seq % 50], self.media_to)
        self.seq, self.ts = self.seq + 1, (self.ts + 160) & 0xFFFFFFFF

    def rtp_in(self, data: bytes) -> None:
        if len(data) < 12 or data[1] & 0x7F != 0:  # u-law only (not events)
            return
        arrived = time.monotonic()
        skip = 12 + 4 * (data[0] & 0x0F)
        if data[0] & 0x10 and len(data) >= skip + 4:  # a header extension
            skip += 4 + 4 * struct.unpack_from("!H", data, skip + 2)[0]
        # Heard on the sender's timeline, anchored to the earliest arrival: this
        # process's own scheduling delays are not counted as gaps in the worker's audio.
        # The anchor also creeps later (SLEW_S a packet) towards the arrivals: a sender
        # whose timestamps jump ahead (frames skipped under load) would otherwise move
        # everything after it early for good.
        ts, ssrc = struct.unpack_from("!II", data, 4)
        if self.ts0 is None or ssrc != self.rx_ssrc:
            # A new sender (the worker's stream, then the room's once steered): its
            # timestamps have nothing to do with the last one's, as a jitter buffer knows.
            self.ts0, self.anchor, self.rx_ssrc = ts, arrived, ssrc
        offset = ((ts - self.ts0) & 0xFFFFFFFF) / RATE
        if abs(arrived - (self.anchor + offset)) > 1.0:  # a new timeline
            self.ts0, self.anchor, offset = ts, arrived, 0.0
        self.anchor = min(self.anchor + SLEW_S, arrived - offset)
        self.ear.feed(ULAW[np.frombuffer(data[skip:], dtype=np.uint8)], self.anchor + offset)


async def say_all(callers: list[SipCaller]) -> None:
    """Every caller's next packet each 20 ms, by the clock (one timer for all)."""
    started, n = time.monotonic(), 0
    while True:
        for caller in callers:
            caller.send_next()
        n += 1
        await asyncio.sleep(max(0.0, started + n * 0.02 - time.monotonic()))
