"""A mediation party's phone for tests: tests/pjsua_callee.py as a process that answers
lawline's call, presses 1 every 2 s and says a tone; what it heard is read back after."""

from __future__ import annotations

import subprocess
import sys
import wave
from array import array
from pathlib import Path

from tests.ports import free_sip_port


class PhoneParty:
    """The party's phone: tests/pjsua_callee.py answering, pressing 1 every 2 s and
    saying its tone; what it heard is read back after it hangs up."""

    def __init__(self, tmp: Path, say: Path, *more: str) -> None:
        self.port = free_sip_port()
        self.heard_wav = tmp / "phone-party.wav"
        script = Path(__file__).parent / "pjsua_callee.py"
        args = [str(self.port), str(self.heard_wav), "answer", "--key", "1", "--say", str(say)]
        args += more
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        for line in self.proc.stdout:
            if line.strip() == "ready":
                break
        else:
            raise RuntimeError("the party's softphone did not start")

    def finish(self) -> str:
        out, _ = self.proc.communicate(timeout=70)
        self.lines = out.splitlines()
        return out

    def heard(self, t0: float, t1: float) -> tuple[list[int], int]:
        media_at = next(float(ln.split()[1]) for ln in self.lines if ln.startswith("media "))
        with wave.open(str(self.heard_wav)) as w:
            rate = w.getframerate()
            samples = array("h", w.readframes(w.getnframes()))
        a, b = (int((t - media_at) * rate) for t in (t0, t1))
        return list(samples[max(0, a) : b]), rate
