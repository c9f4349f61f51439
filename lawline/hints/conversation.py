"""What a conversation's hints are drawn from: the last few things the citizen said.

A plain object fed the call's transcript segments; it answers what to search and
which hints are new to the lawyer (each shown hint is recorded once per contact).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from lawline.transcripts.segments import Kind, Leg, Segment

UTTERANCES = 4  # the caller's last finals searched: a topic changes, hints follow it
MAX_UTTERANCE = 500  # characters of one final kept


class Conversation:
    def __init__(self, contact_id: str, legs: Iterable[Leg] = (Leg.CITIZEN,)) -> None:
        self.contact_id = contact_id
        self._legs = frozenset(legs)  # a mediation's hints come from every party
        self._said: deque[str] = deque(maxlen=UTTERANCES)
        self._shown: set[tuple[str, str]] = set()

    def heard(self, segment: Segment) -> bool:
        """True when the segment is a final of a leg followed (the hints may change)."""
        if segment.kind != Kind.FINAL or segment.leg not in self._legs:
            return False
        text = segment.text.strip()[:MAX_UTTERANCE]
        if not text:
            return False
        self._said.append(text)
        return True

    @property
    def said(self) -> str:
        return "。".join(self._said)

    def new(self, citations: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The (law, article) pairs not shown before in this contact; now they are."""
        fresh = [c for c in citations if c not in self._shown]
        self._shown.update(fresh)
        return fresh
