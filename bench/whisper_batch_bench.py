"""Would decoding queued utterances together save Whisper compute? Run by hand:

    .venv/bin/python bench/whisper_batch_bench.py [--threads 2] [--batches 1,2,4,8]

Eight short Mandarin utterances (espeak-ng's pinyin voice), decoded one by one
(faster-whisper's transcribe, beam 5, temperature 0, no guards) and as one batch
(faster-whisper's BatchedInferencePipeline, one 30 s window per utterance), for
batches of 1, 2, 4 and 8. Prints seconds of compute per utterance and the ratio.
An utterance that loops costs far more one by one (the decoder runs to its token
limit), so the per-utterance figures also show how often that happened.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lawline.transcripts.whisper import RATE, WhisperDecoder, pcm_to_float
from tests.speech import WHISPER_MODEL, pcm_of, speak_mandarin

SAID = [
    "我想咨询一下拖欠工资的问题",
    "老板三个月没有发工资了",
    "请问怎么申请法律援助",
    "离婚以后孩子的抚养费怎么算",
    "我家的宅基地被邻居占了",
    "交通事故对方不赔钱怎么办",
    "我要申请劳动仲裁",
    "工伤认定需要什么材料",
]


def main() -> None:
    from faster_whisper import BatchedInferencePipeline

    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,2,4,8", help="batch sizes, at most 8")
    args = ap.parse_args()
    sizes = [int(x) for x in args.batches.split(",")]
    with tempfile.TemporaryDirectory() as d:
        audio = [
            pcm_to_float(pcm_of(speak_mandarin(s, Path(d) / f"{i}.wav")), RATE)
            for i, s in enumerate(SAID[: max(sizes)])
        ]
    decoder = WhisperDecoder(WHISPER_MODEL, threads=args.threads)
    model = decoder.model

    def one(a: np.ndarray) -> str:
        segments, _ = model.transcribe(
            a,
            language="zh",
            beam_size=5,
            temperature=0.0,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return "".join(s.text for s in segments)

    def batch(clips: list[np.ndarray]) -> list[str]:
        gap = np.zeros(RATE // 10, dtype=np.float32)
        whole, stamps, at = [], [], 0
        for a in clips:
            stamps.append({"start": at / RATE, "end": (at + len(a)) / RATE})
            whole += [a, gap]
            at += len(a) + len(gap)
        segments, _ = BatchedInferencePipeline(model).transcribe(
            np.concatenate(whole),
            language="zh",
            beam_size=5,
            clip_timestamps=stamps,
            batch_size=len(clips),
            without_timestamps=True,
            vad_filter=False,
        )
        return [s.text for s in segments]

    one(audio[0])  # warm up
    print(f"audio: {', '.join(f'{len(a) / RATE:.1f}' for a in audio)} s; {args.threads} threads")
    print(f"{'batch':>5} {'one by one s/utt':>17} {'batched s/utt':>14} {'ratio':>6}")
    figures = []
    for n in sizes:
        t = time.perf_counter()
        singles = [one(a) for a in audio[:n]]
        alone = (time.perf_counter() - t) / n
        t = time.perf_counter()
        together = batch(audio[:n])
        batched = (time.perf_counter() - t) / n
        print(f"{n:>5} {alone:>17.2f} {batched:>14.2f} {batched / alone:>6.2f}")
        figures += [f"alone{n}_s={alone:.2f}", f"batched{n}_s={batched:.2f}"]
    print("last texts, one by one:", [decoder.finish_text(x) for x in singles[:3]])
    print("last texts, batched:   ", [decoder.finish_text(x) for x in together[:3]])
    print(" ".join(figures))


if __name__ == "__main__":
    main()
