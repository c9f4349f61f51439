"""lawline's client of Janus's HTTP API (and admin API), on asyncio alone.

Janus listens on private addresses only, so a small HTTP/1.1 client over asyncio
streams does (one request per connection, `Connection: close`): no new dependency,
and every request is bounded by a timeout and cancellable.

    client = JanusClient(api_url, api_secret, admin_url, admin_secret)
    async with await client.session() as session:
        bridge = await AudioBridge.attach(session, admin_key)
        await bridge.create_room("c-123", sampling_rate=16000, prebuffer=3)
        port = await bridge.join_rtp("c-123", "10.0.0.2", 40002)    # Janus's RTP address
        lawyer = await AudioBridge.attach(session, admin_key)
        answer = await lawyer.join_webrtc("c-123", offer_sdp)        # the answer's SDP
        await bridge.destroy_room("c-123")

A session long-polls Janus for its events (which also keeps it alive; `keepalive`
sends one explicitly) and hands each to the request waiting for it. Every reply is
checked: `janus: error`, or a plugin's `error_code`, raise `JanusError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

log = logging.getLogger(__name__)

AUDIOBRIDGE = "janus.plugin.audiobridge"
VIDEOROOM = "janus.plugin.videoroom"
REQUEST_TIMEOUT_S = 5.0
POLL_TIMEOUT_S = 40.0  # Janus answers a long poll within 30 s (a keepalive if nothing)
MAX_REPLY = 4 * 1024 * 1024
MAX_QUEUED_EVENTS = 64  # per handle, unread (webrtcup, media, slowlink...): oldest dropped
NO_SUCH_SESSION = 458  # Janus's own error code: it restarted, or timed the session out
HTTP_NOT_FOUND = 404

Json = dict[str, Any]


class JanusError(RuntimeError):
    """Janus refused a request, its plugin did, or it did not answer in time."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(f"{message} ({code})" if code is not None else message)
        self.code = code


async def http_json(
    method: str, url: str, body: Json | None = None, timeout_s: float = REQUEST_TIMEOUT_S
) -> Any:
    """One HTTP request to Janus, its JSON reply; JanusError on anything else."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise JanusError(f"not an http URL: {url}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    payload = json.dumps(body).encode() if body is not None else b""
    host = parts.hostname
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: close",
        "Accept: application/json",
    ]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, parts.port or 80)
            try:
                writer.write(request)
                await writer.drain()
                raw = await reader.read(MAX_REPLY + 1)
                while chunk := await reader.read(65536):
                    raw += chunk
                    if len(raw) > MAX_REPLY:
                        break
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except TimeoutError as exc:
        raise JanusError(f"Janus did not answer {method} {parts.path} in {timeout_s} s") from exc
    except OSError as exc:
        raise JanusError(f"Janus unreachable at {parts.netloc}: {exc.strerror or exc}") from exc
    return _parse_reply(raw)


def _parse_reply(raw: bytes) -> Any:
    head, sep, content = raw.partition(b"\r\n\r\n")
    if not sep or len(raw) > MAX_REPLY:
        raise JanusError("Janus's reply is cut short or too long")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if len(status) < 2 or not status[1].isdigit():
        raise JanusError(f"not an HTTP reply: {lines[0][:80]!r}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        content = _unchunk(content)
    elif "content-length" in headers:
        content = content[: int(headers["content-length"])]
    code = int(status[1])
    if code != 200:
        raise JanusError(f"Janus answered HTTP {code}", code)
    try:
        return json.loads(content)
    except ValueError as exc:
        raise JanusError("Janus's reply is not JSON") from exc


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def _check(reply: Any, what: str) -> Json:
    """A Janus reply, or JanusError for `janus: error` and a plugin's error_code."""
    if not isinstance(reply, dict):
        raise JanusError(f"{what}: unexpected reply")
    kind = reply.get("janus")
    if kind == "error":
        error = reply.get("error") or {}
        raise JanusError(f"{what}: {error.get('reason', 'refused')}", error.get("code"))
    if kind not in ("success", "ack", "event", "server_info"):
        raise JanusError(f"{what}: unexpected reply {kind!r}")
    data = (reply.get("plugindata") or {}).get("data") or {}
    if "error_code" in data or "error" in data:
        raise JanusError(f"{what}: {data.get('error', 'plugin error')}", data.get("error_code"))
    return reply


def _error_code(reply: Any) -> int | None:
    if isinstance(reply, dict) and reply.get("janus") == "error":
        code = (reply.get("error") or {}).get("code")
        return code if isinstance(code, int) else None
    return None


