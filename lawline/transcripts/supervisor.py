"""Which transcribers this deployment uses, and the ones `lawline serve` runs itself."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lawline.children import Child
from lawline.config import Settings
from lawline.transcripts.server import ModelMissing, check_model


@dataclass(frozen=True)
class TranscriberPlan:
    urls: list[str]  # what the bridges connect to
    children: list[Child] = field(default_factory=list)  # what serve must start for that
    off_reason: str = ""  # why there is no transcription, when urls is empty


def transcriber_plan(settings: Settings, cores: int | None = None) -> TranscriberPlan:
    t = settings.transcripts
    if not t.enabled:
        return TranscriberPlan([], off_reason="transcription is turned off in the settings")
    if t.urls:
        return TranscriberPlan(list(t.urls))
    try:
        check_model(settings.model_path)
    except ModelMissing as exc:
        return TranscriberPlan([], off_reason=str(exc))
    n = t.processes or cores or os.cpu_count() or 1
    ports = [t.port + i for i in range(n)]
    children = [
        Child(f"transcriber-{i + 1}", [
            "transcriber", "--port", str(p), "--model", str(settings.model_path),
            "--threads", str(t.threads), "--max-streams", str(t.streams_per_process),
        ])
        for i, p in enumerate(ports)
    ]
    return TranscriberPlan([f"ws://127.0.0.1:{p}" for p in ports], children)


def off_reason(settings: Settings) -> str:
    """Why a process given no transcriber URLs has no transcription."""
    if not settings.transcripts.enabled:
        return "transcription is turned off in the settings"
    try:
        check_model(settings.model_path)
    except ModelMissing as exc:
        return str(exc)
    return "no transcriber is running"
