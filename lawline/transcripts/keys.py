"""Every Redis key of the transcripts, named once: each contact's stored transcript and
the channel its segments are published on as they happen.

P is `settings.redis_prefix`. Each key's docstring says what it holds, its Redis type
and how long it lives, as the scripts' headers do for their KEYS.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TranscriptKeys:
    prefix: str

    def transcript(self, contact_id: str) -> str:
        """stream `P:transcript:ID`: the contact's finals, gaps, holds and status changes,
        in order; expires store.TRANSCRIPT_TTL_S after the last one (the ledger has it)."""
        return f"{self.prefix}:transcript:{contact_id}"

    def meta(self, contact_id: str) -> str:
        """hash `P:transcript-meta:ID`: started_at, status, recording:NAME -> path of each
        leg's audio; expires store.TRANSCRIPT_TTL_S after its last part started."""
        return f"{self.prefix}:transcript-meta:{contact_id}"

    def live(self, contact_id: str) -> str:
        """channel `P:live:ID`: pub/sub of every segment as it happens, partials included;
        nothing stored."""
        return f"{self.prefix}:live:{contact_id}"

    @property
    def every_live(self) -> str:
        """pattern `P:live:*`: every contact's live channel (one PSUBSCRIBE per process)."""
        return self.live("*")
