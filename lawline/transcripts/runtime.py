"""Transcription as a process uses it: the configured transcribers, the live
settings, and the store, behind one `start(contact)`."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from lawline.config import Settings
from lawline.queue.store import QueueStore
from lawline.transcripts.alert_phrases import LivePhrases
from lawline.transcripts.client import TranscriberPool
from lawline.transcripts.engines import Engines
from lawline.transcripts.live import AlertSource, LiveSettings, LiveTranscript, TranscriptSink
from lawline.transcripts.segments import CALL_LEGS, Leg, TranscriptStatus
from lawline.transcripts.store import TranscriptStore
from lawline.transcripts.supervisor import off_reason
from lawline.transcripts.text import AlertRules
from lawline.transcripts.vad import VadSettings

log = logging.getLogger(__name__)


def live_settings(settings: Settings, store: QueueStore | None = None) -> LiveSettings:
    """`store`: the watch list follows what the centre saves (alert_phrases.py); without
    it, the settings' list."""
    t = settings.transcripts
    alerts: AlertSource = (
        LivePhrases(t.alert_phrases, store.redis, store.keys)
        if store is not None
        else AlertRules(t.alert_phrases)
    )
    return LiveSettings(
        rate=t.sample_rate,
        vad=VadSettings(
            rate=t.sample_rate, aggressiveness=t.vad_aggressiveness, silence_ms=t.silence_ms
        ),
        max_utterance_s=t.max_utterance_s,
        alerts=alerts,
        recordings_dir=settings.recordings_dir if t.record_audio else None,
    )


class Transcription:
    def __init__(self, settings: Settings, store: QueueStore) -> None:
        t = settings.transcripts
        vosk = TranscriberPool(t.urls) if t.enabled and t.urls else None
        whisper = TranscriberPool(t.whisper.urls) if t.enabled and t.whisper.urls else None
        self.engines = Engines(t.engines, vosk, whisper, t.whisper.final_timeout_s)
        self.pool = vosk
        self.off_status, detail = off_reason(settings)
        self.settings = live_settings(settings, store)
        self.store = TranscriptStore(store)
        if not self.engines.any:
            log.warning("live transcription is off", extra={"reason": detail})

    def start(
        self,
        contact_id: str,
        now: float | None = None,
        language: str = "zh",
        legs: Iterable[Leg] = CALL_LEGS,
        sink: TranscriptSink | None = None,
    ) -> LiveTranscript:
        """A conversation's transcript: a call's (into the store, for the ledger) or,
        with its own `sink` and legs, a mediation room's."""
        engines = self.engines.for_language(language)
        reason = self.off_status if not self.engines.any else TranscriptStatus.NO_LANGUAGE
        return LiveTranscript(
            contact_id,
            self.settings,
            engines,
            self.store if sink is None else sink,
            time.time() if now is None else now,
            reason,
            legs,
        )
