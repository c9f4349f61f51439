"""What a transcript is made of: who said what, and when."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Leg(StrEnum):
    """Who is speaking: each side of a conversation is recognised on its own. A call
    has the citizen and the lawyer; a mediation room a leg per side (the room's
    forwarding groups: mediation/live.py)."""

    CITIZEN = "citizen"
    LAWYER = "lawyer"
    MEDIATOR = "mediator"
    APPLICANT = "applicant"
    RESPONDENT = "respondent"
    THIRD_PARTY = "third_party"


CALL_LEGS = (Leg.CITIZEN, Leg.LAWYER)
MEDIATION_LEGS = (Leg.MEDIATOR, Leg.APPLICANT, Leg.RESPONDENT, Leg.THIRD_PARTY)


class Kind(StrEnum):
    PARTIAL = "partial"  # the sentence being spoken so far: replaces the previous partial
    FINAL = "final"  # one finished utterance: appended to the record
    GAP = "gap"  # part of a leg could not be transcribed (a transcriber died)
    STATUS = "status"  # text: a TranscriptStatus
    LISTENING = "listening"  # a speaker is talking; their text comes when they pause
    HOLD = "hold"  # text: a Hold; start = end = when the worker confirmed it


class Hold(StrEnum):
    """A HOLD segment's text: the lawyer put the caller on hold (music), or came back.
    The quality review judges each hold (lawline/quality/review.py)."""

    ON = "on"
    OFF = "off"


class TranscriptStatus(StrEnum):
    """What the console says of a transcript (its words: `lawline/labels.py`)."""

    ON = "on"  # a transcriber answers
    ENDED = "ended"  # the conversation is over
    DISABLED = "disabled"  # turned off in the settings
    NO_MODEL = "no_model"  # the speech model is not installed
    NO_TRANSCRIBER = "no_transcriber"  # none running
    NO_LANGUAGE = "no_language"  # no engine for the conversation's language
    UNREACHABLE = "unreachable"  # configured, but none answers


@dataclass(frozen=True, slots=True)
class Segment:
    """One item of a transcript. Times are seconds from the transcript's start (when
    the lawyer was connected); `text` is tidied (no spaces inside Chinese). A STATUS
    has no time, but `ended` has when its part of the conversation ended."""

    kind: Kind
    leg: Leg | None
    text: str = ""
    start: float = 0.0
    end: float = 0.0
    seq: int = 0  # per leg, finals only: orders and de-duplicates them
    resent: bool = False  # GAP: the lost audio was sent again to another transcriber

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"], d["end"] = round(self.start, 2), round(self.end, 2)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Segment:
        return cls(
            kind=Kind(d["kind"]),
            leg=Leg(d["leg"]) if d.get("leg") else None,
            text=str(d.get("text", "")),
            start=float(d.get("start", 0.0)),
            end=float(d.get("end", 0.0)),
            seq=int(d.get("seq", 0)),
            resent=bool(d.get("resent", False)),
        )
