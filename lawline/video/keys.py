"""Every Redis key of the video relay, named once: the pub/sub channels that carry
signalling between a village terminal and a lawyer's browser (video/relay.py).

P is `settings.redis_prefix`. Each key's docstring says what it holds, its Redis type
and how long it lives, as the scripts' headers do for their KEYS. (The phone bridge's
keys are the telephony workers', in telephony/keys.py.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VideoKeys:
    prefix: str

    def signal(self, side: str, who: str) -> str:
        """channel `P:signal:SIDE:ID`: pub/sub of JSON signalling messages for one
        terminal (side `terminal`) or lawyer's console (side `lawyer`); nothing stored."""
        return f"{self.prefix}:signal:{side}:{who}"

    @property
    def signals(self) -> str:
        """pattern `P:signal:*:*`: every signalling channel (one PSUBSCRIBE per process)."""
        return self.signal("*", "*")
