"""The mediation room on a real app, Redis and the run's Janus: a mediator and two
parties whose browsers (aiortc peers, each saying a tone of its own) join over the
room's sockets; who hears whom is told apart by frequency (Goertzel)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import websockets
from aiortc import RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamTrack

from lawline.config import Settings
from lawline.media.access import media_access
from lawline.media.janus_client import AudioBridge, VideoRoom
from lawline.media.janus_process import MediaSupervisor, prepare_janus
from lawline.video.webrtc import create_peer_connection
from lawline.web.auth import Role
from tests.lawline_server import Running, next_frame, running_lawline
from tests.media_server import media_env, settings_with
from tests.phone_party import PhoneParty
from tests.sip_helpers import telephony_worker
from tests.test_bridge import BROWSER, make_tone, record_track, rms, share

pytestmark = [
    pytest.mark.skipif(shutil.which("sox") is None, reason="sox is installed by scripts/setup.sh"),
    # Three aiortc peers in this process, judged by tone: beside another worker's
    # tests the mediator's voice once stayed missing from the room for 15 s (not seen
    # alone; a stalled loop here recovers in about 2 s), so they run with nothing
    # beside them, the test process and Janus ahead (`realtime`).
    pytest.mark.usefixtures("media", "realtime"),
]

TONES = {"mediator": 440, "applicant": 1200, "respondent": 1800}
PARTIES = [
    {"name": "李桂兰", "role": "applicant", "reach": "link"},
    {"name": "张建国", "role": "respondent", "reach": "link"},
]


class Peer:
    """A browser in the room: says its tone, keeps what it hears (48 kHz mono)."""

    def __init__(self, tone: Path) -> None:
        self.pc = create_peer_connection(BROWSER)
        self.player = MediaPlayer(str(tone), loop=True)
        assert self.player.audio is not None
        self.pc.addTrack(self.player.audio)
        self.frames: list[tuple[float, list[int]]] = []
        self._reader: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._reader = asyncio.get_running_loop().create_task(record_track(track, self.frames))

    async def join(self, ws: Any, type: str = "offer", **fields: Any) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await ws.send(json.dumps({"type": type, "sdp": self.pc.localDescription.sdp, **fields}))
        answer = await next_frame(ws, "room_listen_answer" if type == "room_listen" else "answer")
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    def recent(self, seconds: float = 1.0) -> Sequence[int]:
        now = time.monotonic()
        heard = [s for t, pcm in self.frames if now - seconds <= t for s in pcm]
        return heard if len(heard) >= 24000 else [0] * 48000

    async def until(self, hears: set[int], not_hears: set[int], timeout_s: float = 15) -> None:
        """Until the last second holds each tone in `hears` and none in `not_hears`."""
        deadline = time.monotonic() + timeout_s
        while True:
            x = self.recent()
            shares = {hz: share(x, 48000, hz) for hz in {*TONES.values(), *hears, *not_hears}}
            if all(shares[hz] > 0.15 for hz in hears) and all(
                shares[hz] < 0.02 for hz in not_hears
            ):
                return
            assert time.monotonic() < deadline, f"heard {shares}, wanted {hears} not {not_hears}"
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    settings = Settings(data_dir=tmp_path, secret_key="test-secret")
    async with running_lawline(settings, clean_redis_url) as running:
        yield running


async def new_mediation(lawline: Running, parties: list[dict[str, str]] = PARTIES) -> str:
    """A mediation of liu's with these parties; its case number."""
    async with lawline.client("liu", Role.MEDIATOR) as http:
        r = await http.post("/api/mediations", json={"parties": parties})
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])


async def open_room(desk: Any, cid: str) -> dict[str, str]:
    """The mediator opens the room: each party's link token, by role."""
    await desk.send(json.dumps({"type": "room_open", "case_id": cid}))
    return {x["role"]: x["token"] for x in (await next_frame(desk, "room"))["links"]}


async def party_socket(lawline: Running, token: str) -> Any:
    ws_base = lawline.base.replace("http://", "ws://")
    ws = await websockets.connect(
        f"{ws_base}/api/mediation/party/ws", additional_headers={"Origin": lawline.base}
    )
    await ws.send(json.dumps({"type": "hello", "token": token}))
    return ws


