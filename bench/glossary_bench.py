"""Does the legal glossary, given to Whisper as its prompt or as hotwords, help?
Run by hand:

    .venv/bin/python bench/glossary_bench.py [--sentences N]

Character error rate without the glossary, with it as the prompt and with it as
hotwords, on sentences that use glossary
words and on sentences that use none of them (where a prompt can only hurt, by
pulling the decoder towards words that were not said). The speech is espeak-ng's
pinyin voice (the only Mandarin voice here): robotic, so the absolute rates are
high; the difference between the two columns is what this measures. A centre
repeats this with `lawline asr eval` on its own recordings.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lawline.transcripts.evaluate import edit_distance, normalise
from lawline.transcripts.vocabulary import LEGAL_GLOSSARY
from lawline.transcripts.whisper import DecodeSettings, WhisperDecoder
from tests.speech import WHISPER_MODEL, pcm_of, silence, speak_mandarin

IN_PROMPT = [
    "我想申请法律援助。",
    "宅基地的纠纷应该找谁？",
    "他不给孩子抚养费。",
    "儿子不付赡养费怎么办？",
    "我要申请劳动仲裁。",
    "工伤认定需要什么材料？",
    "民间借贷的利息有上限吗？",
]
NOT_IN_PROMPT = [
    "我家的房子被邻居挡住了阳光。",
    "公司不给我交社会保险怎么办？",
    "我的孩子今年八岁，上小学二年级。",
    "昨天下午我在超市买到了过期的牛奶。",
    "房东不退押金，已经两个月了。",
    "我想问一下遗嘱需要去哪里办理。",
]


def cer(decoder: WhisperDecoder, clips: list[tuple[str, bytes]]) -> float:
    edits = chars = 0
    for ref, pcm in clips:
        hyp = decoder.decode(pcm, 16_000).text
        edits += edit_distance(normalise(ref), normalise(hyp))
        chars += len(normalise(ref))
    return edits / chars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=0, help="of each kind (0: all)")
    args = parser.parse_args()
    n = args.sentences or None
    assert not any(w in s for w in LEGAL_GLOSSARY for s in NOT_IN_PROMPT)
    with tempfile.TemporaryDirectory() as d:
        clips = {
            name: [
                (s, pcm_of(speak_mandarin(s, Path(d) / f"{name}{i}.wav")) + silence(0.3))
                for i, s in enumerate(sentences)
            ]
            for name, sentences in (("in", IN_PROMPT[:n]), ("out", NOT_IN_PROMPT[:n]))
        }
    prompt = "，".join(LEGAL_GLOSSARY) + "。"
    plain = WhisperDecoder(WHISPER_MODEL, threads=2)
    prompted = WhisperDecoder(WHISPER_MODEL, threads=2, settings=DecodeSettings(prompt=prompt))
    hinted = WhisperDecoder(WHISPER_MODEL, threads=2, settings=DecodeSettings(hotwords=prompt))
    figures = []
    print("sentences            without        as prompt               as hotwords")
    for name, label in (("in", "glossary words"), ("out", "no glossary words")):
        a, b, c = (cer(d, clips[name]) for d in (plain, prompted, hinted))
        print(
            f"{label:<20} cer={a:.3f}      cer={b:.3f} ({b - a:+.3f})"
            f"      cer={c:.3f} ({c - a:+.3f})"
        )
        figures += [f"{name}_plain={a:.3f}", f"{name}_prompt={b:.3f}", f"{name}_hotwords={c:.3f}"]
    print(" ".join(figures))


if __name__ == "__main__":
    main()
