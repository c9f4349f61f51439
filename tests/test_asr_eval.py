"""`lawline asr eval`'s scoring, and the held-out evaluation set in tests/asr_eval kept
sane (the recogniser's figures on it are in tests/test_whisper.py)."""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import pytest

from lawline.transcripts.evaluate import edit_distance, normalise, numerals, read_audio, read_refs

EVALSET = Path(__file__).resolve().parent / "asr_eval"


def same_numbers(a: str, b: str) -> bool:
    return normalise(numerals(a)) == normalise(numerals(b))


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("二十", "20"),
        ("老板欠我两万块", "老板欠我20000块"),
        ("老板欠我两万块", "老板欠我2万块"),
        ("拖了三个月", "拖了3个月"),
        ("二零二三年签的合同", "2023年签的合同"),
        ("去年十二月底", "去年12月底"),
        ("一千五百块押金", "1,500块押金"),
        ("给了八万八的彩礼", "给了88000的彩礼"),
        ("一天干十二个小时", "1天干12个小时"),
        ("下午一点", "下午1点"),
        ("百分之二十", "20%"),
    ],
)
def test_numerals_written_either_way_score_the_same(said: str, written: str) -> None:
    assert same_numbers(said, written)
    assert edit_distance(normalise(numerals(said)), normalise(numerals(written))) == 0


@pytest.mark.parametrize(
    "text",
    ["我想问一下", "我们一起去的", "跟上次一样", "他一直不接", "万一他不还", "十分感谢",
     "千万别签", "你慢一点说", "等一等", "一共多少钱", "两三个月", "三四千块", "打了半天"],
)  # fmt: skip
def test_words_that_only_contain_a_numeral_are_left_as_written(text: str) -> None:
    assert numerals(text) == text


def test_numbers_inside_words_kept_are_still_numbers() -> None:
    # 十分 and 万一 are kept only where no numeral comes before them.
    assert numerals("等了三十分钟") == "等了30分钟"
    assert numerals("三万一千块") == "31000块"
    assert numerals("一共两万块") == "一共20000块"
    assert numerals("十一点再打") == "11点再打"
    assert numerals("一个半小时") == "1个半小时"


def test_a_number_misheard_still_counts_as_an_error() -> None:
    ref, hyp = normalise(numerals("欠了三个月")), normalise(numerals("欠了4个月"))
    assert edit_distance(ref, hyp) == 1


# ----- the held-out set ---------------------------------------------------------------------


def sentences() -> dict[str, str]:
    rows = {}
    for line in (EVALSET / "sentences.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            sid, text = line.split("\t")
            rows[sid] = text
    return rows


def test_the_set_is_held_out_and_mixes_legal_and_everyday_talk() -> None:
    header = (EVALSET / "sentences.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# Held out")
    said = sentences()
    assert 25 <= len(said) <= 40
    spoken = {sid: re.sub(r"\W", "", text) for sid, text in said.items()}
    assert all(8 <= len(t) <= 25 for t in spoken.values()), spoken
    # Numbers both ways, so scoring numerals as numbers is exercised.
    assert sum(bool(re.search(r"[0-9]", t)) for t in spoken.values()) >= 3
    assert sum(bool(re.search(r"[一二两三四五六七八九十百千万]", t)) for t in spoken.values()) >= 5


@pytest.mark.parametrize(
    ("folder", "rate", "codec"), [("16k", 16000, "flac"), ("8k", 8000, "pcm_mulaw")]
)
def test_each_sentence_is_audio_of_speech_at_its_rate(folder: str, rate: int, codec: str) -> None:
    said = sentences()
    items = read_refs(EVALSET / folder)
    assert [(i, t) for i, t, _ in items] == list(said.items())  # refs.tsv is sentences.tsv's
    for sid, text, path in items:
        with av.open(str(path)) as container:
            assert container.streams.audio[0].codec_context.name == codec
            assert container.streams.audio[0].channels == 1
        pcm, got_rate = read_audio(path)
        assert got_rate == rate
        x = np.frombuffer(pcm, np.int16).astype(np.float64) / 32768
        frame = rate // 50
        levels = np.sqrt(np.mean(x[: len(x) // frame * frame].reshape(-1, frame) ** 2, axis=1))
        voiced = np.flatnonzero(levels > 10 ** (-45 / 20))
        # Silence before and after (0.3 s written; μ-law and the filter blur its edge).
        assert voiced[0] * frame / rate >= 0.2 and (len(levels) - voiced[-1]) * frame / rate >= 0.2
        speech_s = (voiced[-1] - voiced[0] + 1) * frame / rate
        chars = len(re.sub(r"\W", "", text))
        assert 0.12 <= speech_s / chars <= 0.45, (sid, speech_s, chars)  # about 2-5 s each
        rms = np.sqrt(np.mean(x[voiced[0] * frame : (voiced[-1] + 1) * frame] ** 2))
        assert 20 * np.log10(rms) > -30, sid  # not silent
        assert np.mean(np.abs(x) > 0.99) < 1e-4, sid  # not clipped


def test_the_set_stays_small() -> None:
    audio = [p for p in EVALSET.rglob("*") if p.suffix in (".wav", ".flac")]
    assert len(audio) == 2 * len(sentences())
    assert sum(p.stat().st_size for p in audio) < 3_500_000
