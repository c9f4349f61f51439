"""Which transcribers and decoders this deployment uses, and the ones `lawline serve`
runs itself: one Vosk transcriber per core when the Vosk model is there, and one
Whisper decoder per core when a language writes its finals with Whisper and the
Whisper model is there."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lawline.children import Child
from lawline.config import Settings
from lawline.transcripts.segments import TranscriptStatus
from lawline.transcripts.server import ModelMissing, check_model
from lawline.transcripts.whisper import ModelMissing as WhisperMissing
from lawline.transcripts.whisper import check_whisper_model


@dataclass(frozen=True)
class TranscriberPlan:
    urls: list[str]  # Vosk transcribers the bridges connect to
    children: list[Child] = field(default_factory=list)  # what serve must start for that
    off_reason: str = ""  # why there is no transcription, when no engine is there
    whisper_urls: list[str] = field(default_factory=list)  # Whisper decoders
    whisper_children: list[Child] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """What a telephony worker is told of them."""
        import json

        return {
            "LAWLINE_TRANSCRIPTS__URLS": json.dumps(self.urls),
            "LAWLINE_TRANSCRIPTS__WHISPER__URLS": json.dumps(self.whisper_urls),
        }


def transcriber_plan(settings: Settings, cores: int | None = None) -> TranscriberPlan:
    t = settings.transcripts
    if not t.enabled:
        return TranscriberPlan([], off_reason="transcription is turned off in the settings")
    n_cores = cores or os.cpu_count() or 1
    urls, children, vosk_missing = list(t.urls), [], ""
    if not urls:
        try:
            check_model(settings.model_path)
        except ModelMissing as exc:
            vosk_missing = str(exc)
        else:
            ports = [t.port + i for i in range(t.processes or n_cores)]
            children = [
                Child(f"transcriber-{i + 1}", [
                    "transcriber", "--port", str(p), "--model", str(settings.model_path),
                    "--threads", str(t.threads), "--max-streams", str(t.streams_per_process),
                ])
                for i, p in enumerate(ports)
            ]  # fmt: skip
            urls = [f"ws://127.0.0.1:{p}" for p in ports]
    whisper_urls, whisper_children = _whisper(settings, n_cores)
    if not urls and not whisper_urls:
        return TranscriberPlan([], off_reason=vosk_missing or "no transcriber is configured")
    return TranscriberPlan(urls, children, "", whisper_urls, whisper_children)


def _whisper(settings: Settings, cores: int) -> tuple[list[str], list[Child]]:
    t = settings.transcripts
    w = t.whisper
    if w.urls:
        return list(w.urls), []
    if not any(e.finals == "whisper" for e in t.engines.values()):
        return [], []
    try:
        check_whisper_model(settings.whisper_model_path)
    except WhisperMissing:
        return [], []
    ports = [w.port + i for i in range(w.processes or cores)]
    children = [
        Child(f"decoder-{i + 1}", [
            "decoder", "--port", str(p), "--model", str(settings.whisper_model_path),
            "--threads", str(w.threads),
        ])
        for i, p in enumerate(ports)
    ]  # fmt: skip
    return [f"ws://127.0.0.1:{p}" for p in ports], children


def off_reason(settings: Settings) -> tuple[TranscriptStatus, str]:
    """Why a process given no transcriber URLs has no transcription: what the console
    says, and the detail for the log (a path, never shown to a lawyer)."""
    if not settings.transcripts.enabled:
        return TranscriptStatus.DISABLED, "transcription is turned off in the settings"
    try:
        check_model(settings.model_path)
    except ModelMissing as exc:
        return TranscriptStatus.NO_MODEL, str(exc)
    return TranscriptStatus.NO_TRANSCRIBER, "no transcriber is running"
