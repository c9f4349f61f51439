"""Getting the Vosk model onto a machine: `lawline models fetch` and `status`.

The model zip is streamed to a temporary file next to its destination, its size
checked, unpacked (refusing members that would land outside the unpacking
directory), verified with `check_model`, and renamed into place, so that the
model directory either is complete or does not exist. Only the standard
library is used for the download (httpx is not a runtime dependency).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from lawline.transcripts.server import ModelMissing, check_model

CHUNK = 1 << 20
TIMEOUT_S = 30.0
# What check_model requires; only used to say what a refused zip lacks.
MODEL_PARTS = ("am/final.mdl", "conf/model.conf")

# Called with (bytes received so far, bytes expected or None) while downloading.
ProgressFn = Callable[[int, int | None], None]


class FetchError(Exception):
    """An expected failure of a fetch: the message is for the user, no traceback."""


@dataclass(frozen=True, slots=True)
class Fetched:
    path: Path
    received: int = 0  # bytes downloaded; 0 when the model was already there
    size_checked: bool = False
    already_there: bool = False


def model_problem(path: Path) -> str | None:
    """None if `path` is a usable Vosk model directory, else why not."""
    try:
        check_model(path)
    except ModelMissing as exc:
        return str(exc)
    return None


def fetch_model(
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> Fetched:
    """Download the model zip at `url` and install its model directory at `dest`.

    `size` is the zip's expected size in bytes; None: the server's Content-Length,
    if it sends one. An existing `dest` is kept unless `force`.
    """
    if dest.exists() or dest.is_symlink():
        problem = model_problem(dest)
        if not force:
            if problem is None:
                return Fetched(dest, already_there=True)
            raise FetchError(f"{problem}; use --force to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".download-", suffix=".zip", dir=dest.parent)
    zip_path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            received, checked = download(url, out, size, progress)
        unpack_dir = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
        try:
            extract_zip(zip_path, unpack_dir)
            zip_path.unlink()  # no longer needed: free the space before the rename
            root = model_root(unpack_dir)
            if model_problem(root) is not None:
                raise FetchError(_not_a_model(url, root, unpack_dir))
            if root == unpack_dir:
                root.chmod(0o755)  # mkdtemp makes it private
            install(root, dest, force=force)
        finally:
            shutil.rmtree(unpack_dir, ignore_errors=True)
    finally:
        zip_path.unlink(missing_ok=True)
    return Fetched(dest, received=received, size_checked=checked)


def download(
    url: str, out: IO[bytes], size: int | None, progress: ProgressFn | None = None
) -> tuple[int, bool]:
    """Stream `url` into `out`; return (bytes received, whether their number was checked).

    Raises FetchError when the server fails, the connection does, or the number
    of bytes is not the expected one (`size`, else Content-Length).
    """
    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FetchError(f"cannot fetch {url}: {exc.reason}") from None
    except ValueError as exc:  # no scheme, or one urllib does not know
        raise FetchError(f"cannot fetch {url!r}: {exc}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"cannot fetch {url}: {exc}") from None
    with response:
        announced = _content_length(response)
        expected = size if size is not None else announced
        if size is not None and announced is not None and announced != size:
            raise FetchError(
                f"size mismatch: expected {size} bytes, but the server announces "
                f"{announced} bytes for {url}"
            )
        received = 0
        try:
            while chunk := response.read(CHUNK):
                received += len(chunk)
                if expected is not None and received > expected:
                    break
                out.write(chunk)
                if progress is not None:
                    progress(received, expected)
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"download of {url} failed after {received} bytes: {exc}") from None
    if expected is not None and received != expected:
        got = "more" if received > expected else f"only {received}"
        raise FetchError(f"size mismatch: expected {expected} bytes from {url}, received {got}")
    return received, expected is not None


def extract_zip(zip_path: Path, into: Path) -> None:
    """Unpack `zip_path` into `into`, refusing the whole zip if any member is unsafe."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.infolist():
                _check_member(member.filename)
            root = into.resolve()
            for member in archive.infolist():
                target = (into / member.filename).resolve()
                if not target.is_relative_to(root):
                    raise FetchError(f"refused: zip member {member.filename!r} leaves the model")
                archive.extract(member, into)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise FetchError(f"the download is not a usable zip file: {exc}") from None


def model_root(unpacked: Path) -> Path:
    """The model directory in an unpacked zip: its single top-level directory, or itself."""
    entries = [p for p in unpacked.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return unpacked


def install(model: Path, dest: Path, *, force: bool) -> None:
    """Rename the verified `model` directory to `dest` (same filesystem).

    With `force`, an existing `dest` is first renamed aside, then removed once the
    new model is in place (put back if that fails).
    """
    if not (dest.exists() or dest.is_symlink()):
        os.rename(model, dest)
        return
    if not force:
        raise FetchError(f"{dest} already exists; use --force to replace it")
    old = dest.with_name(f".old-{dest.name}-{uuid.uuid4().hex[:8]}")
    os.rename(dest, old)
    try:
        os.rename(model, dest)
    except BaseException:
        os.rename(old, dest)
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


class TerminalProgress:
    """A rich progress bar on standard error, shown once a download starts (terminals only)."""

    def __init__(self, description: str, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.description = description
        self._progress: Progress | None = None
        self._task = 0

    @property
    def callback(self) -> ProgressFn | None:
        return self.update if self.console.is_terminal else None

    def update(self, received: int, total: int | None) -> None:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=total)
        self._progress.update(self._task, completed=received, total=total)

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    with contextlib.suppress(TypeError, ValueError):
        length = int(value)
        if length >= 0:
            return length
    return None


def _check_member(name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise FetchError(f"refused: zip member {name!r} has an absolute path")
    if ".." in path.parts:
        raise FetchError(f"refused: zip member {name!r} climbs out of the model with '..'")


def _not_a_model(url: str, root: Path, unpacked: Path) -> str:
    missing = [part for part in MODEL_PARTS if not (root / part).is_file()]
    if not missing:  # check_model wants something more than MODEL_PARTS
        return f"{url} is not a Vosk model: {model_problem(root)}"
    where = "the zip" if root == unpacked else f"{root.name}/ in the zip"
    return f"{url} is not a Vosk model: {where} has no {' or '.join(missing)}"
