"""RTP packets of G.711 u-law audio: what a telephony worker and the media server exchange.

Pure functions on bytes (RFC 3550 fixed header, RFC 3551 payload type 0), with the
u-law tables built once by numpy: encoding a 20 ms frame is two table lookups, so the
media clock thread that calls it 50 times a second per call spends microseconds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

PCMU = 0
HEADER = struct.Struct("!BBHII")
VERSION_2 = 0x80
MAX_PACKET = 1500


def _encode_table() -> np.ndarray:
    """u-law of every 16-bit sample, as G.711's reference coder (14-bit magnitude, bias
    0x21, clip 8159), indexed by the sample's bits read as unsigned."""
    s = np.arange(65536, dtype=np.int32)
    s = np.where(s >= 32768, s - 65536, s) >> 2
    mask = np.where(s < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(s), 8159) + 0x21
    segment = np.searchsorted(np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]), mag)
    ulaw = np.where(segment > 7, 0x7F, (segment << 4) | ((mag >> (segment + 1)) & 0x0F))
    return ((ulaw ^ mask) & 0xFF).astype(np.uint8)


def _decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -mag, mag).astype("<i2")


_ENCODE = _encode_table()
_DECODE = _decode_table()


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit little-endian linear PCM -> u-law, a byte a sample."""
    return _ENCODE[np.frombuffer(pcm, dtype="<u2")].tobytes()


def ulaw_decode(payload: bytes) -> bytes:
    """u-law -> 16-bit little-endian linear PCM."""
    return _DECODE[np.frombuffer(payload, dtype=np.uint8)].tobytes()


@dataclass(slots=True)
class RtpSender:
    """The sending side of one RTP stream: sequence and timestamp advance per packet."""

    ssrc: int
    seq: int
    timestamp: int
    payload_type: int = PCMU

    def packet(self, payload: bytes, samples: int) -> bytes:
        head = HEADER.pack(
            VERSION_2, self.payload_type, self.seq, self.timestamp & 0xFFFFFFFF, self.ssrc
        )
        self.seq = (self.seq + 1) & 0xFFFF
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF
        return head + payload


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket | None:
    """The packet, or None for anything that is not RTP version 2 (RTCP included)."""
    if len(data) < HEADER.size or len(data) > MAX_PACKET or data[0] >> 6 != 2:
        return None
    first, second, seq, timestamp, ssrc = HEADER.unpack_from(data)
    payload_type = second & 0x7F
    if 72 <= payload_type <= 76:  # RTCP sent to the RTP port (rtcp-mux)
        return None
    offset = HEADER.size + 4 * (first & 0x0F)
    if first & 0x10:  # a header extension: its length is in 32-bit words
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if first & 0x20:  # padding: the last byte says how much
        end -= data[-1]
    if offset > end:
        return None
    return RtpPacket(payload_type, seq, timestamp, ssrc, data[offset:end])


def forwarded_payload(data: bytes, payload_type: int, samples: int) -> bytes | None:
    """The payload of a packet from an AudioBridge forwarder (G.711, one frame), or None.

    Janus 1.1.2's forwarder of a room's group sends a fixed 12-byte header whose first
    byte's padding, extension and CSRC-count bits are not always cleared (seen cycling
    through 0x98-0xbf on one stream), so those bits are not read: only the version, the
    payload type and the length, which is exactly one frame after the fixed header."""
    if len(data) != HEADER.size + samples or data[0] >> 6 != 2:
        return None
    if data[1] & 0x7F != payload_type:
        return None
    return data[HEADER.size :]
