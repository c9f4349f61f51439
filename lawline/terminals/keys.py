"""Every Redis key of the village terminals, named once.

P is `settings.redis_prefix`. Each key's docstring says what it holds, its Redis type
and how long it lives, as the scripts' headers do for their KEYS.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TerminalKeys:
    prefix: str

    @property
    def seen(self) -> str:
        """hash `P:terminal-seen`: terminal id -> when it was last connected (epoch
        seconds: at its connect, its pings and its close), for the admins' list; kept."""
        return f"{self.prefix}:terminal-seen"

    def contact(self, terminal_id: str) -> str:
        """string `P:terminal:ID`: the contact a terminal is in, so a reconnecting terminal
        finds it (web/terminal.py); expires a day after its button entered the contact."""
        return f"{self.prefix}:terminal:{terminal_id}"