def _transaction() -> str:
    return secrets.token_hex(8)


class JanusClient:
    """Janus's HTTP API (api_url, e.g. http://127.0.0.1:8088/janus) and admin API."""

    def __init__(
        self,
        api_url: str,
        api_secret: str,
        admin_url: str = "",
        admin_secret: str = "",
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_secret = api_secret
        self.admin_url = admin_url.rstrip("/")
        self.admin_secret = admin_secret
        self.timeout_s = timeout_s

    async def post(self, path: str, body: Json, what: str) -> Json:
        body = {**body, "transaction": _transaction(), "apisecret": self.api_secret}
        return _check(await http_json("POST", self.api_url + path, body, self.timeout_s), what)

    async def info(self) -> Json:
        """GET /info (with the secret): Janus is up and answering."""
        query = urlencode({"apisecret": self.api_secret})
        url = f"{self.api_url}/info?{query}"
        return _check(await http_json("GET", url, None, self.timeout_s), "info")

    async def session(self) -> JanusSession:
        reply = await self.post("", {"janus": "create"}, "create session")
        session = JanusSession(self, int(reply["data"]["id"]))
        session.start()
        return session

    async def admin(self, request: str, path: str = "", fields: Json | None = None) -> Json:
        """One admin API request (`list_sessions`, `list_handles`...)."""
        if not self.admin_url:
            raise JanusError("no admin API configured")
        body = {
            "janus": request,
            "transaction": _transaction(),
            "admin_secret": self.admin_secret,
            **(fields or {}),
        }
        url = self.admin_url + path
        return _check(await http_json("POST", url, body, self.timeout_s), request)

    async def plugin_request(self, plugin: str, request: Json) -> Json:
        """A request to a plugin through the admin API (no session needed): its response."""
        reply = await self.admin("message_plugin", "", {"plugin": plugin, "request": request})
        response = reply.get("response")
        if not isinstance(response, dict):
            raise JanusError(f"{plugin}: no response")
        if "error_code" in response:
            raise JanusError(f"{plugin}: {response.get('error')}", response.get("error_code"))
        return response

    async def list_sessions(self) -> list[int]:
        return [int(s) for s in (await self.admin("list_sessions")).get("sessions", [])]

    async def list_handles(self, session_id: int) -> list[int]:
        reply = await self.admin("list_handles", f"/{session_id}")
        return [int(h) for h in reply.get("handles", [])]


class JanusSession:
    """One Janus session: requests on its handles, its events by long poll."""

    def __init__(self, client: JanusClient, session_id: int) -> None:
        self.client = client
        self.id = session_id
        self._waiting: dict[str, asyncio.Future[Json]] = {}
        self._events: dict[int, asyncio.Queue[Json]] = {}
        self._poll: asyncio.Task[None] | None = None
        self.closed = False
        # Set when Janus no longer knows this session (it restarted, or timed it out):
        # its handles, rooms and participants are gone with it.
        self.lost = asyncio.Event()

    def start(self) -> None:
        self._poll = asyncio.get_running_loop().create_task(self._long_poll())

    async def __aenter__(self) -> JanusSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.destroy()

    async def attach(self, plugin: str) -> int:
        reply = await self.client.post(
            f"/{self.id}", {"janus": "attach", "plugin": plugin}, f"attach {plugin}"
        )
        handle = int(reply["data"]["id"])
        self._events[handle] = asyncio.Queue(MAX_QUEUED_EVENTS)
        return handle

    async def detach(self, handle: int) -> None:
        self._events.pop(handle, None)
        await self.client.post(f"/{self.id}/{handle}", {"janus": "detach"}, "detach")

    def attached(self, handle: int) -> bool:
        return handle in self._events

    async def keepalive(self) -> None:
        await self.client.post(f"/{self.id}", {"janus": "keepalive"}, "keepalive")

    async def message(
        self, handle: int, body: Json, jsep: Json | None = None, what: str = ""
    ) -> tuple[Json, Json | None]:
        """A plugin request: its data and jsep, whether Janus answers at once
        (`success`) or acknowledges and answers with an event."""
        what = what or str(body.get("request", "message"))
        tx = _transaction()
        msg: Json = {
            "janus": "message",
            "body": body,
            "transaction": tx,
            "apisecret": self.client.api_secret,
        }
        if jsep is not None:
            msg["jsep"] = jsep
        answer: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting[tx] = answer
        try:
            url = f"{self.client.api_url}/{self.id}/{handle}"
            reply = _check(await http_json("POST", url, msg, self.client.timeout_s), what)
            if reply["janus"] == "ack":
                try:
                    async with asyncio.timeout(self.client.timeout_s):
                        reply = _check(await answer, what)
                except TimeoutError as exc:
                    raise JanusError(f"{what}: no event from Janus in time") from exc
        finally:
            self._waiting.pop(tx, None)
        data = (reply.get("plugindata") or {}).get("data") or {}
        return data, reply.get("jsep")

    async def next_event(self, handle: int, timeout_s: float | None = None) -> Json:
        """The next event on `handle` no request was waiting for."""
        queue = self._events.get(handle)
        if queue is None:
            raise JanusError(f"handle {handle} is not attached here")
        try:
            async with asyncio.timeout(timeout_s or self.client.timeout_s):
                return await queue.get()
        except TimeoutError as exc:
            raise JanusError("no event from Janus in time") from exc

    async def _long_poll(self) -> None:
        query = urlencode({"maxev": 10, "apisecret": self.client.api_secret})
        url = f"{self.client.api_url}/{self.id}?{query}"
        failures = 0
        while not self.closed:
            try:
                reply = await http_json("GET", url, None, POLL_TIMEOUT_S)
                failures = 0
            except JanusError as exc:
                # Janus's HTTP transport answers a poll of a session it does not know
                # (it restarted, or timed it out) with 404.
                if exc.code in (NO_SUCH_SESSION, HTTP_NOT_FOUND):
                    self._lose()
                    return
                failures += 1
                if failures in (1, 10):
                    log.warning("Janus long poll failed", extra={"error": str(exc)})
                await asyncio.sleep(min(0.1 * failures, 2.0))
                continue
            if _error_code(reply) == NO_SUCH_SESSION:
                self._lose()
                return
            for event in reply if isinstance(reply, list) else [reply]:
                self._deliver(event)

    def _deliver(self, event: Any) -> None:
        if not isinstance(event, dict) or event.get("janus") in ("keepalive", "ack"):
            return
        tx = event.get("transaction")
        waiting = self._waiting.get(tx) if isinstance(tx, str) else None
        if waiting is not None and not waiting.done():
            waiting.set_result(event)
            return
        queue = self._events.get(event.get("sender", 0))
        if queue is not None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)
        if event.get("janus") == "timeout":
            log.warning("Janus timed out a session", extra={"session": self.id})
            self._lose()

    def _lose(self) -> None:
        if not self.lost.is_set():
            log.warning("Janus session lost", extra={"session": self.id})
            self.lost.set()
            for waiting in self._waiting.values():
                if not waiting.done():
                    waiting.set_exception(JanusError("the Janus session is gone", NO_SUCH_SESSION))

    async def destroy(self) -> None:
        """Ends the session (its handles go with it in Janus) and the long poll."""
        if self.closed:
            return
        self.closed = True
        try:
            await self.client.post(f"/{self.id}", {"janus": "destroy"}, "destroy session")
        finally:
            if self._poll is not None:
                self._poll.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._poll


