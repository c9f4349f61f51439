"""The websocket protocol of alphacep's vosk-server, which lawline's transcribers speak.

A client opens a websocket, may send a text frame {"config": {...}} (sample_rate,
words, phrase_list, max_alternatives), then binary frames of 16-bit mono PCM at
that rate. The server answers every frame with one text frame: {"partial": "..."}
while a sentence is being heard, or {"result": [words], "text": "..."} when the
recogniser found the end of one. The text frame {"eof" : 1}, spelled exactly so
(vosk-server compares the string), asks for the final result of what is left; the
server sends it and closes. lawline forces an utterance's end that way, so each
utterance is one connection, and any vosk-server farm can stand in for lawline's
own transcribers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

EOF_MESSAGE = '{"eof" : 1}'


def config_message(sample_rate: int, words: bool = True) -> str:
    return json.dumps({"config": {"sample_rate": sample_rate, "words": int(words)}})


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float  # seconds from the connection's first sample
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer from the server: partial text, or a final one with its words."""

    final: bool
    text: str
    words: tuple[Word, ...] = ()


class ProtocolError(ValueError):
    pass


def parse_reply(frame: str | bytes) -> Reply:
    try:
        obj: Any = json.loads(frame)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError("the transcriber sent something that is not JSON") from exc
    if not isinstance(obj, dict):
        raise ProtocolError("the transcriber sent JSON that is not an object")
    if "partial" in obj:
        return Reply(final=False, text=str(obj["partial"]))
    if "text" in obj:
        words = []
        for w in obj.get("result") or []:
            try:
                words.append(
                    Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w["conf"]))
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ProtocolError("a word in the transcriber's result is malformed") from exc
        return Reply(final=True, text=str(obj["text"]), words=tuple(words))
    raise ProtocolError(f"the transcriber sent an unknown reply with keys {sorted(obj)[:5]}")


def is_eof(message: str) -> bool:
    """vosk-server knows only the exact spelling; lawline's own also takes any
    JSON object with a true "eof"."""
    if message == EOF_MESSAGE:
        return True
    try:
        obj = json.loads(message)
    except json.JSONDecodeError:
        return False
    return isinstance(obj, dict) and bool(obj.get("eof"))
