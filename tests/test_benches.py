"""Every bench in bench/ runs once at a smoke size, so a bench that rots fails the build.

Each script runs as its own process, as a person runs it, with the smallest arguments
that still go through its whole path (tiny N, a second or two per level). What is
checked is only that it finished and that its last line is its `key=value` figures: the
figures themselves are for people reading a full-size run, not for a test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import needs_browser
from tests.media_server import media_possible

ROOT = Path(__file__).resolve().parents[1]

# (script, smoke arguments): every script in bench/ but the shared cpu.py at least once,
# and again for each mode that goes down another path (Kamailio in front, Whisper).
SMOKE: list[tuple[str, list[str]]] = [
    ("queue_bench.py", [
        "--lawyers", "20", "--levels", "10", "--rate", "50", "--duration-s", "1",
        "--warmup-s", "0.5", "--part", "0.5", "--part-duration-s", "1", "--backlog-s", "5",
    ]),
    ("ledger_bench.py", ["--contacts", "300", "--searches", "2"]),
    ("hints_bench.py", ["--rounds", "1", "--synthetic", "10"]),
    ("signin_bench.py", ["--flood", "5", "--rounds", "1", "--sources", "2"]),
    ("sockets_bench.py", ["--levels", "2", "--consoles", "2", "--samples", "3"]),
    ("sip_bench.py", ["--rates", "5", "--seconds", "1", "--hold-s", "4"]),
    ("sip_bench.py", [
        "--front", "--rates", "5", "--seconds", "1", "--hold-s", "4", "--held", "2",
        "--workers", "1",
    ]),
    ("bridge_bench.py", ["--calls", "1", "--seconds", "2"]),
    ("bridge_bench.py", ["--calls", "1", "--seconds", "2", "--steer", "--join-at-accept"]),
    ("rooms_bench.py", ["--rooms", "1", "--seconds", "2"]),
    ("video_bench.py", ["--presses", "1", "--sessions", "1", "--seconds", "2"]),
    ("asr_bench.py", ["--streams", "1", "--seconds", "8", "--connections", "2"]),
    ("asr_bench.py", [
        "--engine", "whisper", "--streams", "1", "--seconds", "8", "--connections", "2",
    ]),
    ("glossary_bench.py", ["--sentences", "1"]),
    ("wallboard_bench.py", [
        "--boards", "2", "--lawyers", "5", "--waiting", "10", "--rate", "5", "--seconds", "1",
    ]),
    ("whisper_batch_bench.py", ["--batches", "1,2"]),
    ("whisper_pack_bench.py", [
        "tests/asr_eval/16k", "--limit", "4", "--packs", "1,2", "--beams", "1",
        "--min-windows", "5",
    ]),
]  # fmt: skip

NOT_A_BENCH = {"cpu.py"}
TIMEOUT_S = 240
FIGURE = re.compile(r"[a-z][a-z0-9_]*=\S+")


def figures(line: str) -> dict[str, str]:
    """`a=1 b=2 | a=3` -> its figures; any other word means the line is not figures."""
    words = [w for w in line.split() if w != "|"]
    bad = [w for w in words if not FIGURE.fullmatch(w)]
    assert words and not bad, f"last line is not key=value figures: {line!r}"
    return dict(w.split("=", 1) for w in words)


def test_every_bench_has_a_smoke_run() -> None:
    scripts = {p.name for p in (ROOT / "bench").glob("*.py")} - NOT_A_BENCH
    assert scripts == {script for script, _ in SMOKE}


# Chromium offers loopback candidates only in a loopback-only namespace: the video bench
# needs one, as the browser tests do. The bridge bench runs Janus, which needs an address
# of its own in the tests' namespace (root), as the media tests do.
needs_media = pytest.mark.skipif(
    not media_possible(), reason="needs Janus, root and the tests' network namespace"
)
NEEDS = {
    "video_bench.py": [needs_browser],
    "bridge_bench.py": [needs_media],
    "rooms_bench.py": [needs_media],
}


@pytest.mark.parametrize(
    ("script", "args"),
    [pytest.param(s, a, id=" ".join([s, *a[:2]]), marks=NEEDS.get(s, [])) for s, a in SMOKE],
)
def test_bench_runs_at_smoke_size(script: str, args: list[str]) -> None:
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / script), *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        # What it printed so far says where it stood.
        said = "".join(
            x if isinstance(x, str) else (x or b"").decode() for x in (e.stdout, e.stderr)
        )
        pytest.fail(
            f"{script} still running after {TIMEOUT_S} s:\n" + "\n".join(said.splitlines()[-30:])
        )
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{tail}"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines, f"{script} printed nothing:\n{tail}"
    found = figures(lines[-1])
    assert any(re.fullmatch(r"-?[0-9.]+%?", v) for v in found.values()), found
