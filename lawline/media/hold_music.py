"""The hold music the media server plays into a room (AudioBridge `play_file` takes Ogg
Opus files only): lawline's own hold music prompt (telephony/prompts.py), synthesised
by sox and encoded once by PyAV into data_dir/janus/hold_music.opus."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import av

from lawline.telephony.prompts import TONES, synth

OPUS_RATE = 48_000


def ensure_hold_music(folder: Path) -> Path:
    """The Ogg Opus file in `folder`, made if it is not there yet."""
    target = folder / "hold_music.opus"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "hold_music.wav"
        synth(TONES["hold_music"], wav)
        partial = Path(tmp) / "hold_music.opus"
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
