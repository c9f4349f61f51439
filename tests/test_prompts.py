"""Voice prompts: built for real with espeak-ng and sox, replaceable by a centre."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lawline.telephony import prompts
from tests.test_flow import Caller, answered_caller


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prompts")
    assert prompts.build(out) == len(prompts.spoken_texts()) + len(prompts.TONES)
    return out


def rms(path: Path) -> float:
    stat = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True)
    line = next(ln for ln in stat.stderr.splitlines() if ln.startswith("RMS     amplitude"))
    return float(line.split(":")[1])


def test_every_prompt_a_call_can_play_exists_and_is_not_silence(built: Path) -> None:
    heard: set[str] = set()
    for caller in (answered_caller(), Caller(hotline_open=False)):
        caller.finish_prompt()
        caller.press("1")
        caller.flow.queue_position(4, 200)
        caller.wait(100)
        caller._take(caller.flow.lawyer_ended(caller.now))
        caller.press("7")
        caller.wait(30)
        heard |= set(caller.heard)
    waiting = Caller()
    waiting.finish_prompt()
    waiting.press("79*")  # invalid keys, then queued
    waiting.wait(200)
    heard |= set(waiting.heard)
    assert {"welcome", "main_menu", "survey", "closed", "callback_offer"} <= heard
    for pid in heard | {"hold_music", "domain_menu", "green_menu", "num_99", "num_many"}:
        path = prompts.resolve(pid, None, built)
        info = subprocess.run(["soxi", str(path)], capture_output=True, text=True).stdout
        assert "16000" in info and "Channels       : 1" in info, pid
        assert rms(path) > 0.01, f"{pid} is silent"


def test_a_second_build_does_nothing_and_a_changed_text_rebuilds_one(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert prompts.build(built) == 0
    before = (built / "thanks.wav").read_bytes()
    monkeypatch.setitem(prompts.TEXTS, "thanks", "谢谢，再见。")
    assert prompts.build(built) == 1
    assert (built / "thanks.wav").read_bytes() != before
    monkeypatch.undo()
    assert prompts.build(built) == 1


def test_a_centres_own_recording_wins(built: Path, tmp_path: Path) -> None:
    own = tmp_path / "welcome.wav"
    own.write_bytes((built / "goodbye.wav").read_bytes())
    assert prompts.resolve("welcome", tmp_path, built) == own
    assert prompts.resolve("main_menu", tmp_path, built) == built / "main_menu.wav"
    with pytest.raises(FileNotFoundError, match="lawline prompts"):
        prompts.resolve("no_such_prompt", tmp_path, built)


@pytest.mark.parametrize(
    "n, words",
    [(0, "零"), (2, "两"), (7, "七"), (10, "十"), (12, "十二"), (20, "二十"), (45, "四十五")],
)
def test_numbers_are_read_as_counts(n: int, words: str) -> None:
    assert prompts.count_words(n) == words


def test_pinyin_keeps_the_tones() -> None:
    assert prompts.to_pinyin("法律援助") == "fa3 lv4 yuan2 zhu4"
