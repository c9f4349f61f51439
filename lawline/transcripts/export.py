"""A finished transcript as plain text and as subtitles (SubRip and WebVTT)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo

from lawline.transcripts.segments import Kind, Leg, Segment

SPEAKER = {Leg.CITIZEN: "来电人", Leg.LAWYER: "律师"}
GAP_TEXT = "（转写中断）"


def _finals(segments: Iterable[Segment]) -> list[Segment]:
    shown = [s for s in segments if s.kind in (Kind.FINAL, Kind.GAP)]
    return sorted(shown, key=lambda s: (s.start, s.end))


def _line(s: Segment) -> str:
    who = SPEAKER.get(s.leg, "") if s.leg else ""
    return f"{who}：{s.text}" if s.kind == Kind.FINAL else f"{who}{GAP_TEXT}"


def _clock(t: float, sep: str) -> str:
    ms = max(0, round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_text(segments: Iterable[Segment], started_at: float, tz: tzinfo) -> str:
    """One line per utterance, with the wall-clock time it started."""
    lines = []
    for s in _finals(segments):
        when = datetime.fromtimestamp(started_at + s.start, tz).strftime("%H:%M:%S")
        lines.append(f"[{when}] {_line(s)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _cue_end(s: Segment) -> float:
    return max(s.end, s.start + 0.5)  # a cue needs some length to be shown


def to_srt(segments: Iterable[Segment]) -> str:
    cues = []
    for n, s in enumerate(_finals(segments), 1):
        span = f"{_clock(s.start, ',')} --> {_clock(_cue_end(s), ',')}"
        cues.append(f"{n}\n{span}\n{_line(s)}\n")
    return "\n".join(cues)


def to_vtt(segments: Iterable[Segment]) -> str:
    cues = ["WEBVTT\n"]
    for s in _finals(segments):
        span = f"{_clock(s.start, '.')} --> {_clock(_cue_end(s), '.')}"
        who = SPEAKER.get(s.leg, "") if s.leg else ""
        text = f"<v {who}>{s.text}" if s.kind == Kind.FINAL else f"{who}{GAP_TEXT}"
        cues.append(f"{span}\n{text}\n")
    return "\n".join(cues)
