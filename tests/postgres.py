"""A private PostgreSQL cluster on a free loopback port, for the tests (conftest's
postgres_server) and the ledger bench: nothing depends on a server already running."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from tests.ports import free_tcp_port


def pg_tool(name: str) -> str | None:
    """PATH first, then Debian's versioned directory (not on PATH)."""
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def have_postgres() -> bool:
    return pg_tool("initdb") is not None and pg_tool("pg_ctl") is not None


@contextmanager
def private_postgres(
    prefix: str, stop: Literal["fast", "immediate"] = "fast", timeout_s: float = 120
) -> Iterator[str]:
    """A cluster (fsync off) in a temporary directory; its base URL. As the postgres
    user when run as root: the server refuses root."""
    initdb, pg_ctl = pg_tool("initdb"), pg_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("no PostgreSQL server installed (scripts/setup.sh installs it)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Not under pytest's tmp: the postgres user cannot enter root's directories.
    with tempfile.TemporaryDirectory(prefix=prefix) as root:
        if as_user:
            shutil.chown(root, "postgres")
        port = free_tcp_port()
        data = f"{root}/data"
        run: dict[str, Any] = {"check": True, "capture_output": True, "timeout": timeout_s}
        subprocess.run([*as_user, initdb, "-D", data, "-A", "trust", "-U", "lawline"], **run)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        # A log file of its own: the server would otherwise hold our output pipe open.
        start = [pg_ctl, "-D", data, "-o", options, "-l", f"{root}/log", "-w", "start"]
        subprocess.run([*as_user, *start], **run)
        try:
            yield f"postgresql+psycopg://lawline@127.0.0.1:{port}"
        finally:
            subprocess.run([*as_user, pg_ctl, "-D", data, "-m", stop, "stop"], **run)


@contextmanager
def scratch_database(server: str, prefix: str, keep: bool = False) -> Iterator[str]:
    """A new database on the server at `server` (base URL), dropped afterwards unless
    `keep`; its URL."""
    import uuid

    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    base = server.rstrip("/").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{server.rstrip('/')}/{name}"
    finally:
        if not keep:
            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        else:
            print(f"kept PostgreSQL database {name} on {server}")
