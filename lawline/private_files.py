"""Files lawline writes hold citizens' data and secrets: 0600 files in 0700 folders.

`lawline` sets a umask of 077 where its processes start (the CLI entry), so every
file and folder it or its children create (the database, recordings, voicemail,
Redis's AOF, Kamailio's config) is its user's only; these helpers make that
explicit for the secrets, whatever umask a caller of the library has.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> int:
    """Make everything this process (and its children) creates private; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, 0600 from the first byte (replaced atomically)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
