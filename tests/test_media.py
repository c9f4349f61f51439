"""The media server: Janus's configuration as lawline writes it (unit), and against a
real Janus: run as `lawline serve` runs it (restarted when it dies, answering only with
its secret) and driven by lawline's client (a room with a plain-RTP caller and a WebRTC
peer, then nothing left on the media server).

Janus never offers loopback ICE candidates, so it runs in a network namespace of the
test's own (10.77.19.1) joined by a veth pair to a second one (10.77.19.2) in which the
test's own thread makes every socket it uses (setns); both are deleted at the end.
Without root (or without `ip netns`) those tests skip.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import ctypes
import json
import math
import os
import random
import shutil
import signal
import socket
import stat
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest
from aiortc import RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack
from pydantic import ValidationError

from lawline.config import Settings
from lawline.media.access import create_room, destroy_room, media_access
from lawline.media.janus_client import (
    AudioBridge,
    JanusClient,
    JanusError,
    _check,
    _parse_reply,
    http_json,
)
from lawline.media.janus_config import (
    OTHER_PLUGINS,
    OTHER_TRANSPORTS,
    PLUGINS,
    TRANSPORTS,
    JanusSecrets,
    janus_secrets,
    render,
    write_config,
)
from lawline.media.janus_process import MediaSupervisor, prepare_janus, wait_ready
from lawline.media.rtp import PCMU, forwarded_payload, ulaw_decode
from lawline.media.settings import MediaSettings
from lawline.serve import endpoint_rows, start_media
from lawline.video.settings import WebRTCSettings
from lawline.video.webrtc import create_peer_connection, use_host_addresses
from tests.netns import link, namespace
from tests.test_bridge import record_track, tone_in

SRV_IP, CLI_IP = "10.77.19.1", "10.77.19.2"
CLONE_NEWNET = 0x40000000
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
TONE_HZ = 440  # what the plain-RTP caller says


# ----- (a) configuration -----------------------------------------------------------------


def _keys() -> JanusSecrets:
    return JanusSecrets("a" * 64, "b" * 64, "c" * 64)


def test_config_files_say_what_lawline_set(tmp_path: Path) -> None:
    media = MediaSettings(
        api_host="10.1.2.3",
        admin_host="127.0.0.1",
        api_port=8100,
        interfaces=["10.1.2.3"],
        rtp_host="10.1.2.3",
        nat_1_1="192.168.9.9",
        rtp_port_range="21000-21999",
    )
    files = render(media, _keys(), tmp_path)
    assert set(files) == {
        "janus.jcfg",
        "janus.transport.http.jcfg",
        "janus.plugin.audiobridge.jcfg",
        "janus.plugin.videoroom.jcfg",
    }
    main, http = files["janus.jcfg"], files["janus.transport.http.jcfg"]
    assert f'api_secret = "{"a" * 64}"' in main
    assert f'admin_secret = "{"b" * 64}"' in main
    assert f'configs_folder = "{tmp_path}"' in main
    assert 'rtp_port_range = "21000-21999"' in main
    assert 'ice_enforce_list = "10.1.2.3"' in main
    assert 'nat_1_1_mapping = "192.168.9.9"' in main
    assert "event_loops = 2" in main
    assert 'ip = "10.1.2.3"' in http and "port = 8100" in http
    assert 'admin_ip = "127.0.0.1"' in http and "admin_http = true" in http
    assert "https = false" in http
    bridge = files["janus.plugin.audiobridge.jcfg"]
    assert f'admin_key = "{"c" * 64}"' in bridge
    assert 'local_ip = "10.1.2.3"' in bridge and "string_ids = true" in bridge
    assert f'admin_key = "{"c" * 64}"' in files["janus.plugin.videoroom.jcfg"]
    # Nothing but the HTTP transport, AudioBridge and VideoRoom.
    for name in (*OTHER_PLUGINS, *OTHER_TRANSPORTS):
        assert name in main
    for name in (*PLUGINS, *TRANSPORTS):
        assert name not in main


def test_everything_janus_ships_but_what_lawline_uses_is_disabled() -> None:
    if not JANUS_LIB.is_dir():
        pytest.skip("janus is not installed (scripts/setup.sh)")
    for kind, used, others in (
        ("plugins", PLUGINS, OTHER_PLUGINS),
        ("transports", TRANSPORTS, OTHER_TRANSPORTS),
    ):
        shipped = {p.name for p in (JANUS_LIB / kind).glob("*.so")}
        assert shipped == {*used, *others}, kind


def test_defaults_and_refusals(tmp_path: Path) -> None:
    media = MediaSettings()  # what Settings() holds when nothing is configured
    assert media.enabled
    assert (media.api_host, media.admin_host, media.rtp_host) == ("127.0.0.1",) * 3
    assert (media.prebuffer, media.sampling_rate, media.event_loops) == (3, 8000, 2)
    assert media.browser_codec == "pcmu"  # a phone call is G.711 end to end
    with pytest.raises(ValidationError, match="private addresses only"):
        MediaSettings(api_host="8.8.8.8")
    with pytest.raises(ValidationError):
        MediaSettings(sampling_rate=44100)
    with pytest.raises(ValueError, match="1025-65535"):
        render(MediaSettings(rtp_port_range="30000-20000"), _keys(), tmp_path)


def test_env_turns_it_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAWLINE_MEDIA__ENABLED", "true")
    monkeypatch.setenv("LAWLINE_MEDIA__INTERFACES", '["10.0.0.5"]')
    media = Settings(data_dir=tmp_path).media
    assert media.enabled and media.interfaces == ["10.0.0.5"]


def test_files_are_private_and_secrets_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, media=MediaSettings())
    first = write_config(settings)
    folder = tmp_path / "janus"
    assert first.folder == folder.resolve()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    kept = json.loads((folder / "secrets").read_text())
    assert kept["api_secret"] == first.secrets.api_secret
    assert len({first.secrets.api_secret, first.secrets.admin_secret}) == 2
    again = write_config(settings)
    assert again.secrets == first.secrets  # made once, read after
    assert first.api_url == "http://127.0.0.1:8088/janus"
    assert first.admin_url == "http://127.0.0.1:7088/admin"


# ----- a real Janus in namespaces of the test's own -------------------------------------


def _namespaces_available() -> str | None:
    """Why the Janus tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    if shutil.which("ip") is None:
        return "no `ip` (iproute2)"
    if shutil.which("janus") is None:
        return "janus is not installed (scripts/setup.sh)"
    return None


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


