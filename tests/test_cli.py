"""The `lawline` command, including `serve` run for real in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import typer
from typer.testing import CliRunner

from lawline import __version__
from lawline.cli import app
from lawline.config import Settings
from lawline.redis_server import EmbeddedRedis
from lawline.serve import endpoint_rows, redact_url
from tests.media_server import own_media_env
from tests.ports import free_sip_port, free_tcp_port
from tests.sip_helpers import rtp_port, run_sipp, scenario

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_serve_help() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--config", "--http-port", "--data-dir"):
        assert option in result.output


def test_endpoint_rows_name_every_listener() -> None:
    settings = Settings(sip_port=5070)
    rows = endpoint_rows(settings, "http://127.0.0.1:8000", "redis://127.0.0.1:1/0", None)
    where = {what: url for what, url, _ in rows}
    assert where["API docs"] == "http://127.0.0.1:8000/docs"
    assert where["SIP"] == "sip:12348@127.0.0.1:5070"
    assert where["Redis"] == "redis://127.0.0.1:1/0"


def test_redact_url_hides_password() -> None:
    assert redact_url("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0"
    assert redact_url("redis://u:s3cret@db/0") == "redis://u:***@db/0"
    assert redact_url("redis://db/0") == "redis://db/0"


def _cmdline(pid: int) -> bytes:
    """A process's command line; empty once it has gone (or is a zombie)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces; the fields after it are fixed.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "LAWLINE_DATA_DIR": str(tmp_path / "var"),
        "LAWLINE_HTTP_PORT": str(port),
        "LAWLINE_SIP_PORT": str(free_sip_port()),
        "LAWLINE_TELEPHONY__RTP_PORT": str(rtp_port(port)),
        "PYTHONPATH": str(REPO),
        **own_media_env(tmp_path / "janus"),  # serve starts Janus: its own, apart from the run's
    }