async def janus_rooms() -> list[str]:
    access = media_access(Settings())
    async with await access.client.session() as session:
        handle = await AudioBridge.attach(session, access.admin_key)
        return [r["room"] for r in await handle.list_rooms()]


async def janus_video_rooms() -> list[str]:
    access = media_access(Settings())
    async with await access.client.session() as session:
        handle = await VideoRoom.attach(session, access.admin_key)
        return [r["room"] for r in await handle.list_rooms()]


async def test_everyone_in_the_room_hears_everyone_else_and_the_mediator_runs_it(
    lawline: Running, tmp_path: Path
) -> None:
    cid = await new_mediation(lawline)
    peers = {who: Peer(make_tone(tmp_path / f"{who}.wav", hz, 48000)) for who, hz in TONES.items()}
    sockets: list[Any] = []
    try:
        async with lawline.websocket("/api/mediation/ws", "liu", Role.MEDIATOR) as desk:
            # A party whose mediation has not started is told so.
            early = await party_socket(lawline, "not-a-link")
            with pytest.raises(websockets.ConnectionClosed):
                await early.recv()
            assert early.close_code == 4401

            await desk.send(json.dumps({"type": "room_open", "case_id": cid}))
            room = await next_frame(desk, "room")
            links = {link["role"]: link for link in room["links"]}
            assert set(links) == {"applicant", "respondent"}
            await peers["mediator"].join(desk, case_id=cid)

            seats = {}
            for role in ("applicant", "respondent"):
                ws = await party_socket(lawline, links[role]["token"])
                sockets.append(ws)
                joined = await next_frame(ws, "joined")
                assert joined["role"] == role and joined["case_id"] == cid
                seats[role] = joined["who"]
                await peers[role].join(ws)

            for who, peer in peers.items():
                others = {hz for w, hz in TONES.items() if w != who}
                await peer.until(hears=others, not_hears={TONES[who]})
            frame = await next_frame(desk, "participants")
            assert {p["name"] for p in frame["participants"]} == {"liu", "李桂兰", "张建国"}

            # Muted, the applicant is heard by no one.
            await desk.send(
                json.dumps(
                    {"type": "mute", "case_id": cid, "who": seats["applicant"], "muted": True}
                )
            )
            assert (await next_frame(desk, "result"))["ok"]
            await peers["mediator"].until(hears={1800}, not_hears={440, 1200})
            await peers["respondent"].until(hears={440}, not_hears={1800, 1200})

            # Removed, the respondent's page is told and its audio leaves the room.
            await desk.send(
                json.dumps({"type": "remove", "case_id": cid, "who": seats["respondent"]})
            )
            assert (await next_frame(desk, "result"))["ok"]
            assert await next_frame(sockets[1], "removed")
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await sockets[1].recv()
            await peers["mediator"].until(hears=set(), not_hears={1800, 1200, 440})

            # Closed: the applicant is told, and nothing is left on the media server.
            await desk.send(json.dumps({"type": "room_close", "case_id": cid}))
            assert await next_frame(sockets[0], "closed")
            assert (await next_frame(desk, "result"))["ok"]
            assert f"m-{cid}" not in await janus_rooms()
    finally:
        for ws in sockets:
            await ws.close()
        for peer in peers.values():
            await peer.close()
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        trail = (await boss.get(f"/api/cases/{cid}/audit")).json()
        details = [e["detail"] for e in trail]
        assert "mediation room open" in details and "mediation room close" in details


