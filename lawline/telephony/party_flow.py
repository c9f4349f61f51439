"""A mediation party's phone call, dialled out by lawline, as a plain state machine.

Like flow.py: no SIP and no clock of its own. The worker feeds it what happened
(`answered`, `digit`, `prompt_done`, `timer`, `joined`, `join_failed`, `ended_by_room`)
with the time and carries out what it returns: flow.py's Play and Hangup, and JoinRoom
(ask the web side for a place in the room) and ConnectRoom (the call's audio to and
from the room). `next_timer()` says when to call `timer` next.

Phases:
  RINGING  dialled, not answered yet (a party who dialled in goes straight to JOINING)
  INVITED  the invitation plays ("这里是12348人民调解，请按1加入调解"), at most
           `invitations` times with a pause for the key after each; 1 at any moment joins
  JOINING  1 pressed: "正在为您接入调解室" while the web side seats the party's leg
  IN_ROOM  talking in the room; keys mean nothing
  DONE     a goodbye plays, then the call is hung up
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lawline.telephony.flow import Hangup, Play


class PartyPhase(StrEnum):
    RINGING = "ringing"
    INVITED = "invited"
    JOINING = "joining"
    IN_ROOM = "in_room"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class JoinRoom:
    """Open the party's leg and ask the web side to seat it; `joined` or `join_failed`."""


@dataclass(frozen=True, slots=True)
class ConnectRoom:
    """Stop what plays; the call's audio goes to and comes from the room."""


PartyAction = Play | Hangup | JoinRoom | ConnectRoom


@dataclass
class PartyFlow:
    invitations: int = 3
    key_wait_s: float = 5.0
    phase: PartyPhase = PartyPhase.RINGING
    invited: int = 0
    _deadline: float | None = None
    _playing: bool = False
    _done_reason: str = ""

    def answered(self, now: float) -> list[PartyAction]:
        if self.phase != PartyPhase.RINGING:
            return []
        self.phase = PartyPhase.INVITED
        return self._invite()

    def entered(self, now: float) -> list[PartyAction]:
        """The party dialled in and gave the room's number and their PIN (flow.py)."""
        if self.phase != PartyPhase.RINGING:
            return []
        self.phase = PartyPhase.JOINING
        return [JoinRoom(), *self._play(("mediation_joining",))]

    def digit(self, d: str, now: float) -> list[PartyAction]:
        if self.phase != PartyPhase.INVITED or d != "1":
            return []
        self.phase = PartyPhase.JOINING
        self._deadline = None
        return [JoinRoom(), *self._play(("mediation_joining",))]

    def prompt_done(self, now: float) -> list[PartyAction]:
        if not self._playing:
            return []  # a late end from a player already replaced
        self._playing = False
        if self.phase == PartyPhase.DONE:
            return [Hangup(self._done_reason)]
        if self.phase == PartyPhase.INVITED:
            self._deadline = now + self.key_wait_s
        return []

    def next_timer(self) -> float | None:
        return self._deadline

    def timer(self, now: float) -> list[PartyAction]:
        if self._deadline is None or now < self._deadline:
            return []
        self._deadline = None
        if self.phase != PartyPhase.INVITED:
            return []
        if self.invited < self.invitations:
            return self._invite()
        return self._leave("no key pressed", "goodbye")

    def joined(self, now: float) -> list[PartyAction]:
        if self.phase != PartyPhase.JOINING:
            return []
        self.phase = PartyPhase.IN_ROOM
        self._playing = False  # what played is cut off, its end never reported
        return [ConnectRoom()]

    def join_failed(self, now: float) -> list[PartyAction]:
        if self.phase != PartyPhase.JOINING:
            return []
        return self._leave("the room did not take the party", "mediation_unavailable")

    def ended_by_room(self, now: float, reason: str) -> list[PartyAction]:
        """The mediator removed the party or closed the room."""
        if self.phase in (PartyPhase.DONE, PartyPhase.RINGING):
            return [Hangup(reason)] if self.phase == PartyPhase.RINGING else []
        return self._leave(reason, "mediation_ended")

    def _invite(self) -> list[PartyAction]:
        self.invited += 1
        self._deadline = None
        return self._play(("mediation_invite",))

    def _play(self, prompts: tuple[str, ...]) -> list[PartyAction]:
        self._playing = True
        return [Play(prompts)]

    def _leave(self, reason: str, prompt: str) -> list[PartyAction]:
        self.phase = PartyPhase.DONE
        self._done_reason = reason
        self._deadline = None
        return self._play((prompt,))
