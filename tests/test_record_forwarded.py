"""A side's forwarded audio is taken from the media server's forwarder alone: the first
sender after the forwarder is made is the one heard; another local process's
datagrams are set aside and counted."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

from lawline.mediation.record import SAMPLES, _Forwarded
from lawline.transcripts.segments import Leg

JANUS = ("127.0.0.1", 25002)
OTHER = ("127.0.0.1", 40000)


def frame(seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * SAMPLES, 1) + bytes([0xFF]) * SAMPLES


def test_only_the_forwarder_is_heard_and_a_new_forwarder_is_learnt_again() -> None:
    fed: list[Any] = []
    room = SimpleNamespace(
        transcript=SimpleNamespace(feed=lambda *args: fed.append(args)), recorders={}, case_id="c"
    )
    side = _Forwarded(room, Leg.APPLICANT)  # type: ignore[arg-type]
    side.datagram_received(frame(1), JANUS)
    side.datagram_received(frame(2), OTHER)  # someone else on the node
    side.datagram_received(b"not rtp", JANUS)
    side.datagram_received(frame(3), JANUS)
    assert len(fed) == 2 and side.refused == 2

    side.source = None  # the forwarder made again (the media server restarted)
    side.datagram_received(frame(4), ("127.0.0.1", 25010))  # its new port
    side.datagram_received(frame(5), JANUS)  # the old one is no longer it
    assert len(fed) == 3 and side.refused == 3
