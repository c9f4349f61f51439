"""One call reviewed against the rules: a plain function of its transcript.

`review(lines, rules)` takes the call's final lines (who spoke, from when to when, what
was recognised) and answers, per rule, whether it held and the evidence: the lines that
show it (time-stamped), or what was missing. The score is the weight of the rules held,
of all the rules' weight, out of 100; a critical rule broken fails the call whatever
its score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lawline.quality.rules import Rule
from lawline.transcripts.segments import Leg

_NOT_WORDS = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Line:
    leg: str  # citizen or lawyer
    start: float  # seconds from the call's start
    end: float
    text: str


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


def _silence(rule: Rule, lines: Sequence[Line]) -> Finding:
    gaps = []
    ordered = sorted(lines, key=lambda ln: ln.start)
    spoken_until = ordered[0].end if ordered else 0.0
    for ln in ordered[1:]:
        if ln.start - spoken_until > rule.max_s:
            gaps.append({"start": round(spoken_until, 1), "end": round(ln.start, 1)})
        spoken_until = max(spoken_until, ln.end)
    f = Finding(rule.id, rule.name, not gaps, rule.critical, rule.weight, evidence=gaps[:5])
    if gaps:
        f.why = f"{len(gaps)}次超过{rule.max_s:.0f}秒无人说话"
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


def review(lines: Sequence[Line], rules: Sequence[Rule]) -> Review:
    """The call's review; `lines` its final lines (any order)."""
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
            findings.append(_silence(rule, lines))
        elif rule.kind == "talk_over":
            findings.append(_talk_over(rule, lines))
        else:
            findings.append(_talk_share(rule, lines))
    total = sum(f.weight for f in findings)
    held = sum(f.weight for f in findings if f.held)
    score = round(100 * held / total, 1) if total else 100.0
    critical = any(f.critical and not f.held for f in findings)
    return Review(score, critical, findings)
