"""Transcript text, subtitles, the protocol's messages and the voice-activity decision,
on their own (no recogniser)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lawline.transcripts import export
from lawline.transcripts.protocol import EOF_MESSAGE, ProtocolError, is_eof, parse_reply
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.transcripts.text import AlertRules, tidy
from lawline.transcripts.vad import Change, VadSettings, VoiceActivity
from tests.speech import CITIZEN_SAYS, RATE, pcm_of, silence, speak

BEIJING = timezone(timedelta(hours=8))


def test_chinese_loses_the_spaces_vosk_puts_between_words() -> None:
    assert tidy("我 想 咨询 劳动 仲裁") == "我想咨询劳动仲裁"
    assert tidy("  工资 拖欠   了 三个 月 ") == "工资拖欠了三个月"
    # Latin words, digits and Korean keep their spaces; around them too.
    assert tidy("我 的 工号 是 A 12") == "我的工号是 A 12"
    assert tidy("저는 임금을 받지 못했습니다") == "저는 임금을 받지 못했습니다"


def test_alert_phrases_match_whatever_the_recogniser_splits() -> None:
    rules = AlertRules({"wage_arrears": ["拖欠工资", "欠薪"], "self_harm": ["不想活了"]})
    hits = rules.match("老板 拖欠 工资 三个 月 了 我们 几十 个 人 都 欠薪")
    assert [(h.category, h.phrase) for h in hits] == [("wage_arrears", "拖欠工资")]
    assert [h.category for h in rules.match("我 真 的 不想 活 了")] == ["self_harm"]
    assert rules.match("我 想 咨询 离婚 的 事") == []
    assert not AlertRules({"x": ["  "]})  # an empty phrase never fires


SEGMENTS = [
    Segment(Kind.FINAL, Leg.LAWYER, "请讲", 3.5, 4.25, seq=1),
    Segment(Kind.FINAL, Leg.CITIZEN, "我想咨询工资", 0.0, 2.04, seq=1),
    Segment(Kind.PARTIAL, Leg.CITIZEN, "不该出现", 1.0, 1.5),
    Segment(Kind.GAP, Leg.CITIZEN, "", 3661.0, 3662.0, resent=False),
]


def test_subrip_and_webvtt_cues_are_in_time_order_with_speakers() -> None:
    srt = export.to_srt(SEGMENTS)
    assert srt.split("\n\n")[0] == "1\n00:00:00,000 --> 00:00:02,040\n来电人：我想咨询工资"
    assert "2\n00:00:03,500 --> 00:00:04,250\n律师：请讲" in srt
    assert "3\n01:01:01,000 --> 01:01:02,000\n来电人（转写中断）" in srt
    assert "不该出现" not in srt  # partials are not part of the record
    vtt = export.to_vtt(SEGMENTS)
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.040\n<v 来电人>我想咨询工资\n")


def test_plain_text_has_the_wall_clock_time_of_each_utterance() -> None:
    started = datetime(2026, 9, 21, 21, 33, 20, tzinfo=BEIJING).timestamp()
    text = export.to_text(SEGMENTS[:2], started, BEIJING)
    assert text == "[21:33:20] 来电人：我想咨询工资\n[21:33:23] 律师：请讲\n"


def test_replies_of_the_vosk_server_protocol() -> None:
    assert parse_reply('{"partial" : "안녕"}').text == "안녕"
    final = parse_reply(
        '{"result": [{"conf": 1, "start": 0.5, "end": 0.9, "word": "a"}], "text": "a"}'
    )
    assert final.final and final.words[0].start == 0.5
    for bad in ("not json", "[1]", '{"what": 1}', '{"text": "a", "result": [{"word": "a"}]}'):
        with pytest.raises(ProtocolError):
            parse_reply(bad)
    assert is_eof(EOF_MESSAGE) and is_eof('{"eof": 1}')
    assert not is_eof('{"eof": 0}') and not is_eof('{"config": {}}') and not is_eof("eof")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return pcm_of(speak(CITIZEN_SAYS, tmp_path_factory.mktemp("vad") / "s.wav"))


def frames(pcm: bytes) -> list[bytes]:
    n = RATE * 20 // 1000 * 2
    return [pcm[i : i + n] for i in range(0, len(pcm) - n + 1, n)]


def test_speech_starts_an_utterance_and_a_pause_ends_it(speech: bytes) -> None:
    vad = VoiceActivity(VadSettings(silence_ms=600))
    audio = silence(1.0) + speech + silence(1.5)
    changes = [(i * 20, c) for i, f in enumerate(frames(audio)) if (c := vad.push(f))]
    kinds = [c for _, c in changes]
    assert kinds[0] is Change.STARTED and kinds[-1] is Change.ENDED
    start_ms, end_ms = changes[0][0], changes[-1][0]
    speech_ms = len(speech) // 2 * 1000 // RATE
    assert 1000 <= start_ms <= 1400  # soon after the speech began
    # The last pause ends it 600 ms after the speech (espeak trails a little silence).
    assert 1000 + speech_ms <= end_ms + 700 and end_ms <= 1000 + speech_ms + 700


def test_silence_and_hum_are_not_speech() -> None:
    vad = VoiceActivity(VadSettings())
    assert all(vad.push(f) is None for f in frames(silence(3.0)))
    with pytest.raises(ValueError, match="640 bytes"):
        vad.push(bytes(100))


@pytest.fixture(scope="module")
def voiced_frame(speech: bytes) -> bytes:
    """One 20 ms frame of real speech that the detector calls voiced."""
    detector = VoiceActivity(VadSettings())._vad
    return next(f for f in frames(speech) if detector.is_speech(f, RATE))


@given(parts=st.lists(st.tuples(st.booleans(), st.integers(1, 80)), max_size=30))
def test_starts_and_ends_alternate_whatever_the_audio(
    voiced_frame: bytes, parts: list[tuple[bool, int]]
) -> None:
    vad = VoiceActivity(VadSettings(silence_ms=200))
    loud = voiced_frame
    changes = []
    for voiced, n in parts:
        for _ in range(n):
            c = vad.push(loud if voiced else bytes(640))
            if c is not None:
                changes.append(c)
    assert changes == [Change.STARTED, Change.ENDED] * (len(changes) // 2) + (
        [Change.STARTED] if len(changes) % 2 else []
    )
    assert vad.speaking == (len(changes) % 2 == 1)
