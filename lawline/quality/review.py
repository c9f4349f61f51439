"""One call reviewed against the rules: a plain function of its transcript.

`review(lines, rules, holds)` takes the call's final lines (who spoke, from when to when,
what was recognised) and its holds (when the lawyer put the caller on hold and came
back: `holds_of` pairs the recorded marks) and answers, per rule, whether it held and
the evidence: the lines that show it (time-stamped), or what was missing. The score is
the weight of the rules held, of all the rules' weight, out of 100; a critical rule
broken fails the call whatever its score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lawline.quality.rules import Rule
from lawline.transcripts.segments import Hold, Leg

_NOT_WORDS = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Line:
    leg: str  # citizen or lawyer
    start: float  # seconds from the call's start
    end: float
    text: str


@dataclass(frozen=True)
class HoldSpan:
    start: float  # seconds from the call's start: the caller hears the music
    end: float  # the lawyer came back, or the call ended


def holds_of(marks: Sequence[tuple[float, str]], end: float) -> list[HoldSpan]:
    """Each hold from its marks, (time, "on" | "off") in any order: on again while on
    changes nothing (the worker's hold is already on); a hold never ended (a record the
    ledger could not close) lasts until `end`, the last thing heard."""
    spans, since = [], None
    for t, mark in sorted(marks):
        if mark == Hold.ON and since is None:
            since = t
        elif mark == Hold.OFF and since is not None:
            spans.append(HoldSpan(since, t))
            since = None
    if since is not None:
        spans.append(HoldSpan(since, max(since, end)))
    return spans


@dataclass
class Finding:
    rule: str
    name: str
    held: bool
    critical: bool
    weight: float
    why: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "held": self.held,
            "critical": self.critical,
            "weight": self.weight,
            "why": self.why,
            "evidence": self.evidence,
        }


@dataclass
class Review:
    score: float
    critical_failed: bool
    findings: list[Finding]


def _plain(text: str) -> str:
    return _NOT_WORDS.sub("", text).lower()


def _cite(line: Line) -> dict[str, Any]:
    return {"leg": line.leg, "start": round(line.start, 1), "end": round(line.end, 1),
            "text": line.text}  # fmt: skip


def _saying(lines: Sequence[Line], leg: str, phrases: Sequence[str]) -> list[Line]:
    wanted = [_plain(p) for p in phrases]
    return [ln for ln in lines if ln.leg == leg and any(w in _plain(ln.text) for w in wanted)]


def _required(rule: Rule, lines: Sequence[Line], end: float) -> Finding:
    found = _saying(lines, Leg.LAWYER, rule.phrases)
    if rule.within_s is not None:
        found = [ln for ln in found if ln.start <= rule.within_s]
    if rule.last_s is not None:
        found = [ln for ln in found if ln.end >= end - rule.last_s]
    f = Finding(rule.id, rule.name, bool(found), rule.critical, rule.weight)
    if found:
        f.evidence = [_cite(found[0])]
    else:
        where = (
            f"前{rule.within_s:.0f}秒内" if rule.within_s else
            f"最后{rule.last_s:.0f}秒内" if rule.last_s else ""
        )  # fmt: skip
        f.why = f"律师{where}未说：{'、'.join(rule.phrases[:4])}"
    return f


def _required_if(rule: Rule, lines: Sequence[Line]) -> Finding:
    cue = _saying(lines, Leg.CITIZEN, rule.when)
    f = Finding(rule.id, rule.name, True, rule.critical, rule.weight)
    if not cue:
        f.why = "不适用"
        return f
    after = [ln for ln in _saying(lines, Leg.LAWYER, rule.phrases) if ln.end >= cue[0].start]
    f.held = bool(after)
    f.evidence = [_cite(cue[0])] + ([_cite(after[0])] if after else [])
    if not after:
        f.why = f"来电人提到后，律师未说：{'、'.join(rule.phrases[:4])}"
    return f


def _forbidden(rule: Rule, lines: Sequence[Line]) -> Finding:
    said = _saying(lines, Leg.LAWYER, rule.phrases)
    f = Finding(rule.id, rule.name, not said, rule.critical, rule.weight)
    f.evidence = [_cite(ln) for ln in said[:5]]
    if said:
        f.why = "律师说了禁用语"
    return f


def _silence(rule: Rule, lines: Sequence[Line], holds: Sequence[HoldSpan]) -> Finding:
    # A hold is no silence: the caller hears the music, and the hold rule judges it.
    gaps = []
    spans = sorted([(ln.start, ln.end) for ln in lines] + [(h.start, h.end) for h in holds])
    spoken_until = spans[0][1] if spans else 0.0
    for start, end in spans[1:]:
        if start - spoken_until > rule.max_s:
            gaps.append({"start": round(spoken_until, 1), "end": round(start, 1)})
        spoken_until = max(spoken_until, end)
    f = Finding(rule.id, rule.name, not gaps, rule.critical, rule.weight, evidence=gaps[:5])
    if gaps:
        f.why = f"{len(gaps)}次超过{rule.max_s:.0f}秒无人说话"
    return f


def _hold(rule: Rule, lines: Sequence[Line], holds: Sequence[HoldSpan]) -> Finding:
    f = Finding(rule.id, rule.name, True, rule.critical, rule.weight)
    if not holds:
        f.why = "不适用"
        return f
    said = _saying(lines, Leg.LAWYER, rule.phrases)
    window = rule.within_s or 0.0
    unexplained = too_long = 0
    for h in holds:
        told = [ln for ln in said if h.start - window <= ln.end and ln.start <= h.start]
        long = h.end - h.start > rule.max_s
        unexplained += not told
        too_long += long
        if told and not long:
            continue
        if sum(1 for e in f.evidence if e.get("hold")) < 5:
            f.evidence.append({"hold": True, "start": round(h.start, 1), "end": round(h.end, 1)})
            # What the lawyer said last before it: the explanation, or what came instead.
            before = told or [ln for ln in lines if ln.leg == Leg.LAWYER and ln.start <= h.start]
            f.evidence += [_cite(ln) for ln in sorted(before, key=lambda ln: ln.start)[-1:]]
    f.held = not unexplained and not too_long
    why = []
    if unexplained:
        why.append(
            f"{unexplained}次保持通话前{window:.0f}秒内未说明：{'、'.join(rule.phrases[:3])}"
        )
    if too_long:
        why.append(f"{too_long}次保持通话超过{rule.max_s:.0f}秒")
    f.why = "；".join(why)
    return f


def _talk_over(rule: Rule, lines: Sequence[Line]) -> Finding:
    citizen = [ln for ln in lines if ln.leg == Leg.CITIZEN]
    over = []
    for ln in lines:
        if ln.leg != Leg.LAWYER:
            continue
        for c in citizen:
            # The lawyer started while the citizen was speaking, and went on over them.
            if c.start < ln.start < c.end and min(c.end, ln.end) - ln.start > rule.min_s:
                over.append(_cite(ln))
                break
    f = Finding(rule.id, rule.name, len(over) <= rule.max_count, rule.critical, rule.weight)
    f.evidence = over[:5]
    if not f.held:
        f.why = f"律师{len(over)}次打断来电人"
    return f


def _talk_share(rule: Rule, lines: Sequence[Line]) -> Finding:
    talk = {leg: sum(ln.end - ln.start for ln in lines if ln.leg == leg) for leg in Leg}
    total = talk[Leg.LAWYER] + talk[Leg.CITIZEN]
    share = talk[Leg.LAWYER] / total if total else 0.0
    f = Finding(rule.id, rule.name, share <= rule.max_share, rule.critical, rule.weight)
    f.evidence = [{"lawyer_share": round(share, 2)}]
    if not f.held:
        f.why = f"律师说话占{share:.0%}"
    return f


def review(lines: Sequence[Line], rules: Sequence[Rule], holds: Sequence[HoldSpan] = ()) -> Review:
    """The call's review; `lines` its final lines (any order), `holds` its holds."""
    end = max((ln.end for ln in lines), default=0.0)
    findings = []
    for rule in rules:
        if rule.kind == "required":
            findings.append(_required(rule, lines, end))
        elif rule.kind == "required_if":
            findings.append(_required_if(rule, lines))
        elif rule.kind == "forbidden":
            findings.append(_forbidden(rule, lines))
        elif rule.kind == "silence":
            findings.append(_silence(rule, lines, holds))
        elif rule.kind == "hold":
            findings.append(_hold(rule, lines, holds))
        elif rule.kind == "talk_over":
            findings.append(_talk_over(rule, lines))
        else:
            findings.append(_talk_share(rule, lines))
    total = sum(f.weight for f in findings)
    held = sum(f.weight for f in findings if f.held)
    score = round(100 * held / total, 1) if total else 100.0
    critical = any(f.critical and not f.held for f in findings)
    return Review(score, critical, findings)
