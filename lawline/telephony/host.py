"""What a telephony worker provides to what it runs: a call's session, the bridge's requests.

The worker (lawline/telephony/worker.py) implements both Protocols; the session
(session.py) and the request server (bridge_rpc.py) import only these, never the
worker, so each can be driven on its own (tests/test_call_session.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pjsua2 as pj
    from redis.asyncio import Redis

    from lawline.config import Settings
    from lawline.queue.service import QueueService
    from lawline.telephony.bridge import Bridge
    from lawline.telephony.party_wire import PartyDial
    from lawline.telephony.sip import GatewayCall, MediaGrace, Player
    from lawline.transcripts.live import LiveTranscript


class HostedCall(Protocol):
    """A call's session as its host keeps it (telephony/session.py's CallSession; named
    here by what the host reads, so this module need not import the session's)."""

    contact_id: str | None
    ended: bool


class CallHost(Protocol):
    """What a CallSession needs from the worker holding its call."""

    # The worker's name: in call records and in a contact's attrs.
    name: str
    settings: Settings
    # The clock (loop.time()) the call flow runs on and whose timers arm its deadlines;
    # pjsua's players report their end to it.
    loop: asyncio.AbstractEventLoop
    # Queue operations: entering, callbacks, the line gone, call records.
    queue: QueueService
    # Players and recorders a call lets go of are kept until pjsua is done with them.
    media_grace: MediaGrace
    voicemail_dir: Path

    def prompt(self, prompt_id: str) -> Path:
        """The audio file of a prompt."""
        ...

    def player(self, files: list[Path], repeat: bool, on_end: Callable[[], None]) -> Player:
        """A player of these prompts (sip.prompt_player); on_end when played through."""
        ...

    def hotline_open(self) -> bool: ...

    def track(self, contact_id: str, session: HostedCall) -> Awaitable[None]:
        """Follow this contact's queue events; done once the web side can find the line."""
        ...

    def forget(self, session: HostedCall) -> None:
        """The call is over: stop following it and let the line go."""
        ...

    def start_transcript(self, contact_id: str, language: str) -> LiveTranscript: ...

    async def find_room(self, number: str, pin: str, caller: str) -> PartyDial | None:
        """The mediation room open under this number and PIN: the leg to make, or None."""
        ...

    def enter_room(self, call: GatewayCall, dial: PartyDial) -> None:
        """Take the call over as that party's leg in the room (its session let go)."""
        ...

    def open_bridge(self, room: str, steered: bool = False) -> Bridge:
        """The call's leg in a conversation room on the media server, made from now on;
        `steered`: a SteeredBridge (the caller's RTP steered straight to the room)."""
        ...

    def close_bridge(self, bridge: Bridge, call_audio: pj.AudioMedia | None) -> None: ...

    def in_background(self, op: Coroutine[Any, Any, Any]) -> asyncio.Task[None]:
        """Run op to its end (failures logged); the worker waits for it before it stops."""
        ...

    def count(self, what: str) -> None:
        """One more of something odd seen on a call, for /metrics."""
        ...


class BridgedCall(Protocol):
    """A call as the lawyer's console reaches it."""

    def hold(self, on: bool) -> str:
        """'' when done, else why not."""
        ...


class PartyLeg(Protocol):
    """A mediation party's phone as the web process holding its room reaches it
    (telephony/party_call.py)."""

    def room_took(self, ip: str, port: int) -> None:
        """The room takes the party's audio at ip:port (RuntimeError if not joining)."""
        ...

    def room_refused(self) -> None: ...
    def end(self, reason: str) -> None: ...


class BridgeHost(Protocol):
    """What the bridge's request server (bridge_rpc.py) needs from its worker."""

    name: str
    settings: Settings
    redis: Redis
    queue: QueueService

    def session_for(self, contact_id: str) -> BridgedCall | None:
        """The live call of that contact on this worker, if any."""
        ...

    def party_call(self, leg: str) -> PartyLeg | None:
        """The live call of that mediation party's leg on this worker, if any."""
        ...