def _serve_and_stop(
    command: list[str],
    tmp_path: Path,
    env: dict[str, str] | None = None,
    while_up: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> tuple[str, str]:
    """Run `serve` until the API answers, SIGTERM it, check it left nothing behind."""
    env = env or _env(tmp_path, free_tcp_port())
    port = int(env["LAWLINE_HTTP_PORT"])
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"serve exited early:\n{err_path.read_text()}"
            assert time.monotonic() < deadline, f"the API never answered:\n{err_path.read_text()}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        redis_pids = [
            pid
            for pid in _children(proc.pid)
            if b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(redis_pids) == 1
        if while_up is not None:
            while_up(proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, err_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not _alive(redis_pids[0]), "serve left its redis-server running"
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert f"http://127.0.0.1:{port}/docs" in stdout
    assert "starting private Redis" in stdout
    assert "redis-server" in stderr and "stopped" in stderr
    return stdout, stderr


def test_serve_failing_to_start_stops_its_redis(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "lawline", "serve"],
            cwd=tmp_path,
            env=_env(tmp_path, port),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert "HTTP server failed to start" in result.stderr
    # A redis-server still running would hold the data dir's lock.
    with EmbeddedRedis(tmp_path / "var" / "redis"):
        pass


def test_serve_end_to_end(tmp_path: Path) -> None:
    """The real app, and Kamailio on the configured SIP port in front of its telephony
    workers, whose answer comes through it."""
    from tests.front_helpers import free_port_run

    env = _env(tmp_path, free_tcp_port())
    env["LAWLINE_TELEPHONY__WORKERS"] = "2"
    env["LAWLINE_TELEPHONY__FRONT__WORKER_PORT"] = str(free_port_run(2))

    def telephony_workers(proc: subprocess.Popen[bytes]) -> list[int]:
        return [pid for pid in _children(proc.pid) if b"telephony-worker" in _cmdline(pid)]

    def check_sip(proc: subprocess.Popen[bytes]) -> None:
        # The API answers first; the workers follow once the media server is up.
        deadline = time.monotonic() + 30
        while len(workers := telephony_workers(proc)) < 2:
            assert time.monotonic() < deadline, "serve started no telephony workers"
            time.sleep(0.1)
        assert len(workers) == 2
        workers += [
            pid
            for pid in _children(proc.pid)
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/usr/sbin/kamailio")
        ]
        assert len(workers) == 3, "Kamailio runs as one of serve's children"
        # A call to a number this hotline does not serve: the worker itself says 404.
        xml = scenario("wrong", [("status", 404)], answered=False)
        deadline = time.monotonic() + 30
        while True:
            result = run_sipp(tmp_path, int(env["LAWLINE_SIP_PORT"]), xml, "99999")
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # the worker may still be starting
        assert result.returncode == 0, result.stdout[-2000:]
        check_sip.workers = workers  # type: ignore[attr-defined]

    serve = [sys.executable, "-m", "lawline", "serve"]
    stdout, _ = _serve_and_stop(serve, tmp_path, env, check_sip)
    assert "Transcription" in stdout and "no Vosk model" in stdout  # off, and why
    assert not any(_alive(pid) for pid in check_sip.workers)  # type: ignore[attr-defined]


def test_serve_runs_a_transcriber_per_core_and_restarts_one_that_dies(tmp_path: Path) -> None:
    """With a Vosk model at the configured path, serve starts one transcriber process per
    core on loopback, keeps them up, and stops them on exit."""
    from websockets.sync.client import connect

    from lawline.transcripts.protocol import EOF_MESSAGE, config_message
    from tests.speech import KO_MODEL

    cores = os.cpu_count() or 1
    first = free_tcp_port()
    env = {
        **_env(tmp_path, free_tcp_port()),
        "LAWLINE_TELEPHONY__WORKERS": "0",
        "LAWLINE_TRANSCRIPTS__MODEL_PATH": str(KO_MODEL),
        "LAWLINE_TRANSCRIPTS__PORT": str(first),
    }

    def transcribers(proc: subprocess.Popen[bytes]) -> list[int]:
        return [pid for pid in _children(proc.pid) if b"transcriber" in _cmdline(pid).split(b"\0")]

    def answers(port: int, seconds: float = 60) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with connect(f"ws://127.0.0.1:{port}", open_timeout=2) as ws:
                    ws.send(config_message(16000))
                    ws.send(bytes(3200))
                    ws.recv(timeout=10)
                    ws.send(EOF_MESSAGE)
                    return "text" in ws.recv(timeout=10)
            except (OSError, TimeoutError):
                time.sleep(0.2)
        return False

    def check(proc: subprocess.Popen[bytes]) -> None:
        assert all(answers(first + i) for i in range(cores))
        pids = transcribers(proc)
        assert len(pids) == cores
        os.kill(pids[0], signal.SIGKILL)
        # Wait for the supervisor to put a new process in the dead one's place.
        deadline = time.monotonic() + 60
        while pids[0] in (now := transcribers(proc)) or len(now) < cores:
            assert time.monotonic() < deadline, "a killed transcriber was not restarted"
            time.sleep(0.1)
        assert answers(first), "the restarted transcriber does not answer"
        check.pids = transcribers(proc)  # type: ignore[attr-defined]

    stdout, _ = _serve_and_stop([sys.executable, "-m", "lawline", "serve"], tmp_path, env, check)
    assert f"ws://127.0.0.1:{first}" in stdout
    assert not any(_alive(pid) for pid in check.pids)  # type: ignore[attr-defined]


def test_every_command_is_offered() -> None:
    # The commands live in one module per group (lawline/cli/); each must be assembled here.
    offered = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert list(offered) == [
        "version",
        "serve",
        "prompts",
        "telephony-worker",
        "sip-accounts",
        "transcriber",
        "decoder",
        "search-index",
        "token",
        "asr",
        "retention",
        "user",
        "terminal",
        "roster",
        "models",
        "statutes",
        "hints",
    ]