async def test_a_dropped_party_comes_back_to_its_seat_and_a_locked_room_keeps_others_out(
    lawline: Running,
) -> None:
    parties = [*PARTIES, {"name": "王大妈", "role": "third_party", "reach": "link"}]
    cid = await new_mediation(lawline, parties)
    async with lawline.websocket("/api/mediation/ws", "liu", Role.MEDIATOR) as desk:
        links = await open_room(desk, cid)
        first = await party_socket(lawline, links["applicant"])
        seat = (await next_frame(first, "joined"))["who"]
        # The same link from another device (or after a drop): the seat moves there.
        again = await party_socket(lawline, links["applicant"])
        assert (await next_frame(again, "joined"))["who"] == seat
        assert await next_frame(first, "replaced")
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await first.recv()
        assert first.close_code == 4000

        await desk.send(json.dumps({"type": "lock", "case_id": cid, "locked": True}))
        assert (await next_frame(desk, "result"))["ok"]
        # Locked: a party never in is kept out; one who was in comes back.
        outsider = await party_socket(lawline, links["third_party"])
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await outsider.recv()
        assert outsider.close_code == 4409 and "锁定" in outsider.close_reason
        await again.close()
        back = await party_socket(lawline, links["applicant"])
        assert (await next_frame(back, "joined"))["who"] == seat
        await back.close()
        # A bad frame is answered, never fatal; a seat that is not in the room is refused.
        await desk.send("{not json")
        assert (await next_frame(desk, "error"))["message"] == "not JSON"
        await desk.send(json.dumps({"type": "mute", "case_id": cid, "who": "p0", "muted": True}))
        assert not (await next_frame(desk, "result"))["ok"]
        await desk.send(json.dumps({"type": "room_close", "case_id": cid}))
        assert (await next_frame(desk, "result"))["ok"]
    # Another mediator's socket cannot open this room.
    async with lawline.websocket("/api/mediation/ws", "chen", Role.MEDIATOR) as other:
        await other.send(json.dumps({"type": "room_open", "case_id": cid}))
        refused = await next_frame(other, "result")
        assert not refused["ok"] and refused["message"] == "这件调解不由您主持"


HOLD_MUSIC_HZ = (523, 659, 784)  # the notes of lawline's hold music


async def until_music(peer: Peer, timeout_s: float = 15) -> None:
    """Until the last second holds the hold music and none of the voices."""
    deadline = time.monotonic() + timeout_s
    while True:
        x = peer.recent()
        music = sum(share(x, 48000, hz) for hz in HOLD_MUSIC_HZ)
        voices = max(share(x, 48000, hz) for hz in TONES.values())
        if music > 0.3 and voices < 0.02:
            return
        assert time.monotonic() < deadline, f"music {music:.2f}, voices {voices:.2f}"
        await asyncio.sleep(0.1)


async def test_in_a_caucus_the_others_hear_music_and_nothing_of_the_side_room(
    lawline: Running, tmp_path: Path
) -> None:
    cid = await new_mediation(lawline)
    peers = {who: Peer(make_tone(tmp_path / f"{who}.wav", hz, 48000)) for who, hz in TONES.items()}
    sockets: list[Any] = []
    try:
        async with lawline.websocket("/api/mediation/ws", "liu", Role.MEDIATOR) as desk:
            links = await open_room(desk, cid)
            await peers["mediator"].join(desk, case_id=cid)
            seats = {}
            for role in ("applicant", "respondent"):
                ws = await party_socket(lawline, links[role])
                sockets.append(ws)
                seats[role] = (await next_frame(ws, "joined"))["who"]
                await peers[role].join(ws)
            await peers["respondent"].until(hears={440, 1200}, not_hears={1800})

            caucus = {"type": "caucus", "case_id": cid, "who": [seats["applicant"]]}
            await desk.send(json.dumps(caucus))
            result = await next_frame(desk, "result")
            assert result["ok"], result
            # The mediator and the applicant hear each other only; the respondent, music.
            await peers["mediator"].until(hears={1200}, not_hears={1800, 440})
            await peers["applicant"].until(hears={440}, not_hears={1800, 1200})
            await until_music(peers["respondent"])

            await desk.send(json.dumps({"type": "caucus_end", "case_id": cid}))
            assert (await next_frame(desk, "result"))["ok"]
            await peers["respondent"].until(hears={440, 1200}, not_hears={1800})
            await peers["mediator"].until(hears={1200, 1800}, not_hears={440})
            await desk.send(json.dumps({"type": "room_close", "case_id": cid}))
            assert (await next_frame(desk, "result"))["ok"]
            rooms = await janus_rooms()
            assert f"m-{cid}" not in rooms and f"m-{cid}-c" not in rooms
    finally:
        for ws in sockets:
            await ws.close()
        for peer in peers.values():
            await peer.close()


