"""How busy a decoder's thread has been lately: the share of the last `window_s`
seconds it spent decoding. Time is passed in.

An idle decoder guesses an utterance's text in its speaker's pause (decoder.py), and
a guess the speaker talks past is time spent for nothing: worth it while the thread
has time to spare (one call: its final 0.3 s sooner), not once the calls keep it
busy (measured in the README, "What a final costs")."""

from __future__ import annotations

from collections import deque


class BusyShare:
    def __init__(self, window_s: float = 10.0, since: float | None = None) -> None:
        self.window_s = window_s
        # When the thread began: until a window has passed, its share is of the time it
        # has run (a decoder busy 2 s of its first 3 is not idle 80 % of the time).
        self.since = since
        self._spans: deque[tuple[float, float]] = deque()  # (start, end), oldest first

    def add(self, start: float, end: float) -> None:
        """The thread decoded from `start` to `end`."""
        if end > start:
            self._spans.append((start, end))

    def share(self, now: float) -> float:
        """0 (idle all the window) to 1 (decoding all of it)."""
        since = now - self.window_s
        while self._spans and self._spans[0][1] <= since:
            self._spans.popleft()
        busy = sum(min(end, now) - max(start, since) for start, end in self._spans)
        seen = self.window_s if self.since is None else min(self.window_s, now - self.since)
        return min(1.0, max(0.0, busy / seen)) if seen > 0 else 0.0
