"""The browsers a web process has joined to conversation rooms on the media server.

A browser never talks to Janus's API: its console (or supervisor page) sends a
complete WebRTC offer over its websocket, the web process joins it to the room with
its own Janus session and sends back Janus's answer; media then flows between the
browser and Janus. Each leg belongs to an owner (a socket) and a room; a new offer
from the same owner to the same room replaces the old leg, and an owner's socket
closing lets go of all its legs, so a vanished browser leaves nothing on Janus.

When Janus restarts, this process's session and every leg are gone: each owner is
told (`on_lost`) so its browser can offer again; the rooms come back from their
telephony workers, and a join waits a little for a room not made yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from lawline.media.access import NO_SUCH_ROOM, MediaAccess, create_room, destroy_room
from lawline.media.janus_client import AudioBridge, JanusError, JanusSession, RtpJoin

log = logging.getLogger(__name__)

ROOM_WAIT_S = 3.0  # a join waits this long for a room being made (or remade)
ROOM_POLL_S = 0.1


class LegRefused(Exception):
    """The media server did not take the browser's offer (the message says why)."""


@dataclass
class Leg:
    owner: Hashable
    room: str
    handle: AudioBridge
    muted: bool


class BrowserLegs:
    def __init__(self, access: MediaAccess) -> None:
        self.access = access
        self._session: JanusSession | None = None
        self._session_lock = asyncio.Lock()
        self._legs: dict[tuple[Hashable, str], Leg] = {}
        # Told, per owner, which of its rooms it lost when Janus went away.
        self._on_lost: dict[Hashable, Callable[[str], None]] = {}
        self._watch: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._legs)

    def rooms_of(self, owner: Hashable) -> list[str]:
        return [room for (o, room) in self._legs if o == owner]

    async def join(
        self,
        owner: Hashable,
        room: str,
        offer_sdp: str,
        *,
        display: str,
        muted: bool = False,
        on_lost: Callable[[str], None] | None = None,
        group: str = "",
    ) -> str:
        """Join the owner's browser to `room` with its complete offer; Janus's answer SDP.
        Replaces the owner's earlier leg in that room. LegRefused if Janus would not.
        `group`: its forwarding group, in a room that has groups."""
        await self.leave(owner, room)
        if on_lost is not None:
            self._on_lost[owner] = on_lost
        pin = self.access.room_pin(room)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ROOM_WAIT_S
        while True:
            session = await self._current_session()
            handle = await AudioBridge.attach(session, self.access.admin_key)
            try:
                answer = await handle.join_webrtc(
                    room,
                    offer_sdp,
                    codec=self.access.settings.browser_codec,
                    display=display,
                    muted=muted,
                    pin=pin,
                    group=group,
                )
            except JanusError as exc:
                with contextlib.suppress(JanusError):
                    await handle.detach()
                if exc.code == NO_SUCH_ROOM and loop.time() < deadline:
                    await asyncio.sleep(ROOM_POLL_S)
                    continue
                raise LegRefused(
                    "通话房间不存在" if exc.code == NO_SUCH_ROOM else "媒体服务器拒绝了连接"
                ) from exc
            except BaseException:
                with contextlib.suppress(JanusError):
                    await handle.detach()
                raise
            self._legs[(owner, room)] = Leg(owner, room, handle, muted)
            return answer

    async def join_rtp(
        self,
        owner: Hashable,
        room: str,
        ip: str,
        port: int,
        *,
        display: str,
        muted: bool = False,
        on_lost: Callable[[str], None] | None = None,
        group: str = "",
    ) -> RtpJoin:
        """Join a telephony worker's plain-RTP leg (G.711 u-law from and to ip:port: a
        mediation party's phone) to `room` as the owner's leg; where Janus takes its
        RTP. The handle is this process's, so mute, move and leave work as for a browser."""
        await self.leave(owner, room)
        if on_lost is not None:
            self._on_lost[owner] = on_lost
        handle = await AudioBridge.attach(await self._current_session(), self.access.admin_key)
        try:
            joined = await handle.join_rtp(
                room,
                ip,
                port,
                display=display,
                muted=muted,
                pin=self.access.room_pin(room),
                group=group,
            )
        except JanusError as exc:
            with contextlib.suppress(JanusError):
                await handle.detach()
            log.warning("phone leg not joined", extra={"room": room, "error": str(exc)})
            raise LegRefused("媒体服务器拒绝了连接") from exc
        except BaseException:
            with contextlib.suppress(JanusError):
                await handle.detach()
            raise
        self._legs[(owner, room)] = Leg(owner, room, handle, muted)
        return joined

    async def open_room(
        self, room: str, groups: list[str] | None = None, rtp_participants: bool = False
    ) -> None:
        """Create a room of this process's own (a call's coach room, media/monitoring.py;
        a mediation's room, which takes phone legs: `rtp_participants`), private with its
        PIN; one left over (a process that died) is made afresh."""
        await self._once(
            "room not made",
            room,
            lambda h: create_room(
                h, self.access, room, rtp_participants=rtp_participants, groups=groups
            ),
        )

    async def close_room(self, room: str) -> None:
        """Destroy a room this process made (Janus hangs up its participants); this
        process's legs in it are let go first."""
        for owner, in_room in list(self._legs):
            if in_room == room:
                await self.leave(owner, room)
        handle = await AudioBridge.attach(await self._current_session(), self.access.admin_key)
        try:
            await destroy_room(handle, room)
        finally:
            with contextlib.suppress(JanusError):
                await handle.detach()

    async def move(
        self,
        owner: Hashable,
        room: str,
        to: str,
        *,
        display: str,
        group: str,
        muted: bool | None = None,
        wait_s: float = 0.0,
    ) -> None:
        """The owner's leg in `room` moves to the room `to` (its browser notices nothing:
        no new negotiation), muted as before unless `muted` says; waits up to `wait_s`
        for a room `to` being made. LegRefused if the leg is not there or Janus would not
        (the leg then stays where it was)."""
        leg = self._legs.get((owner, room))
        if leg is None:
            raise LegRefused("not in that room")
        mute = leg.muted if muted is None else muted
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            try:
                await leg.handle.changeroom(
                    to, display=display, muted=mute, pin=self.access.room_pin(to), group=group
                )
                break
            except JanusError as exc:
                if exc.code == NO_SUCH_ROOM and loop.time() < deadline:
                    await asyncio.sleep(ROOM_POLL_S)
                    continue
                log.warning("leg not moved", extra={"room": to, "error": str(exc)})
                raise LegRefused("媒体服务器拒绝了操作") from exc
        if self._legs.get((owner, room)) is leg:
            del self._legs[(owner, room)]
        leg.room, leg.muted = to, mute
        self._legs[(owner, to)] = leg

    async def play(
        self, room: str, sound: str, sound_id: str, *, group: str, loop: bool = False
    ) -> None:
        """Play an Ogg Opus file into `room` as `group` (a room with groups asks one):
        once, or looped until `stop_playing`."""
        await self._once(
            "sound not played",
            room,
            lambda h: h.play_file(room, sound_id, sound, group=group, loop=loop),
        )

    async def forward(self, room: str, group: str, host: str, port: int) -> None:
        """Forward `group`'s own mix in `room` to host:port (G.711 u-law RTP, 20 ms):
        a side's voices for the transcript. The forwarder goes with the room."""
        await self._once(
            "forwarder not made", room, lambda h: h.rtp_forward(room, host, port, group=group)
        )

    async def stop_playing(self, room: str, sound_id: str) -> None:
        await self._once("sound not stopped", room, lambda h: h.stop_file(room, sound_id))

    async def _once(
        self, failure: str, room: str, request: Callable[[AudioBridge], Awaitable[object]]
    ) -> None:
        """One request on a handle of its own (attached, then detached): LegRefused, and
        a log line saying what failed, if Janus refused it."""
        handle = await AudioBridge.attach(await self._current_session(), self.access.admin_key)
        try:
            await request(handle)
        except JanusError as exc:
            log.warning(failure, extra={"room": room, "error": str(exc)})
            raise LegRefused("媒体服务器拒绝了操作") from exc
        finally:
            with contextlib.suppress(JanusError):
                await handle.detach()

    def joined(self, owner: Hashable, room: str) -> bool:
        return (owner, room) in self._legs

    async def set_muted(self, owner: Hashable, room: str, muted: bool) -> None:
        leg = self._legs.get((owner, room))
        if leg is None:
            raise LegRefused("not in that room")
        try:
            await leg.handle.configure(muted=muted)
        except JanusError as exc:
            raise LegRefused("媒体服务器拒绝了操作") from exc
        leg.muted = muted

    async def leave(self, owner: Hashable, room: str | None = None) -> None:
        """Let go of the owner's leg in `room`, or of all its legs."""
        keys = [k for k in self._legs if k[0] == owner and (room is None or k[1] == room)]
        for key in keys:
            leg = self._legs.pop(key)
            with contextlib.suppress(JanusError):
                await leg.handle.detach()  # Janus hangs the PeerConnection up
        if room is None:
            self._on_lost.pop(owner, None)

    async def session(self) -> JanusSession:
        """This process's Janus session (made now if there is none, or it was lost)."""
        return await self._current_session()

    async def _current_session(self) -> JanusSession:
        async with self._session_lock:
            session = self._session
            if session is None or session.lost.is_set():
                try:
                    session = self._session = await self.access.client.session()
                except JanusError as exc:
                    raise LegRefused("媒体服务器暂时无法连接") from exc
                self._watch = asyncio.get_running_loop().create_task(self._watch_session(session))
            return session

    async def _watch_session(self, session: JanusSession) -> None:
        await session.lost.wait()
        lost = [k for k, leg in self._legs.items() if leg.handle.session is session]
        log.warning("media server lost this process's legs", extra={"legs": len(lost)})
        for owner, room in lost:
            del self._legs[(owner, room)]
            tell = self._on_lost.get(owner)
            if tell is not None:
                try:
                    tell(room)
                except Exception:
                    log.exception("could not tell an owner its leg was lost")

    async def stop(self) -> None:
        for owner, room in list(self._legs):
            await self.leave(owner, room)
        session, self._session = self._session, None
        if self._watch is not None:
            self._watch.cancel()
        if session is not None:
            with contextlib.suppress(JanusError):
                await session.destroy()