async def test_a_supervisor_sees_the_room_and_listens_unheard_and_the_mediator_is_told(
    lawline: Running, tmp_path: Path
) -> None:
    cid = await new_mediation(lawline)
    tones = {**TONES, "supervisor": 2500}
    peers = {who: Peer(make_tone(tmp_path / f"{who}.wav", hz, 48000)) for who, hz in tones.items()}
    sockets: list[Any] = []
    try:
        async with lawline.websocket("/api/mediation/ws", "liu", Role.MEDIATOR) as desk:
            links = await open_room(desk, cid)
            await peers["mediator"].join(desk, case_id=cid)
            ws = await party_socket(lawline, links["applicant"])
            sockets.append(ws)
            await next_frame(ws, "joined")
            await peers["applicant"].join(ws)

            async with lawline.client("boss", Role.SUPERVISOR) as boss:
                live = (await boss.get("/api/mediation/rooms")).json()
                assert [r["case_id"] for r in live] == [cid]
                present = {p["name"] for p in live[0]["participants"] if p["present"]}
                assert present == {"liu", "李桂兰"}
            async with lawline.client("liu", Role.MEDIATOR) as liu:
                assert (await liu.get("/api/mediation/rooms")).status_code == 403

            async with lawline.websocket("/api/supervisor/ws", "boss", Role.SUPERVISOR) as sup:
                await peers["supervisor"].join(sup, type="room_listen", case_id=cid)
                await peers["supervisor"].until(hears={440, 1200}, not_hears={2500})
                for who in ("mediator", "applicant"):
                    await peers[who].until(hears=set(), not_hears={2500})
                told = await next_frame(desk, "participants")
                while told.get("listeners") != 1:
                    told = await next_frame(desk, "participants")
                await sup.send(json.dumps({"type": "room_listen_stop", "case_id": cid}))
                assert (await next_frame(sup, "result"))["ok"]
                while told.get("listeners") != 0:
                    told = await next_frame(desk, "participants")
    finally:
        for ws in sockets:
            await ws.close()
        for peer in peers.values():
            await peer.close()
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        trail = (await boss.get(f"/api/cases/{cid}/audit")).json()
        details = [e["detail"] for e in trail if e["actor"] == "boss"]
        assert "mediation listen start" in details and "mediation listen stop" in details


