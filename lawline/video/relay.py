"""Signalling between a village terminal and a lawyer's browser, relayed by lawline.

The media goes peer to peer; lawline only carries the messages, over Redis
pub/sub so the terminal and the lawyer may be on different web processes (video/keys.py):
  P:signal:terminal:{terminal_id}   what the lawyer's console sends the terminal
  P:signal:lawyer:{lawyer_id}       what the terminal sends the lawyer's console
A web process holds one pattern subscription to every signalling channel and hands
each message to the socket it is for (web/hub.py): an open socket costs no Redis
connection, and nothing sent while it is open is lost between the two. A message is a JSON object
{"contact_id", "from", ...} with one of:
  ready {}                   the lawyer's browser is set up: the terminal makes an offer
  description {type, sdp}    an SDP offer or answer (ICE restarts included)
  candidate {candidate,...}  a trickled ICE candidate (null: gathering done)
  restart {}                 the lawyer's side lost the path: the terminal restarts ICE
  notice {kind, message}     audio_only (video cannot flow), failed (no path at all)
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from lawline.video.keys import VideoKeys

SIGNAL_KINDS = frozenset({"ready", "description", "candidate", "restart", "notice"})
# Sent to a terminal by a mediator's web process, never relayed from a browser (it is
# not among SIGNAL_KINDS): {kind, case_id, name, role, token}, the party's invitation
# into a mediation room (web/mediation_room.py).
MEDIATION_INVITE = "mediation_invite"
MAX_SIGNAL_BYTES = 64_000  # an SDP with many candidates is a few kB


def clean_signal(frame: dict[str, Any]) -> dict[str, Any]:
    """The parts of a browser's `signal` frame worth relaying; ValueError if malformed."""
    kind = frame.get("kind")
    if kind not in SIGNAL_KINDS:
        raise ValueError(f"a signal's kind is one of {', '.join(sorted(SIGNAL_KINDS))}")
    out = {k: frame[k] for k in ("kind", "description", "candidate", "notice") if k in frame}
    if len(json.dumps(out)) > MAX_SIGNAL_BYTES:
        raise ValueError("signal too large")
    return out


async def publish(redis: Redis, prefix: str, side: str, who: str, message: dict[str, Any]) -> None:
    channel = VideoKeys(prefix).signal(side, who)
    await redis.publish(channel, json.dumps(message, ensure_ascii=False))