@contextlib.contextmanager
def _inside(ns: str) -> Iterator[None]:
    """This thread (the event loop's) in `ns` until the end: the sockets it makes are
    there (and stay there)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


@contextlib.contextmanager
def _lab() -> Iterator[str]:
    """Janus's namespace, linked to a client namespace this thread enters; the
    server's namespace name."""
    why = _namespaces_available()
    if why:
        pytest.skip(why)
    with contextlib.ExitStack() as stack:
        try:
            srv = stack.enter_context(namespace("janus"))
            cli = stack.enter_context(namespace("peers"))
            link(srv, SRV_IP, cli, CLI_IP)
        except subprocess.CalledProcessError as exc:
            why = exc.stderr.decode(errors="replace")[:200]
            pytest.skip(f"cannot make network namespaces here: {why}")
        with _inside(cli):
            yield srv


def _lab_settings(tmp_path: Path) -> Settings:
    media = MediaSettings(
        enabled=True,
        api_host=SRV_IP,
        admin_host=SRV_IP,
        rtp_host=SRV_IP,
        interfaces=[SRV_IP],
        start_timeout_s=20,
    )
    return Settings(data_dir=tmp_path, media=media)


@contextlib.asynccontextmanager
async def _janus(tmp_path: Path, srv: str) -> AsyncIterator[MediaSupervisor]:
    settings = _lab_settings(tmp_path)
    server = prepare_janus(settings, wrapper=["ip", "netns", "exec", srv])
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    supervisor = MediaSupervisor(server, os.environ, log_dir, settings.media.start_timeout_s)
    await supervisor.start()
    try:
        yield supervisor
    finally:
        await supervisor.stop()
        janus_log = (log_dir / "janus.log").read_text(errors="replace")
        # Janus's log names addresses and ids, never a caller: nothing personal to leak.
        assert "[FATAL]" not in janus_log, janus_log[-2000:]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _until(condition: object, timeout_s: float, what: str) -> None:
    """Poll `condition()` (a callable, maybe async) until true; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.05)


# ----- (b) supervision --------------------------------------------------------------------


async def test_janus_runs_as_a_child_answers_only_with_its_secret_and_comes_back(
    tmp_path: Path,
) -> None:
    with _lab() as srv:
        async with _janus(tmp_path, srv) as media:
            pid = media.pid
            assert pid is not None
            assert Path(f"/proc/{pid}/comm").read_text().strip() == "janus"
            print(
                f"\nJanus: API answering {media.last_start_s * 1000:.0f} ms after start, "
                f"RSS idle {_rss_kb(pid) / 1024:.1f} MiB"
            )
            client = media.client
            info = await client.info()
            assert info["server-name"] == media.server.config.server_name

            # Without the secret (or with another) Janus refuses: API and admin API.
            url = media.server.config.api_url
            refused_reply = await http_json("POST", url, {"janus": "create", "transaction": "t1"})
            assert refused_reply["janus"] == "error" and refused_reply["error"]["code"] == 403
            strangers = JanusClient(
                url, "0" * 64, media.server.config.admin_url, "0" * 64, timeout_s=2
            )
            with pytest.raises(JanusError) as refused:
                await strangers.session()
            assert refused.value.code == 403
            with pytest.raises(JanusError):
                await strangers.list_sessions()

            # The admin API lists sessions; one made shows, then goes.
            assert await client.list_sessions() == []
            session = await client.session()
            assert await client.list_sessions() == [session.id]
            await session.keepalive()
            await session.destroy()
            assert await client.list_sessions() == []

            # Killed: started again, answering again (a new process).
            os.kill(pid, signal.SIGKILL)
            await _until(lambda: media.starts == 2, 30, "Janus restarted and answering")
            assert media.pid != pid
            assert (await client.info())["name"] == "Janus WebRTC Server"
            print(f"Janus after a kill: answering {media.last_start_s * 1000:.0f} ms after start")
            restarted = media.pid
        assert restarted is not None
        await _until(lambda: not Path(f"/proc/{restarted}").exists(), 15, "Janus stopped")


async def test_serve_starts_janus_from_its_settings_and_stops_it(tmp_path: Path) -> None:
    # As `lawline serve` does it (data_dir/janus, loopback APIs), inside Janus's own
    # namespace: a process started from this thread runs there.
    settings = Settings(data_dir=tmp_path, media=MediaSettings(enabled=True))
    with _lab() as srv, _inside(srv):
        media = await start_media(settings)
        try:
            folder = tmp_path / "janus"
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert media.server.config.folder == folder.resolve()
            keys = janus_secrets(folder)
            client = JanusClient("http://127.0.0.1:8088/janus", keys.api_secret)
            assert (await client.info())["version_string"]
            assert media.starts == 1
        finally:
            await media.stop()
        assert media.children.procs["janus"].poll() is not None
    rows = endpoint_rows(settings, "http://127.0.0.1:8000", "redis://x", None)
    assert (
        "Media server",
        "http://127.0.0.1:8088/janus",
        "Janus: the conversations' rooms",
    ) in rows


# ----- (c) the client: a room with a plain-RTP caller and a WebRTC peer ------------------


def _ulaw(sample: int) -> int:
    """G.711 u-law of one 16-bit sample."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


