"""G.711 u-law and RTP framing between the telephony workers and the media server."""

from __future__ import annotations

import struct
import warnings

import numpy as np

from lawline.media.rtp import (
    HEADER,
    PCMU,
    RtpSender,
    forwarded_payload,
    parse_rtp,
    ulaw_decode,
    ulaw_encode,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the reference coder (in the standard library until 3.13)


def test_ulaw_is_the_reference_coder_for_every_sample() -> None:
    every = np.arange(-32768, 32768, dtype="<i2").tobytes()
    assert ulaw_encode(every) == audioop.lin2ulaw(every, 2)
    codes = bytes(range(256))
    assert ulaw_decode(codes) == audioop.ulaw2lin(codes, 2)


def test_packets_carry_sequence_and_time_and_parse_back() -> None:
    sender = RtpSender(ssrc=0x1234, seq=65535, timestamp=0xFFFFFF00)
    first = parse_rtp(sender.packet(b"\xff" * 160, 160))
    second = parse_rtp(sender.packet(b"\x7f" * 160, 160))
    assert first is not None and second is not None
    assert (first.payload_type, first.seq, first.ssrc) == (PCMU, 65535, 0x1234)
    assert (second.seq, second.timestamp) == (0, (0xFFFFFF00 + 160) & 0xFFFFFFFF)
    assert second.payload == b"\x7f" * 160


def test_what_is_not_rtp_is_set_aside() -> None:
    assert parse_rtp(b"") is None
    assert parse_rtp(b"\x00" * 40) is None  # version 0
    rtcp = struct.pack("!BBHII", 0x80, 200, 6, 1, 2) + b"\x00" * 20
    assert parse_rtp(rtcp) is None  # a sender report on the RTP port
    assert parse_rtp(b"\x80" + b"\x00" * 2000) is None  # larger than any datagram here
    # A header extension longer than the packet, and padding longer than the payload.
    assert parse_rtp(struct.pack("!BBHII", 0x90, 0, 1, 1, 1) + b"\x00\x00\x00\x09") is None
    assert parse_rtp(struct.pack("!BBHII", 0xA0, 0, 1, 1, 1) + b"\x00\x00\xff") is None


def test_a_forwarders_packets_are_read_past_janus_stray_header_bits() -> None:
    frame = bytes(range(160))
    clean = HEADER.pack(0x80, 0, 1, 160, 7) + frame
    stray = bytes([0x9D]) + clean[1:]  # extension and CSRC bits set, no such fields
    assert forwarded_payload(clean, PCMU, 160) == frame
    assert forwarded_payload(stray, PCMU, 160) == frame
    assert forwarded_payload(clean[:-1], PCMU, 160) is None  # not one frame
    assert forwarded_payload(clean, 8, 160) is None  # another payload type
    assert forwarded_payload(bytes([0x40]) + clean[1:], PCMU, 160) is None  # not RTP v2