@dataclass(frozen=True)
class RtpJoin:
    """A plain-RTP participant: its id, and where Janus takes its RTP."""

    participant: str  # string_ids: Janus's ids are strings
    ip: str
    port: int
    payload_type: int


_ids = itertools.count(1)


class PluginHandle:
    """A handle on one of Janus's plugins: its requests, and the answer to an offer."""

    PLUGIN = ""

    def __init__(self, session: JanusSession, handle: int, admin_key: str) -> None:
        self.session = session
        self.handle = handle
        self.admin_key = admin_key

    @classmethod
    async def attach(cls, session: JanusSession, admin_key: str) -> Self:
        return cls(session, await session.attach(cls.PLUGIN), admin_key)

    async def _request(self, body: Json, jsep: Json | None = None) -> tuple[Json, Json | None]:
        return await self.session.message(self.handle, body, jsep)

    async def _answer(self, jsep: Json | None, what: str) -> str:
        """Janus's answer SDP: in the reply, or in an event of its own."""
        while jsep is None:
            event = await self.session.next_event(self.handle)
            jsep = event.get("jsep")
        if jsep.get("type") != "answer" or not jsep.get("sdp"):
            raise JanusError(f"{what}: Janus's reply has no answer")
        return str(jsep["sdp"])

    async def detach(self) -> None:
        await self.session.detach(self.handle)


