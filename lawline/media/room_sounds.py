"""Sounds the media server plays into a room (AudioBridge `play_file` takes Ogg Opus
files only): lawline's hold music and its spoken announcements (telephony/prompts.py),
made by sox (and espeak-ng) and encoded once by PyAV into the media server's folder,
named by what they were made from, so a changed text makes a new file."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import av

from lawline.telephony.prompts import TEXTS, TONES, speak, synth

OPUS_RATE = 48_000
HOLD_MUSIC = "hold_music"
MEDIATION_CONSENT = "mediation_consent"


def ensure_room_sound(folder: Path, name: str) -> Path:
    """The Ogg Opus file of this tone or spoken prompt in `folder`, made if need be."""
    spec = json.dumps(TONES[name]) if name in TONES else TEXTS[name]
    digest = hashlib.sha256(spec.encode()).hexdigest()[:12]
    target = folder / f"{name}-{digest}.opus"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / f"{name}.wav"
        if name in TONES:
            synth(TONES[name], wav)
        else:
            speak(TEXTS[name], wav)
        partial = Path(tmp) / "sound.opus"
        _to_opus(wav, partial)
        shutil.move(partial, target)
    return target


def _to_opus(wav: Path, out: Path) -> None:
    with av.open(str(wav)) as source, av.open(str(out), "w", format="ogg") as sink:
        stream = sink.add_stream("libopus", rate=OPUS_RATE)
        stream.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=OPUS_RATE)
        for frame in source.decode(audio=0):
            for chunk in resampler.resample(frame):
                for packet in stream.encode(chunk):
                    sink.mux(packet)
        for chunk in resampler.resample(None):
            for packet in stream.encode(chunk):
                sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
