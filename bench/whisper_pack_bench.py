"""What Whisper costs per utterance, one at a time or packed, and what each way hears.

Run by hand: .venv/bin/python bench/whisper_pack_bench.py [DIR] [--threads 1]
             [--packs 1,2,4,6,8] [--beams 5,1] [--min-windows 0,10]

DIR holds `refs.tsv` and each utterance's audio (`<id>.wav` or `<id>.flac`), as
`lawline asr eval` takes it; by default bench/asr_dev (24 hotline sentences spoken
by a neural voice: the set the decoder's settings were tuned on, made with
`scripts/make_asr_evalset.sh --sentences bench/asr_dev/sentences.tsv --out bench/asr_dev`;
tests/asr_eval is held out for `asr eval`). Each
configuration decodes every utterance through `WhisperDecoder.decode_many` (the
decoder process's own call, guards included), in packs of k utterances in file
order, and prints compute seconds per utterance, the character error rate (the
references' and the texts' numerals both as digits) and how many packs the split
refused (decoded again one by one, their cost included).

`--min-windows`: the encoder's window cut to the audio (in 5 s steps) but never under
this many seconds; 0 is Whisper's full 30 s window for every decode (Whisper was
trained on full windows only, so this shows what a shorter one costs in accuracy).
Last line: key=value figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lawline.transcripts.evaluate import edit_distance, normalise, numerals, read_audio, read_refs
from lawline.transcripts.whisper import DecodeSettings, WhisperDecoder
from tests.speech import WHISPER_MODEL

HERE = Path(__file__).resolve().parent


def read_set(directory: Path) -> list[tuple[str, bytes, int]]:
    """(reference, PCM, rate) of each file, as `asr eval` reads them."""
    return [(ref, *read_audio(path)) for _, ref, path in read_refs(directory)]


def cer(refs: list[str], hyps: list[str]) -> float:
    """Character error rate with numerals as digits on both sides, as `asr eval` scores."""
    refs = [normalise(numerals(r)) for r in refs]
    hyps = [normalise(numerals(h)) for h in hyps]
    return sum(edit_distance(r, h) for r, h in zip(refs, hyps, strict=True)) / sum(map(len, refs))


def run(
    decoder: WhisperDecoder, items: list[tuple[str, bytes, int]], k: int
) -> tuple[float, list[str], int]:
    texts: list[str] = []
    refused = 0
    started = time.process_time()
    for at in range(0, len(items), k):
        pack = [(pcm, rate) for _, pcm, rate in items[at : at + k]]
        results = decoder.decode_many(pack, gap_s=0.6)
        refused += any("unpacked" in r.guards for r in results)
        texts += [r.text for r in results]
    return (time.process_time() - started) / len(items), texts, refused


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", type=Path, default=HERE / "asr_dev" / "16k")
    ap.add_argument("--limit", type=int, default=0, help="the first N utterances only")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--packs", default="1,2,4,6,8")
    ap.add_argument("--beams", default="5,1")
    ap.add_argument("--min-windows", default="0,10")
    args = ap.parse_args()
    if not (args.dir / "refs.tsv").is_file():
        sys.exit(
            f"no {args.dir}/refs.tsv: make the tuning set with scripts/make_asr_evalset.sh "
            "--sentences bench/asr_dev/sentences.tsv --out bench/asr_dev"
        )
    items = read_set(args.dir)[: args.limit or None]
    refs = [r for r, _, _ in items]
    audio_s = sum(len(pcm) / 2 / rate for _, pcm, rate in items) / len(items)
    print(f"{len(items)} utterances from {args.dir}, {audio_s:.1f} s each on average; "
          f"{args.threads} CTranslate2 thread(s); CPU seconds of this process")  # fmt: skip
    print(f"{'beam':>4} {'pack':>4} {'window':>6} {'s/utt':>6} {'CER':>6} {'refused':>8}")
    figures: dict[str, str] = {}
    for beam in map(int, args.beams.split(",")):
        for window in map(float, args.min_windows.split(",")):
            settings = DecodeSettings(beam_size=beam, min_window_s=window)
            decoder = WhisperDecoder(WHISPER_MODEL, args.threads, settings=settings)
            decoder.decode_many([items[0][1:]], 0.6)  # warm up
            for k in map(int, args.packs.split(",")):
                per, texts, refused = run(decoder, items, k)
                e = cer(refs, texts)
                packs = -(-len(items) // k)
                shown = f"{window:.0f}s" if window else "30s"
                print(
                    f"{beam:>4} {k:>4} {shown:>6} {per:>6.2f} {e:>6.1%} {refused:>3}/{packs:<4}",
                    flush=True,
                )
                key = f"b{beam}w{window:.0f}k{k}"
                figures[f"{key}_s"] = f"{per:.3f}"
                figures[f"{key}_cer"] = f"{e:.3f}"
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
