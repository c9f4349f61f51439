"""A private redis-server that lawline starts, watches and stops itself.

A fresh install needs no Redis set up by hand: `lawline serve` runs one of these
under its data dir unless `redis_url` names an external server.

Whoever can write to lawline's Redis can write a session key and be admin, so the
server listens on a unix socket in a 0700 folder (no TCP port) and requires a
password generated on first start, kept 0600 in the data dir and handed to
redis-server in a 0600 config file (never on the command line, which `ps` shows).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

import redis

from lawline.private_files import private_dir, write_private

log = logging.getLogger(__name__)

AppendFsync = Literal["always", "everysec", "no"]

# Longest path an AF_UNIX socket can have on Linux (108 bytes with the NUL).
_MAX_UNIX_PATH = 107
_LOG_TAIL_LINES = 20
_PING_TIMEOUT_S = 0.5
_POLL_S = 0.02
# Attempts when a free port we picked was taken before redis-server bound it.
_PORT_ATTEMPTS = 3


class EmbeddedRedisError(RuntimeError):
    """redis-server could not be started (the message carries its log tail)."""


class EmbeddedRedis:
    """One private redis-server child process with its own data dir.

    It listens only on `sock/redis.sock` in the data dir (0700), or with
    `unix_socket=False` on 127.0.0.1:`port` (0 picks a free port once; restarts keep
    it). Either way it requires the password in `password` (made on first start).

    Call `start()` from a thread that outlives the server: the child is asked to
    get SIGTERM when that thread ends, so a killed lawline leaves no orphan.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        unix_socket: bool = True,
        appendfsync: AppendFsync = "always",
        executable: str = "redis-server",
        start_timeout_s: float = 30.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.unix_socket = unix_socket
        self.appendfsync = appendfsync
        self.executable = executable
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.log_path = self.data_dir / "redis.log"
        self.socket_path = self.data_dir / "sock" / "redis.sock"
        self.password_path = self.data_dir / "password"
        self.config_path = self.data_dir / "redis.conf"
        self._password: str | None = None
        self._port = port
        self._auto_port = port == 0 and not unix_socket
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_file: IO[bytes] | None = None
        # True between start() and stop(): supervise() restarts the server only then.
        self._wanted = False
        self._log_offset = 0

    # -- public API ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL clients connect with; it carries the password."""
        if self._password is None:
            raise EmbeddedRedisError("the password is read on start(); call start() first")
        if self.unix_socket:
            return f"unix://:{self._password}@{self.socket_path}?db=0"
        if self._port == 0:
            raise EmbeddedRedisError("the port is picked on start(); call start() first")
        return f"redis://:{self._password}@127.0.0.1:{self._port}/0"

    @property
    def where(self) -> str:
        """Where it listens, without the password (for logs)."""
        return str(self.socket_path) if self.unix_socket else f"127.0.0.1:{self._port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> None:
        """Start redis-server and wait until it answers with its AOF loaded; no-op if running."""
        if self.running:
            return
        self._prepare()
        try:
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                self._spawn()
                try:
                    self._wait_ready()
                    break
                except EmbeddedRedisError as exc:
                    if not self._retry_on_new_port(exc, attempt):
                        raise
        except BaseException:
            if not self._wanted:
                self._release_lock()
            raise
        self._wanted = True
        log.info("private redis-server %s listening on %s", self.pid, self.where)

    def stop(self) -> None:
        """SHUTDOWN (flushes the AOF), wait, and SIGKILL only if it hangs."""
        self._wanted = False
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._request_shutdown(proc)
            try:
                proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("redis-server %s ignored SHUTDOWN; killing it", proc.pid)
                proc.kill()
                proc.wait()
            log.info("private redis-server %s stopped", proc.pid)
        self._proc = None
        self._release_lock()

    def kill(self) -> None:
        """SIGKILL, as a crash would; supervise() will bring it back."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    async def supervise(self, interval_s: float = 0.25, max_backoff_s: float = 30.0) -> None:
        """Restart redis-server whenever it dies between start() and stop().

        Run it as a task on the loop of the thread that called start(); cancel it
        before stop().
        """
        delay = interval_s
        while True:
            await asyncio.sleep(delay)
            if not self._wanted or self.running:
                delay = interval_s
                continue
            code = self._proc.returncode if self._proc else None
            log.error(
                "private redis-server exited unexpectedly (code %s); restarting\n%s",
                code,
                self._log_tail(),
            )
            try:
                self._spawn()
                await self._wait_ready_async()
            except EmbeddedRedisError:
                log.exception("restarting private redis-server failed")
                delay = min(delay * 2, max_backoff_s)
                continue
            log.warning("private redis-server %s restarted on %s", self.pid, self.where)
            delay = interval_s

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- starting -----------------------------------------------------------------

    def _prepare(self) -> None:
        if shutil.which(self.executable) is None:
            raise EmbeddedRedisError(
                f"{self.executable} not found; run scripts/setup.sh or apt-get install redis-server"
            )
        private_dir(self.data_dir)
        if self.unix_socket and len(os.fsencode(self.socket_path)) > _MAX_UNIX_PATH:
            raise EmbeddedRedisError(
                f"unix socket path {self.socket_path} is too long; use a shorter data dir"
            )
        self._take_lock()
        private_dir(self.socket_path.parent)
        self._password = self._read_or_make_password()
        # requirepass from a file: a command line is readable by every local user.
        write_private(
            self.config_path,
            f"requirepass {self._password}\n"
            # ps shows "redis-server lawline", not the socket's path under data_dir.
            'proc-title-template "{title} lawline {server-mode}"\n',
        )

    def _read_or_make_password(self) -> str:
        """The same password across restarts, so clients keep their URL."""
        if self.password_path.exists():
            password = self.password_path.read_text().strip()
            if password:
                return password
        password = secrets.token_urlsafe(32)
        write_private(self.password_path, password + "\n")
        return password

    def _take_lock(self) -> None:
        """Hold a lock on the data dir, shared with the child, so two servers never
        write the same AOF (even one orphaned by a killed lawline)."""
        if self._lock_file is not None:
            return
        lock_file = (self.data_dir / "lock").open("wb")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise EmbeddedRedisError(
                f"{self.data_dir} is in use by another redis-server or lawline process"
            ) from None
        self._lock_file = lock_file

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _command(self) -> list[str]:
        if self._auto_port and self._port == 0:
            self._port = _free_port()
        listen = (
            ["--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
            if self.unix_socket
            else ["--bind", "127.0.0.1", "--port", str(self._port)]
        )
        # The parent-death signal outlives exec; setpriv is in util-linux on Debian.
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
        return [
            *prefix,
            self.executable,
            str(self.config_path),
            *listen,
            "--dir", str(self.data_dir),
            "--logfile", str(self.log_path),
            "--daemonize", "no",
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
        ]  # fmt: skip

    def _spawn(self) -> None:
        command = self._command()
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        assert self._lock_file is not None
        with self.log_path.open("ab") as log_file:
            # Own session: a Ctrl+C in the terminal must not stop Redis before the
            # queue loops have drained; lawline stops it last.
            self._proc = subprocess.Popen(
                command,
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
                pass_fds=(self._lock_file.fileno(),),
            )

    def _retry_on_new_port(self, exc: EmbeddedRedisError, attempt: int) -> bool:
        """A port we picked ourselves may be taken before redis-server binds it."""
        if not self._auto_port or attempt >= _PORT_ATTEMPTS or "already in use" not in str(exc):
            return False
        log.warning("port %s was taken meanwhile; picking another", self._port)
        self._port = 0
        return True

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while not self._ready():
            if time.monotonic() > deadline:
                self._give_up()
            time.sleep(_POLL_S)

    async def _wait_ready_async(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while not self._ready():
            if time.monotonic() > deadline:
                self._give_up()
            await asyncio.sleep(_POLL_S)

    def _ready(self) -> bool:
        """One INFO; raises if the process has already exited."""
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            raise EmbeddedRedisError(
                f"redis-server exited with code {code} while starting; "
                f"last lines of {self.log_path}:\n{self._log_tail()}"
            )
        client = redis.Redis.from_url(
            self.url, socket_timeout=_PING_TIMEOUT_S, socket_connect_timeout=_PING_TIMEOUT_S
        )
        try:
            info = client.info()
            # Check the pid: another server may hold the port while ours fails to bind.
            return info.get("process_id") == self._proc.pid and not info.get("loading")
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            return False  # not listening yet, or still loading the AOF
        finally:
            client.close()

    def _give_up(self) -> None:
        assert self._proc is not None
        self._proc.kill()
        self._proc.wait()
        raise EmbeddedRedisError(
            f"redis-server did not answer PING within {self.start_timeout_s:g} s; "
            f"last lines of {self.log_path}:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        """The end of what this start wrote to the log, for error messages."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-_LOG_TAIL_LINES:]) or "(log empty)"

    # -- stopping -----------------------------------------------------------------

    def _request_shutdown(self, proc: subprocess.Popen[bytes]) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=self.stop_timeout_s)
        try:
            client.shutdown()
        except redis.RedisError as exc:
            # SIGTERM makes redis-server do the same orderly shutdown.
            log.warning("SHUTDOWN failed (%s); sending SIGTERM", exc)
            proc.send_signal(signal.SIGTERM)
        finally:
            client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def running_url(data_dir: Path) -> str | None:
    """The URL of the private redis-server `lawline serve` runs for this data dir, if it
    has ever run: what the command line uses to reach a running hotline."""
    server = EmbeddedRedis(data_dir)
    if not server.socket_path.exists() or not server.password_path.exists():
        return None
    password = server.password_path.read_text().strip()
    return f"unix://:{password}@{server.socket_path}?db=0" if password else None
