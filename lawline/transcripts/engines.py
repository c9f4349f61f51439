"""The two speech engines and which one does what, per language.

Both engines sit behind the same interface: vosk-server's websocket protocol, one
connection per utterance (`client.py`), a pool of processes with failover.

- **Vosk** (`lawline transcriber`) is the streaming engine: words while the
  speaker talks (partials) and, at the utterance's end, its final text.
- **Whisper** (`lawline decoder`) is the utterance engine: it listens to the whole
  utterance and writes its final text once it ends, as FunASR's two-pass servers
  re-decode each sentence with a stronger offline model.

Per language, `transcripts.engines` says which engine gives partials and which
gives finals. When Whisper writes the finals and Vosk is running, Vosk's partials
are shown while the speaker talks and its own finals thrown away; with no Vosk for
the language, the console shows that the speaker is being listened to.
"""

from __future__ import annotations

from dataclasses import dataclass

from lawline.config import Settings
from lawline.transcripts.client import REPLY_TIMEOUT_S, TranscriberPool
from lawline.transcripts.packing import PackLimits
from lawline.transcripts.settings import LanguageEngines
from lawline.transcripts.whisper import DecodeSettings

# Whisper's language codes where they differ from lawline's.
WHISPER_LANGUAGE = {"zh": "zh", "mn": "mn"}


@dataclass(frozen=True)
class LegEngines:
    """Where one conversation's utterances go."""

    finals: TranscriberPool
    # Another engine's partials while the speaker talks; None: the finals' engine
    # gives its own partials (Vosk) or, if `listening`, none at all (Whisper).
    partials: TranscriberPool | None = None
    listening: bool = False
    # How long the final may take once the utterance ended (Whisper queues them).
    final_timeout_s: float = REPLY_TIMEOUT_S


class Engines:
    """The pools this process may use, and the per-language choice between them."""

    def __init__(
        self,
        choice: dict[str, LanguageEngines],
        vosk: TranscriberPool | None,
        whisper: TranscriberPool | None,
        whisper_timeout_s: float = 60.0,
    ) -> None:
        self.choice = choice
        self.vosk = vosk
        self.whisper = whisper
        self.whisper_timeout_s = whisper_timeout_s

    @property
    def any(self) -> bool:
        return self.vosk is not None or self.whisper is not None

    def for_language(self, language: str) -> LegEngines | None:
        """The engines for a conversation in `language`; None: no transcription."""
        want = self.choice.get(language, LanguageEngines(finals="vosk"))
        finals_engine = want.finals
        if finals_engine == "none":
            return None
        if finals_engine == "whisper" and self.whisper is None:
            finals_engine = "vosk"  # no decoder running: Vosk's finals are better than none
        if finals_engine == "vosk" and self.vosk is None:
            if self.whisper is None:
                return None
            finals_engine = "whisper"
        if finals_engine == "vosk":
            assert self.vosk is not None
            return LegEngines(self.vosk)
        assert self.whisper is not None
        partials = self.vosk if want.partials == "vosk" else None
        return LegEngines(
            self.whisper,
            partials,
            listening=partials is None,
            final_timeout_s=self.whisper_timeout_s,
        )


def decode_settings(settings: Settings, language: str = "zh") -> DecodeSettings:
    w = settings.transcripts.whisper
    glossary = "，".join(w.glossary) + "。" if w.glossary else ""
    prompt = glossary if w.glossary_prompt else ""
    hotwords = glossary if w.glossary_hotwords else ""
    return DecodeSettings(
        language=WHISPER_LANGUAGE.get(language, language),
        beam_size=w.beam_size,
        min_window_s=w.min_window_s,
        trim_quiet=w.trim_quiet,
        prompt=prompt,
        hotwords=hotwords,
        script=w.script,
        numbers=w.numbers,
        correct_legal_terms=w.correct_legal_terms,
        correct_legal_words=w.correct_legal_words,
        legal_terms=tuple(w.glossary + w.legal_terms),
    )


def pack_limits(settings: Settings) -> PackLimits:
    """How many waiting utterances one decode may take together (packing.py)."""
    w = settings.transcripts.whisper
    return PackLimits(w.pack_utterances, w.pack_seconds, w.pack_gap_s)