class ToneCaller(asyncio.DatagramProtocol):
    """A plain-RTP participant: a UDP socket saying a 440 Hz tone in G.711 u-law,
    20 ms a packet (as the worker's relay, or the carrier, would)."""

    def __init__(self, hz: float = TONE_HZ) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.received = 0
        self.hz = hz

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1

    async def say(self, to: tuple[str, int]) -> None:
        assert self.transport is not None
        ssrc, seq, n = random.getrandbits(32), random.getrandbits(16), 0
        started = time.monotonic()
        while True:
            samples = (
                int(12000 * math.sin(2 * math.pi * self.hz * (n + i) / 8000)) for i in range(160)
            )
            payload = bytes(_ulaw(s) for s in samples)
            header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, n & 0xFFFFFFFF, ssrc)
            self.transport.sendto(header + payload, to)
            seq, n = seq + 1, n + 160
            # Paced by the clock (20 ms a packet), not by a fixed wait.
            await asyncio.sleep(max(0.0, started + n / 8000 - time.monotonic()))


class Listener(asyncio.DatagramProtocol):
    """Where a room's forwarder sends: keeps the decoded u-law audio it got."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self.refused = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        payload = forwarded_payload(data, PCMU, 160)
        if payload is None:
            self.refused += 1
            return
        self.samples.extend(array.array("h", ulaw_decode(payload)))


async def test_a_room_forwards_each_groups_own_voices_apart(media: dict[str, str]) -> None:
    """What a per-speaker transcript needs: a mediation room's groups are its sides, and
    each side's forwarded mix holds only that side's voice while everyone hears all."""
    loop = asyncio.get_running_loop()
    access = media_access(Settings())
    room = f"groups-{random.getrandbits(32):x}"
    tones = {"applicant": 440, "respondent": 1200}
    callers = {side: ToneCaller(hz) for side, hz in tones.items()}
    listeners = {side: Listener() for side in tones}
    transports: list[asyncio.BaseTransport] = []
    saying: list[asyncio.Task[None]] = []

    async def endpoint(protocol: asyncio.DatagramProtocol) -> tuple[str, int]:
        t, _ = await loop.create_datagram_endpoint(lambda: protocol, local_addr=("127.0.0.1", 0))
        transports.append(t)
        ip, port = t.get_extra_info("sockname")[:2]
        return ip, port

    session = await access.client.session()
    try:
        maker = await AudioBridge.attach(session, access.admin_key)
        pin = await create_room(maker, access, room, rtp_participants=True, groups=list(tones))
        for side in tones:
            await maker.rtp_forward(room, *await endpoint(listeners[side]), group=side)
            leg = await AudioBridge.attach(session, access.admin_key)
            ip, port = await endpoint(callers[side])
            joined = await leg.join_rtp(room, ip, port, pin=pin, group=side)
            saying.append(loop.create_task(callers[side].say((joined.ip, joined.port))))

        def both_heard() -> bool:
            return all(len(li.samples) >= 16000 for li in listeners.values())

        await _until(both_heard, 15, "both groups' forwarders send")
        await _until(lambda: all(c.received > 0 for c in callers.values()), 5, "each leg hears")
        for side, hz in tones.items():
            other = next(h for s, h in tones.items() if s != side)
            mix = listeners[side].samples[-8000:]
            assert tone_in(mix, 8000, hz) > 0.8 and tone_in(mix, 8000, other) < 0.05, side
            assert listeners[side].refused == 0  # Janus's stray header bits read past
        await destroy_room(maker, room)
    finally:
        for task in saying:
            task.cancel()
        await session.destroy()
        for t in transports:
            t.close()


async def test_a_room_with_a_plain_rtp_caller_and_a_webrtc_peer_then_nothing_left(
    tmp_path: Path,
) -> None:
    with _lab() as srv:
        async with _janus(tmp_path, srv) as media:
            await _room_call(media, _lab_settings(tmp_path).media)


async def _room_call(media: MediaSupervisor, settings: MediaSettings) -> None:
    client = media.client
    admin_key = media.server.config.secrets.admin_key
    loop = asyncio.get_running_loop()
    room = "contact-19"
    session = await client.session()
    caller_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller_socket.bind((CLI_IP, 0))
    transport, caller = await loop.create_datagram_endpoint(ToneCaller, sock=caller_socket)
    # aiortc stands in for the lawyer's browser here only: a WebRTC peer the test can
    # drive and hear in-process (lawline's own WebRTC leg will be the browser's).
    pc = create_peer_connection(WebRTCSettings(host_addresses=[CLI_IP]))
    heard: list[tuple[float, list[int]]] = []
    readers: list[asyncio.Task[None]] = []
    saying: asyncio.Task[None] | None = None

    @pc.on("track")
    def _on_track(track: MediaStreamTrack) -> None:
        readers.append(loop.create_task(record_track(track, heard)))

    try:
        rooms = await AudioBridge.attach(session, admin_key)
        await rooms.create_room(
            room, sampling_rate=settings.sampling_rate, prebuffer=settings.prebuffer
        )
        with pytest.raises(JanusError) as twice:
            await rooms.create_room(room)
        assert twice.value.code == 486  # AudioBridge: the room exists

        caller_leg = await AudioBridge.attach(session, admin_key)
        rtp = await caller_leg.join_rtp(room, CLI_IP, caller_socket.getsockname()[1])
        assert rtp.ip == SRV_IP and rtp.port > 0
        saying = loop.create_task(caller.say((rtp.ip, rtp.port)))

        lawyer_leg = await AudioBridge.attach(session, admin_key)
        pc.addTrack(AudioStreamTrack())  # the peer says nothing (silence)
        await pc.setLocalDescription(await pc.createOffer())  # complete: no trickle
        answer = await lawyer_leg.join_webrtc(room, pc.localDescription.sdp, display="lawyer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

        def hears_tone() -> bool:
            recent = [s for _, frame in heard[-50:] for s in frame]  # the last second
            return len(recent) >= 48000 and tone_in(recent[-24000:], 48000, TONE_HZ) >= 0.8

        await _until(hears_tone, 15, "the WebRTC peer hears the caller's tone")
        await _until(lambda: caller.received > 0, 5, "Janus sends RTP to the caller")

        participants = await rooms.list_participants(room)
        assert len(participants) == 2
        await lawyer_leg.configure(muted=True)
        muted = {p["id"]: p["muted"] for p in await rooms.list_participants(room)}
        assert muted[lawyer_leg.participant] is True
        assert room in [r["room"] for r in await rooms.list_rooms()]

        # A caucus: the WebRTC leg moves to another room and back, no new negotiation.
        await rooms.create_room("caucus-19", sampling_rate=settings.sampling_rate)
        await lawyer_leg.changeroom("caucus-19", display="lawyer")
        assert len(await rooms.list_participants("caucus-19")) == 1
        assert len(await rooms.list_participants(room)) == 1
        await lawyer_leg.changeroom(room, display="lawyer")
        assert len(await rooms.list_participants(room)) == 2
        await rooms.destroy_room("caucus-19")

        await rooms.destroy_room(room)
        with pytest.raises(JanusError):
            await rooms.list_participants(room)
    finally:
        if saying is not None:
            saying.cancel()
        transport.close()
        await pc.close()
        for reader in readers:
            reader.cancel()
        use_host_addresses([])
        await session.destroy()

    # Nothing left on the media server: no session, no room.
    await _until(lambda: _no_sessions(client), 5, "the admin API lists no session after the call")
    listed = await client.plugin_request(
        "janus.plugin.audiobridge", {"request": "list", "admin_key": admin_key}
    )
    assert listed["list"] == []


async def _no_sessions(client: JanusClient) -> bool:
    return await client.list_sessions() == []


def test_replies_are_read_whole_and_checked() -> None:
    # The client's own HTTP reading (Janus answers with a length; chunked is read too).
    body = b'{"janus": "success", "data": {"id": 7}}'
    plain = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    assert _parse_reply(plain)["data"]["id"] == 7
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % 10 + body[:10] + b"\r\n"
        + b"%x\r\n" % (len(body) - 10) + body[10:] + b"\r\n0\r\n\r\n"
    )  # fmt: skip
    assert _parse_reply(chunked)["data"]["id"] == 7
    with pytest.raises(JanusError) as http_error:
        _parse_reply(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    assert http_error.value.code == 404
    with pytest.raises(JanusError, match="cut short"):
        _parse_reply(b"HTTP/1.1 200 OK\r\nContent-Len")
    refusal = {"audiobridge": "event", "error_code": 485, "error": "No such room"}
    plugin_error = {"janus": "success", "plugindata": {"data": refusal}}
    with pytest.raises(JanusError, match="No such room") as refused:
        _check(plugin_error, "destroy")
    assert refused.value.code == 485
    with pytest.raises(JanusError, match="Unauthorized"):
        _check({"janus": "error", "error": {"code": 403, "reason": "Unauthorized"}}, "create")


async def test_another_janus_on_the_port_is_not_taken_for_ours() -> None:
    # E.g. Debian's janus service left running: it answers `info`, with another name.
    async def foreign(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = json.dumps({"janus": "server_info", "server-name": "MyJanus"}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(foreign, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = JanusClient(f"http://127.0.0.1:{port}/janus", "s" * 64, timeout_s=1)
    try:
        assert await wait_ready(client, 5) >= 0  # any Janus will do
        with pytest.raises(JanusError, match="another server answers"):
            await wait_ready(client, 0.5, server_name="lawline-0123abcd")
    finally:
        server.close()
