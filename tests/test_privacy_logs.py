"""What a county's logs must never hold, and who may read what lawline writes.

One real `lawline serve` (private Redis, Kamailio in front of a telephony worker, the
HTTP API) takes calls from a known number through the SIP front (a duty lawyer
answers one on the console, fills in its case form and hangs up; then four wait in
the queue and hang up, and a fifth is turned away because the worker is full), a village
terminal connects with its device token, a supervisor's service token and an admin's
session cookie search the ledger by number and by name. Then every log is read:
serve's stdout and stderr (lawline's and uvicorn's lines, Kamailio's, the workers'),
and every log file under the data dir (redis-server's). None may hold the number (nor
its last seven digits), the name, the device token, the cookie or the service token.
Then every file and folder under the data dir must be its user's only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.front_helpers import free_port_run, routed, sipp, sipp_async
from tests.media_server import own_media_env
from tests.ports import free_sip_port
from tests.sip_helpers import CALLER, rtp_port, scenario

pytestmark = pytest.mark.skipif(
    shutil.which("sipp") is None or shutil.which("kamailio") is None,
    reason="SIPp and Kamailio are installed by scripts/setup.sh",
)

REPO = Path(__file__).resolve().parents[1]
NUMBER = "15947113579"  # the caller, as the trunk sends it
NAME = "乌云其木格"  # a citizen's name searched for in the ledger
ADMIN_PASSWORD = "correct horse battery staple 12348"
# Menu 2 (legal aid), then the lawyer talks until they hang up (and the survey ends).
ANSWERED = [("pause", 500), ("keys", "2"), ("expect_bye", 90000)]
# Kamailio's own log lines (`-E`): " 3(31257) NOTICE: kamailio: <script>: ...".
KAMAILIO_LINE = re.compile(r"^\s*\d+\(\d+\) [A-Z]+: ")
# Menu 2 (legal aid): the caller waits in the queue, then hangs up.
HELD = [("pause", 500), ("keys", "2"), ("pause", 12000), ("bye", None)]


@dataclass
class Served:
    data_dir: Path
    logs: dict[str, str]  # where -> text
    secrets: dict[str, str]  # what -> value that must not be logged


def _lawline(env: dict[str, str], *args: str, stdin: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "lawline", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _wait_until(check: object, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _terminal_hello(base: str, token: str) -> dict[str, object]:
    """Connect as the village box does and read the first frame."""
    ws_url = base.replace("http://", "ws://") + "/api/terminal/ws"
    with connect(ws_url, origin=base, open_timeout=10) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"type": "auth", "token": token}))
        frame = json.loads(ws.recv(timeout=10))
    assert isinstance(frame, dict)
    return frame


def _frame(ws: ClientConnection, kind: str, timeout: float = 60) -> dict[str, Any]:
    """The next frame of this type from a console (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame.get("type") == kind:
            return dict(frame)


def _answered_call(tmp: Path, sip_port: int, base: str, lawyer_cookie: str) -> None:
    """A call from NUMBER that the duty lawyer takes on their console, writes the case
    form for (the citizen's name in its summary) and hangs up."""
    front = SimpleNamespace(host="127.0.0.1", port=sip_port)
    _wait_until(lambda: _worker_answers(tmp, front), "the telephony worker behind the front")
    ws_url = base.replace("http://", "ws://") + "/api/console/ws"
    cookie = {"Cookie": f"lawline_session={lawyer_cookie}"}
    with connect(ws_url, origin=base, additional_headers=cookie, open_timeout=10) as ws:  # type: ignore[arg-type]
        _frame(ws, "hello")
        ws.send(json.dumps({"type": "state", "state": "available"}))
        assert _frame(ws, "result")["ok"]
        xml = _from_number(scenario("answered", ANSWERED))
        caller = sipp_async(tmp, front, xml, "answered")  # type: ignore[arg-type]
        try:
            contact_id = _frame(ws, "offer")["contact"]["id"]
            ws.send(json.dumps({"type": "accept", "contact_id": contact_id}))
            _frame(ws, "connected")
            form = {"service": "legal_aid", "summary": f"{NAME}：工地欠薪三个月"}
            ws.send(json.dumps({"type": "case", "contact_id": contact_id, "form": form}))
            ws.send(json.dumps({"type": "end", "contact_id": contact_id}))
            _frame(ws, "ended")
            ws.send(json.dumps({"type": "state", "state": "offline"}))
            out, _ = caller.communicate(timeout=120)
            assert caller.returncode == 0, out[-3000:]
        finally:
            if caller.poll() is None:
                caller.kill()
                caller.wait()


def _calls(tmp: Path, sip_port: int) -> None:
    """Five calls from NUMBER at once to a worker with four lines: four wait in the queue
    and hang up, the fifth is turned away by the front (503, which Kamailio logs)."""
    front = SimpleNamespace(host="127.0.0.1", port=sip_port)
    held = sipp(tmp, front, _from_number(scenario("held", HELD)), calls=5, name="held")  # type: ignore[arg-type]
    # How many the worker took is the front's business (tests/test_sip_front.py): here
    # what matters is that calls queued and one was turned away, which the logs show.
    answered = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", held.stdout)
    assert answered is not None and int(answered.group(1)) >= 1, held.stdout[-3000:]


def _from_number(xml: str) -> str:
    return routed(xml).replace(CALLER, NUMBER)


def _worker_answers(tmp: Path, front: SimpleNamespace) -> bool:
    """A call to a number this hotline does not serve: the worker itself says 404."""
    probe = scenario("probe", [("status", 404)], answered=False)
    return sipp(tmp, front, probe, number="99999", name="probe").returncode == 0  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("privacy")
    http_port = free_port_run(1)
    sip_port = free_sip_port()
    data_dir = tmp / "var"
    env = {
        **os.environ,
        "LAWLINE_DATA_DIR": str(data_dir),
        "LAWLINE_HTTP_PORT": str(http_port),
        "LAWLINE_SIP_PORT": str(sip_port),
        "LAWLINE_TELEPHONY__WORKERS": "1",
        # SIPp's scenarios take no re-INVITE: the calls stay on the worker's relay. The
        # steered path's logs are checked for the number in tests/test_steered_bridge.py.
        "LAWLINE_MEDIA__STEER_CALLS": "false",
        "LAWLINE_TELEPHONY__FRONT__WORKER_PORT": str(free_port_run(1)),
        "LAWLINE_TELEPHONY__RTP_PORT": str(rtp_port(sip_port)),
        "LAWLINE_ACCOUNTS__COOKIE_SECURE": "false",  # plain HTTP on loopback
        "PYTHONPATH": str(REPO),
        **own_media_env(tmp / "janus"),  # serve starts Janus: its own, apart from the run's
    }
    _lawline(
        env,
        "user",
        "add",
        "root",
        "--role",
        "admin",
        "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )
    _lawline(
        env,
        "user",
        "add",
        "wang",
        "--role",
        "lawyer",
        "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )
    device_token = _lawline(
        env, "terminal", "add", "dalai-1", "--village", "大赖村", "--township", "大赖镇"
    ).splitlines()[-1]
    service_token = _lawline(env, "token", "issue", "prometheus", "--role", "scraper").strip()
    base = f"http://127.0.0.1:{http_port}"
    out_path, err_path = tmp / "serve.stdout", tmp / "serve.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lawline", "serve"],
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    try:
        _wait_until(lambda: proc.poll() is None and _answers(f"{base}/login"), "serve")
        with httpx.Client(base_url=base, timeout=10) as http:
            signed_in = http.post(
                "/api/session", json={"username": "root", "password": ADMIN_PASSWORD}
            )
            assert signed_in.status_code == 200, signed_in.text
            cookie = signed_in.cookies["lawline_session"]
            wang = httpx.post(
                f"{base}/api/session", json={"username": "wang", "password": ADMIN_PASSWORD}
            )
            assert wang.status_code == 200, wang.text
            lawyer_cookie = wang.cookies["lawline_session"]
            profile = {"id": "wang", "name": "王律师", "services": {"legal_aid": 4}}
            added = http.post("/api/lawyers", json=profile)
            assert added.status_code == 201, added.text

            assert _terminal_hello(base, device_token)["type"] == "hello"
            _answered_call(tmp, sip_port, base, lawyer_cookie)
            _calls(tmp, sip_port)

            # A scraper, its token in the query as some tools send it.
            scraped = http.get(
                "/metrics",
                params={"token": service_token},
                headers={"Authorization": f"Bearer {service_token}"},
            )
            assert scraped.status_code == 200, scraped.text

            def recorded() -> bool:
                found = http.get("/api/ledger/contacts", params={"number": NUMBER})
                assert found.status_code == 200, found.text
                return any(c["state"] == "ended" for c in found.json())

            _wait_until(recorded, "the answered call in the ledger")
            by_name = http.get("/api/ledger/contacts", params={"name": NAME})
            assert by_name.status_code == 200, by_name.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, err_path.read_text()
    finally:
        if proc.poll() is None:  # a failed step: stop serve as an operator would
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    logs = {"serve's stdout": out_path.read_text(), "serve's stderr": err_path.read_text()}
    for path in data_dir.rglob("*.log"):
        logs[str(path.relative_to(data_dir))] = path.read_text(errors="replace")
    yield Served(
        data_dir,
        logs,
        {
            "the caller's number": NUMBER,
            "its last seven digits": NUMBER[-7:],
            "the citizen's name": NAME,
            # As a URL and a JSON log line write it.
            "the citizen's name, URL-encoded": quote(NAME),
            "the citizen's name, JSON-escaped": json.dumps(NAME)[1:-1],
            "the terminal's device token": device_token,
            "the session cookie": cookie,
            "the lawyer's session cookie": lawyer_cookie,
            "the service token": service_token,
        },
    )


def _leaks(served: Served, kamailio: bool) -> list[str]:
    return [
        f"{what} in {where}: {line[:300]}"
        for where, text in served.logs.items()
        for line in text.splitlines()
        if bool(KAMAILIO_LINE.match(line)) == kamailio
        for what, secret in served.secrets.items()
        if secret in line
    ]


def test_no_number_name_or_token_in_lawline_logs(served: Served) -> None:
    """lawline's and uvicorn's lines, the workers', redis-server's: everything but
    Kamailio's."""
    # The calls did reach the logs: the worker and the web process wrote about them.
    assert "telephony worker listening" in served.logs["serve's stderr"]
    assert "/api/ledger/contacts" in served.logs["serve's stderr"]
    leaks = _leaks(served, kamailio=False)
    assert not leaks, "\n".join(leaks)


def test_no_number_in_the_sip_fronts_log(served: Served) -> None:
    """Kamailio's lines (serve's stderr): the call turned away with a 503 is logged."""
    assert "every worker is full or down" in served.logs["serve's stderr"]
    leaks = _leaks(served, kamailio=True)
    assert not leaks, "\n".join(leaks)


def test_files_lawline_wrote_are_its_users_only(served: Served) -> None:
    """The database, secrets, Redis's AOF and password, Kamailio's config, prompts."""
    shared = [
        f"{oct(stat.S_IMODE(path.lstat().st_mode))} {path.relative_to(served.data_dir)}"
        for path in [served.data_dir, *served.data_dir.rglob("*")]
        if not path.is_symlink() and stat.S_IMODE(path.lstat().st_mode) & 0o077
    ]
    assert not shared, "readable by others:\n" + "\n".join(shared)
    for written in ("lawline.db", "secret_key", "redis/password", "kamailio/kamailio.cfg"):
        assert (served.data_dir / written).exists(), written
    assert any((served.data_dir / "redis").rglob("*.aof")), "Redis kept an append-only file"
