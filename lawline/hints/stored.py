"""The built index kept on disk: a process reads it in a fraction of a second instead
of building it (2 to 5 s of one core, most of it jieba cutting every article).

Keyed by what the index is made of: every article as the knowledge base holds it, and
the code and libraries that cut and weigh them (a widened phrase map, another jieba or
bm25s, a new lawline give another key). A file is a pickle, which runs code when read:
it is written and read only in a folder no other user can write (the one jieba keeps
its own parsed dictionary in, `segment.private_cache_folder`), and read only when this
user owns it and no one else may write it. The last few indexes are kept (a centre's
own knowledge base beside the shipped pack, tests with both); a file that cannot be
read is built anew, and one that cannot be written is only logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Sequence
from functools import cache
from importlib.metadata import version
from pathlib import Path

from lawline.hints import asked, citation, index, phrases, segment
from lawline.hints.index import ArticleDoc, HintIndex
from lawline.statutes import numerals, parse
from lawline.transcripts import text

log = logging.getLogger(__name__)

KEEP = 3  # indexes kept in the folder, the most recently used
_PREFIX = "hints-index-"
# The last index read or built in this process, shared by the next one asked for the
# same key (the tests' many web apps): an index is only read once built, as one
# process's threads already share it.
_last: tuple[str, HintIndex] | None = None


def key(docs: Sequence[ArticleDoc]) -> str:
    h = hashlib.sha256(_code())
    for doc in docs:
        h.update(repr(doc).encode())
    return h.hexdigest()[:32]


def load(folder: Path | None, key: str) -> HintIndex | None:
    """The index of this key: this process's last, else the folder's (None: no
    folder to keep indexes in)."""
    if _last is not None and _last[0] == key:
        return _last[1]
    if folder is None:
        return None
    path = folder / f"{_PREFIX}{key}.pickle"
    try:
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                log.warning("stored hints index ignored: not this user's alone")
                return None
            found = pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a file cut short, or of a version that no longer loads
        log.warning("stored hints index unreadable, built anew", extra={"error": repr(exc)})
        return None
    if not isinstance(found, HintIndex):
        return None
    os.utime(path)  # used: kept before older ones
    _remember(key, found)
    return found


def save(folder: Path | None, key: str, built: HintIndex) -> None:
    _remember(key, built)
    if folder is None:
        return
    try:
        fd, part = tempfile.mkstemp(dir=folder, prefix=f".{_PREFIX}", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(built, f, protocol=pickle.HIGHEST_PROTOCOL)
            # Whole or not at all: another process may be reading or writing the same.
            os.replace(part, folder / f"{_PREFIX}{key}.pickle")
        except BaseException:
            Path(part).unlink(missing_ok=True)
            raise
        kept = sorted(folder.glob(f"{_PREFIX}*.pickle"), key=_mtime, reverse=True)
        for old in kept[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("hints index not stored", extra={"error": repr(exc)})


def forget() -> None:
    """This process's last index dropped: the next is read from disk, as another
    process would (benches, tests)."""
    global _last
    _last = None


def _remember(key: str, index: HintIndex) -> None:
    global _last
    _last = (key, index)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@cache
def _code() -> bytes:
    """The source of what cuts and weighs the articles, and the libraries' versions."""
    parts = [sys.version, str(pickle.HIGHEST_PROTOCOL)]
    parts += [f"{name} {version(name)}" for name in ("jieba", "bm25s", "numpy", "pypinyin")]
    for module in (
        index,
        segment,
        phrases,
        asked,
        citation,
        numerals,
        parse,
        text,
        sys.modules[__name__],
    ):
        parts.append(Path(module.__file__ or "").read_text(encoding="utf-8"))
    return "\0".join(parts).encode()