class AudioBridge(PluginHandle):
    """One AudioBridge handle: room management, and (once joined) one participant."""

    PLUGIN = AUDIOBRIDGE

    def __init__(self, session: JanusSession, handle: int, admin_key: str) -> None:
        super().__init__(session, handle, admin_key)
        self.participant: str | None = None

    # ----- rooms ---------------------------------------------------------------------

    async def create_room(
        self,
        room: str,
        *,
        sampling_rate: int = 16000,
        prebuffer: int = 3,
        allow_rtp_participants: bool = True,
        groups: list[str] | None = None,
        pin: str = "",
    ) -> None:
        body: Json = {
            "request": "create",
            "room": room,
            "admin_key": self.admin_key,
            "is_private": True,
            "permanent": False,
            "sampling_rate": sampling_rate,
            "default_prebuffering": prebuffer,
            "allow_rtp_participants": allow_rtp_participants,
            "audiolevel_event": False,
        }
        if groups:
            body["groups"] = groups
        if pin:
            body["pin"] = pin
        await self._request(body)

    async def destroy_room(self, room: str) -> None:
        await self._request(
            {"request": "destroy", "room": room, "admin_key": self.admin_key, "permanent": False}
        )

    async def list_rooms(self) -> list[Json]:
        data, _ = await self._request({"request": "list", "admin_key": self.admin_key})
        return list(data.get("list", []))

    async def rtp_forward(
        self, room: str, host: str, port: int, *, group: str = "", codec: str = "pcmu"
    ) -> str:
        """Send the room's mix (of `group` alone, if given) to host:port as plain RTP,
        20 ms packets, whenever anyone is in the room; the forwarder's id."""
        body: Json = {
            "request": "rtp_forward",
            "room": room,
            "admin_key": self.admin_key,
            "host": host,
            "port": port,
            "codec": codec,
            "ptype": {"pcmu": 0, "pcma": 8}.get(codec, 111),
        }
        if group:
            body["group"] = group
        data, _ = await self._request(body)
        return str(data["stream_id"])

    async def list_participants(self, room: str) -> list[Json]:
        data, _ = await self._request({"request": "listparticipants", "room": room})
        return list(data.get("participants", []))

    # ----- this handle's participant -------------------------------------------------

    async def join_rtp(
        self,
        room: str,
        ip: str,
        port: int,
        *,
        codec: str = "pcmu",
        display: str = "",
        muted: bool = False,
        pin: str = "",
        group: str = "",
    ) -> RtpJoin:
        """Join as a plain-RTP participant sending from and receiving at ip:port
        (Janus mixes RTP only from exactly there: symmetric RTP). `group`: the room's
        forwarding group, required in a room that has groups."""
        payload_type = {"pcmu": 0, "pcma": 8}.get(codec, 111)
        data, _ = await self._request(
            {
                "request": "join",
                "room": room,
                "display": display or f"rtp-{next(_ids)}",
                "codec": codec,
                "muted": muted,
                "rtp": {"ip": ip, "port": port, "payload_type": payload_type},
                **({"pin": pin} if pin else {}),
                **({"group": group} if group else {}),
            }
        )
        rtp = data.get("rtp") or {}
        if not rtp.get("port"):
            raise JanusError("join: Janus gave no RTP address for the participant")
        self.participant = str(data["id"])
        return RtpJoin(self.participant, str(rtp["ip"]), int(rtp["port"]), payload_type)

    async def join_webrtc(
        self,
        room: str,
        offer_sdp: str,
        *,
        codec: str = "opus",
        display: str = "",
        muted: bool = False,
        pin: str = "",
        group: str = "",
    ) -> str:
        """Join with a complete WebRTC offer (no trickle); returns Janus's answer SDP.
        codec: opus, pcmu or pcma; the offer must carry it."""
        data, jsep = await self._request(
            {
                "request": "join",
                "room": room,
                "display": display or f"webrtc-{next(_ids)}",
                "codec": codec,
                "muted": muted,
                **({"pin": pin} if pin else {}),
                **({"group": group} if group else {}),
            },
            {"type": "offer", "sdp": offer_sdp},
        )
        self.participant = str(data["id"]) if "id" in data else None
        return await self._answer(jsep, "join")

    async def configure(self, *, muted: bool) -> None:
        await self._request({"request": "configure", "muted": muted})

    async def changeroom(
        self, room: str, *, display: str = "", muted: bool = False, pin: str = "", group: str = ""
    ) -> None:
        """This handle's participant moves to `room` (no new negotiation)."""
        body: Json = {"request": "changeroom", "room": room, "muted": muted}
        if display:
            body["display"] = display
        if pin:
            body["pin"] = pin
        if group:
            body["group"] = group
        await self._request(body)

    async def play_file(
        self, room: str, file_id: str, filename: str, *, group: str = "", loop: bool = True
    ) -> None:
        """Play an Ogg Opus file into the room, looped until `stop_file`, or once (in a
        room with groups, as one of them)."""
        body: Json = {
            "request": "play_file",
            "room": room,
            "admin_key": self.admin_key,
            "file_id": file_id,
            "filename": filename,
            "loop": loop,
        }
        if group:
            body["group"] = group
        await self._request(body)

    async def stop_file(self, room: str, file_id: str) -> None:
        await self._request(
            {"request": "stop_file", "room": room, "admin_key": self.admin_key, "file_id": file_id}
        )

    async def leave(self) -> None:
        await self._request({"request": "leave"})
        self.participant = None


