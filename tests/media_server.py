"""One Janus for the test run, as `lawline serve` would run it, for every call's room.

Janus never offers loopback ICE candidates, so the run's network namespace (scripts/
test.sh runs the suite in one of its own) gets an interface with a private address,
MEDIA_IP (one end of a veth pair whose ends both stay in the namespace), for Janus's
WebRTC side; browsers and workers in the namespace reach it there. Nothing is added
outside a test namespace: without one (or without root, or without Janus) the
`media_server` fixture is {} and the tests that need it skip.

The rest of the run reaches it through the environment (LAWLINE_MEDIA__*), which
every Settings() and every worker subprocess reads.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lawline.config import Settings
from lawline.media.janus_process import MediaSupervisor, prepare_janus, wait_ready
from tests.netns import local_veth
from tests.ports import free_tcp_port

MEDIA_IP = "10.77.30.1"
MEDIA_LINK = "llmedia0"  # its peer end: llmedia1


def media_possible() -> bool:
    return bool(
        os.environ.get("LAWLINE_TEST_NETNS") and os.geteuid() == 0 and shutil.which("janus")
    )


def ensure_media_address() -> None:
    """The interface with MEDIA_IP, in this (test) namespace only."""
    assert os.environ.get("LAWLINE_TEST_NETNS"), "only inside the tests' own namespace"
    local_veth((MEDIA_LINK, "llmedia1"), {MEDIA_LINK: f"{MEDIA_IP}/32"})


def media_env(folder: Path) -> dict[str, str]:
    """The LAWLINE_MEDIA__* variables of a Janus of the run's own, config in `folder`."""
    return {
        "LAWLINE_MEDIA__API_PORT": str(free_tcp_port()),
        "LAWLINE_MEDIA__ADMIN_PORT": str(free_tcp_port()),
        "LAWLINE_MEDIA__INTERFACES": f'["{MEDIA_IP}"]',
        "LAWLINE_MEDIA__CONFIG_DIR": str(folder),
        # Apart from a second Janus another test starts (tests/test_media_calls.py).
        "LAWLINE_MEDIA__RTP_PORT_RANGE": "40000-44999",
        "LAWLINE_MEDIA__PLAIN_RTP_PORT_RANGE": "45000-49999",
    }


def settings_with(env: dict[str, str], data_dir: Path) -> Settings:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return Settings(data_dir=data_dir)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def run_janus(env: dict[str, str], data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Janus started with these settings, answering; stopped at the end."""
    settings = settings_with(env, data_dir)
    server = prepare_janus(settings)
    log = open(data_dir / "janus.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(server.child.args, stdout=log, stderr=subprocess.STDOUT)
    try:
        asyncio.run(wait_ready(server.client(), 20, server_name=server.config.server_name))
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def own_media_env(folder: Path) -> dict[str, str]:
    """For a `lawline serve` a test runs: a media server of its own, apart from the run's
    (other ports), or none where Janus cannot run here."""
    if not media_possible():
        return {"LAWLINE_MEDIA__ENABLED": "false"}
    return {
        **media_env(folder),
        "LAWLINE_MEDIA__RTP_PORT_RANGE": "30000-32999",
        "LAWLINE_MEDIA__PLAIN_RTP_PORT_RANGE": "33000-35999",
    }


def own_janus(tmp: Path) -> tuple[dict[str, str], Settings, MediaSupervisor]:
    """A Janus of a test's own (a test that kills it), on ports apart from the run's,
    kept up by the supervisor `lawline serve` uses; its LAWLINE_MEDIA__* and settings.
    Not started: `await supervisor.start()`, and stop it after."""
    env = {
        **media_env(tmp / "janus"),
        "LAWLINE_MEDIA__RTP_PORT_RANGE": "30000-32999",
        "LAWLINE_MEDIA__PLAIN_RTP_PORT_RANGE": "33000-35999",
    }
    settings = settings_with(env, tmp)
    return env, settings, MediaSupervisor(prepare_janus(settings), os.environ, tmp, 20)
