"""Transcript text: Vosk's word spacing undone for Chinese, and alert phrase matching."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Han ideographs and CJK punctuation: Vosk's Chinese models emit them word by word
# ("我 想 咨询 劳动 仲裁"); between two of them a space is an artefact, not a word break.
_HAN = r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
_SPACE_BETWEEN_HAN = re.compile(rf"(?<={_HAN})\s+(?={_HAN})")
_SPACES = re.compile(r"\s+")


def tidy(text: str) -> str:
    """What the console and the record show: no spaces inside Chinese, single spaces
    elsewhere (Latin words, numbers, Mongolian and Korean keep theirs)."""
    text = _SPACES.sub(" ", text).strip()
    return _SPACE_BETWEEN_HAN.sub("", text)


def compact(text: str) -> str:
    """The form phrases are matched in: NFKC, lower case, every space gone. A recogniser
    splits words where it likes, so "拖欠 工资" must still match "拖欠工资"."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()


@dataclass(frozen=True, slots=True)
class AlertMatch:
    category: str  # self_harm, wage_arrears, group_petition, violence, or the centre's own
    phrase: str  # the configured phrase that matched


class AlertRules:
    """Configured phrases by category; matched anywhere in an utterance's final text."""

    def __init__(self, phrases: Mapping[str, Sequence[str]]) -> None:
        self._rules = [
            (category, phrase, compact(phrase))
            for category, listed in phrases.items()
            for phrase in listed
            if compact(phrase)
        ]

    def __bool__(self) -> bool:
        return bool(self._rules)

    async def current(self) -> AlertRules:
        """These rules (a fixed list; transcripts/alert_phrases.LivePhrases follows the
        one the centre saves)."""
        return self

    def match(self, text: str) -> list[AlertMatch]:
        """Every category that fires, once each, with the first phrase that matched."""
        said = compact(text)
        found: dict[str, AlertMatch] = {}
        for category, phrase, key in self._rules:
            if category not in found and key in said:
                found[category] = AlertMatch(category, phrase)
        return list(found.values())