async def test_the_media_server_killed_mid_room_brings_the_room_back_with_its_parties(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path
) -> None:
    """The browsers offer again; the party on the phone is joined again by lawline, with
    nothing asked of them (their call never noticed)."""
    # A Janus of this test's own, kept up by the supervisor `lawline serve` uses.
    env = media_env(tmp_path / "janus")
    env["LAWLINE_MEDIA__RTP_PORT_RANGE"] = "30000-32999"
    env["LAWLINE_MEDIA__PLAIN_RTP_PORT_RANGE"] = "33000-35999"
    settings = settings_with(env, tmp_path)
    settings.secret_key = "test-secret"
    media = MediaSupervisor(prepare_janus(settings), os.environ, tmp_path, 20)
    await media.start()
    phone = PhoneParty(tmp_path, make_tone(tmp_path / "phone.wav", 1800, 16000))
    env["LAWLINE_TELEPHONY__TRUNK"] = f"127.0.0.1:{phone.port}"
    parties = [PARTIES[0], {**PARTIES[1], "reach": "phone", "phone": "13900139000"}]
    peers: list[Peer] = []
    sockets: list[Any] = []
    stack = contextlib.AsyncExitStack()
    try:
        with telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env):
            async with running_lawline(settings, clean_redis_url) as lawline:
                cid = await new_mediation(lawline, parties)
                async with lawline.websocket("/api/mediation/ws", "liu", Role.MEDIATOR) as desk:
                    await desk.send(json.dumps({"type": "room_open", "case_id": cid}))
                    links = {x["role"]: x for x in (await next_frame(desk, "room"))["links"]}
                    ws = await party_socket(lawline, links["applicant"]["token"])
                    sockets.append(ws)
                    await next_frame(ws, "joined")
                    respondent = links["respondent"]["who"]
                    await desk.send(json.dumps({"type": "dial", "case_id": cid, "who": respondent}))

                    async def join_both() -> tuple[Peer, Peer]:
                        mediator = Peer(make_tone(tmp_path / "m.wav", 440, 48000))
                        party = Peer(make_tone(tmp_path / "p.wav", 1200, 48000))
                        peers.extend([mediator, party])
                        await mediator.join(desk, case_id=cid)
                        await party.join(ws)
                        await mediator.until(hears={1200, 1800}, not_hears={440}, timeout_s=30)
                        await party.until(hears={440, 1800}, not_hears={1200})
                        return mediator, party

                    await join_both()
                    # A supervisor listens in, and is asked to listen again after it.
                    sup = await stack.enter_async_context(
                        lawline.websocket("/api/supervisor/ws", "boss", Role.SUPERVISOR)
                    )
                    supervisor = Peer(make_tone(tmp_path / "s.wav", 2500, 48000))
                    peers.append(supervisor)
                    await supervisor.join(sup, type="room_listen", case_id=cid)
                    await supervisor.until(hears={440, 1200, 1800}, not_hears={2500})
                    assert media.pid is not None
                    os.kill(media.pid, signal.SIGKILL)
                    # The room is made again and both browsers are asked to offer again.
                    assert await next_frame(desk, "reoffer", timeout=40)
                    assert await next_frame(ws, "reoffer", timeout=10)
                    await join_both()
                    assert await next_frame(sup, "room_listen_lost", timeout=10)
                    supervisor = Peer(make_tone(tmp_path / "s.wav", 2500, 48000))
                    peers.append(supervisor)
                    await supervisor.join(sup, type="room_listen", case_id=cid)
                    await supervisor.until(hears={440, 1200, 1800}, not_hears={2500})
                    assert media.starts == 2
                    assert lawline.app.state.mediation_rooms.restores == 1
                    assert (await next_frame(desk, "participants"))["participants"]
                    await desk.send(json.dumps({"type": "room_close", "case_id": cid}))
                    await next_frame(desk, "result")
        await asyncio.to_thread(phone.finish)
    finally:
        await stack.aclose()
        for s in sockets:
            await s.close()
        for peer in peers:
            await peer.close()
        if phone.proc.poll() is None:
            phone.proc.kill()
        await media.stop()


async def test_the_recording_consent_is_announced_to_everyone_and_recorded(
    lawline: Running, tmp_path: Path
) -> None:
    # Seven parties, as many as a room takes besides the mediator.
    parties = [
        *PARTIES,
        *[{"name": f"证人{n}", "role": "third_party", "reach": "hall"} for n in range(5)],
    ]
    cid = await new_mediation(lawline, parties)
    peers = {w: Peer(make_tone(tmp_path / f"{w}.wav", TONES[w], 48000)) for w in TONES}
    sockets: list[Any] = []
    try:
        async with lawline.websocket("/api/mediation/ws", "liu", Role.MEDIATOR) as desk:
            links = await open_room(desk, cid)
            await peers["mediator"].join(desk, case_id=cid)
            ws = await party_socket(lawline, links["applicant"])
            sockets.append(ws)
            await next_frame(ws, "joined")
            await peers["applicant"].join(ws)
            # The mediator's own voice muted: what the party hears next is the announcement.
            mute = {"type": "mute", "case_id": cid, "who": "mediator", "muted": True}
            await desk.send(json.dumps(mute))
            assert (await next_frame(desk, "result"))["ok"]
            await peers["applicant"].until(hears=set(), not_hears={440, 1200, 1800})

            await desk.send(json.dumps({"type": "consent", "case_id": cid}))
            assert (await next_frame(desk, "result", timeout=30))["ok"]
            deadline = time.monotonic() + 15
            while rms(peers["applicant"].recent()) < 300:
                assert time.monotonic() < deadline, "the party never heard the announcement"
                await asyncio.sleep(0.1)
    finally:
        for ws in sockets:
            await ws.close()
        for peer in peers.values():
            await peer.close()
    async with lawline.client("liu", Role.MEDIATOR) as liu:
        m = (await liu.get(f"/api/mediations/{cid}")).json()
        assert m["consent_at"] is not None