# VideoRoom's error codes lawline acts on.
VIDEO_NO_SUCH_ROOM = 426
VIDEO_ROOM_EXISTS = 427


@dataclass(frozen=True)
class VideoStream:
    """One m-line of a subscription: its mid, and whose video it carries."""

    mid: str
    feed: str  # the publisher's id (string_ids: lawline names feeds by seat)
    active: bool


def video_streams(data: Json) -> list[VideoStream]:
    """The subscription's layout from an `attached` or `updated` event."""
    return [
        VideoStream(str(s.get("mid", "")), str(s.get("feed_id", "")), bool(s.get("active", True)))
        for s in data.get("streams") or []
        if isinstance(s, dict) and s.get("type") == "video" and s.get("feed_id") is not None
    ]


class VideoRoom(PluginHandle):
    """One VideoRoom handle: room management, or one publisher, or one (multistream)
    subscriber, which takes any number of publishers' videos on one PeerConnection."""

    PLUGIN = VIDEOROOM

    async def create_room(
        self, room: str, *, pin: str, publishers: int, bitrate: int, codec: str = "vp8"
    ) -> None:
        await self._request(
            {
                "request": "create",
                "room": room,
                "admin_key": self.admin_key,
                "is_private": True,
                "permanent": False,
                "pin": pin,
                "secret": pin,  # destroying it takes what joining does
                "publishers": publishers,
                "bitrate": bitrate,
                "bitrate_cap": True,
                "fir_freq": 5,  # a keyframe every 5 s at least: a new subscriber sees soon
                "videocodec": codec,
                "notify_joining": False,
            }
        )

    async def destroy_room(self, room: str, pin: str) -> None:
        await self._request({"request": "destroy", "room": room, "secret": pin, "permanent": False})

    async def list_rooms(self) -> list[Json]:
        data, _ = await self._request({"request": "list", "admin_key": self.admin_key})
        return list(data.get("list", []))

    async def publish(self, room: str, feed: str, offer_sdp: str, *, display: str, pin: str) -> str:
        """Publish the browser's camera (its complete offer) as `feed`; Janus's answer."""
        _, jsep = await self._request(
            {
                "request": "joinandconfigure",
                "room": room,
                "ptype": "publisher",
                "id": feed,
                "display": display,
                "pin": pin,
            },
            {"type": "offer", "sdp": offer_sdp},
        )
        return await self._answer(jsep, "publish")

    async def subscribe(
        self, room: str, feeds: list[str], *, pin: str
    ) -> tuple[str, list[VideoStream]]:
        """A subscription to these feeds' videos: Janus's offer and its layout."""
        data, jsep = await self._request(
            {
                "request": "join",
                "room": room,
                "ptype": "subscriber",
                "pin": pin,
                "streams": [{"feed": f} for f in feeds],
            }
        )
        if jsep is None or jsep.get("type") != "offer":
            raise JanusError("subscribe: Janus's reply has no offer")
        return str(jsep["sdp"]), video_streams(data)

    async def update(
        self, subscribe: list[str], unsubscribe: list[str]
    ) -> tuple[str, list[VideoStream]] | None:
        """Feeds added to and taken from the subscription: Janus's new offer and the
        layout, or None when Janus will send its offer later (as an event)."""
        body: Json = {"request": "update"}
        if subscribe:
            body["subscribe"] = [{"feed": f} for f in subscribe]
        if unsubscribe:
            body["unsubscribe"] = [{"feed": f} for f in unsubscribe]
        data, jsep = await self._request(body)
        if jsep is None or jsep.get("type") != "offer":
            return None
        return str(jsep["sdp"]), video_streams(data)

    async def start(self, answer_sdp: str) -> None:
        """The browser's answer to the subscription's latest offer."""
        await self._request({"request": "start"}, {"type": "answer", "sdp": answer_sdp})
