"""Where a call's media goes while a lawyer has it (design B, media.steer_calls): steered
to its room's caller leg, or back at the worker's own stream; one change at a time.

The session says what it wants (`want(bridge)`: the caller talks to the lawyer in that
bridge's room; `want(None)`: the worker plays to the caller: hold music, a transfer's
wait, the survey), and passes on the call's events as they come (`caller_media`,
`steer_failed`, `media_back`). One task moves the call:

- to a room: the room's caller leg joins at the caller's own RTP address, then the call
  is steered (sip.GatewayCall.steer_media: quieted, then steered by the front) to where
  Janus takes that leg's RTP; done when the caller's answer comes;
- back: the caller's leg leaves the room first (Janus then sends the caller nothing, so
  it cannot latch onto the room), then the call is unsteered; done when the call's own
  stream is up again;
- Janus remade the room (the leg has a new port), or the caller moved its RTP (its own
  re-INVITE): the leg joins again and the call is steered again.

A steer refused (or one that cannot be asked: no address for the caller, a caller
whose RTP does not come from its SDP's address, as behind a NAT, a Janus address the
front would not take) leaves the call on design A's relay for good
(`refused`): the bridge joins its relay socket instead, and the session connects the
relay port once the call's own stream is back (`on_refused`, and on_media_active).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pjsua2 as pj

from lawline.media.janus_client import JanusError
from lawline.telephony.sip import GatewayCall
from lawline.telephony.steer import RtpAddress
from lawline.telephony.steered_bridge import SteeredBridge

log = logging.getLogger(__name__)

ANSWER_S = 40.0  # a steer's two re-INVITEs; pjsua gives up on one after 32 s (Timer B)
BACK_S = 10.0  # the call's own stream back after an unsteer
RETRY_S = 0.2  # pjsua refuses a re-INVITE while another offer is in progress
TRIES = 25
MAX_STEPS = 8  # changes in one go: a caller that keeps moving its RTP is not followed


class CallSteering:
    def __init__(self, call: GatewayCall, on_refused: Callable[[], None]) -> None:
        self.call = call
        self.on_refused = on_refused
        self.wanted: SteeredBridge | None = None
        # The bridge whose room the call is steered to (or being steered to).
        self.steered: SteeredBridge | None = None
        self.refused = False
        # The caller's RTP came from where its SDP said (checked before the first steer).
        self._reachable = False
        self._caller: RtpAddress | None = None  # where the room's caller leg sends
        self._target: RtpAddress | None = None  # where the call is steered to
        self._answer: asyncio.Future[RtpAddress | None] | None = None
        self._back: asyncio.Future[None] | None = None
        self._kick = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def engaged(self) -> bool:
        """The call's media is away from the worker's stream, or on its way back."""
        return (
            self.steered is not None or self._back is not None or self.call.steered_to is not None
        )

    def want(self, bridge: SteeredBridge | None) -> None:
        if bridge is not None and self.wanted is not bridge:
            bridge.moved_to = self._kick.set  # Janus remade its room: steer again
        self.wanted = bridge
        self._kick.set()

    # ----- the call's events (from the session) --------------------------------------------

    def caller_media(self, address: RtpAddress) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(address)
        else:
            self._kick.set()  # the caller's own re-INVITE: its leg may have to follow

    def steer_failed(self, status: int) -> None:
        self.refused = True
        log.warning("steer refused: the worker relays this call", extra={"status": status})
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(None)
        self._kick.set()

    def media_back(self) -> None:
        if self._back is not None and not self._back.done():
            self._back.set_result(None)

    def stop(self) -> None:
        """The call is gone (or handed over): nothing more to move."""
        self._task.cancel()
        for bridge in (self.steered, self.wanted):
            if bridge is not None:
                bridge.released.set()
        self.steered = self.wanted = None

    # ----- moving the call ---------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            try:
                await self._converge()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("steering the call's media failed")

    async def _converge(self) -> None:
        for _ in range(MAX_STEPS):
            want = None if self.refused else self.wanted
            current = self.steered
            if current is not None and current is not want:
                await self._back_to_worker(current)
                continue
            if want is None:
                return
            caller, codec = self.call.caller_address(), self.call.g711_codec()
            if caller is None or codec is None:
                await self._refuse(want, "no RTP address or no G.711 codec for the caller")
                return
            if current is None and not self._reachable:
                why = self._unreachable()
                if why is not None:
                    await self._refuse(want, why)
                    return
                self._reachable = True
            if current is None or caller != self._caller:
                await self._join_and_steer(want, caller, codec)
            elif want.joined is not None and self._target != self._janus_side(want):
                await self._steer(want)  # Janus remade the room: the leg's new port
            else:
                return
        log.warning("steering gave up following the caller's RTP for now")

    def _unreachable(self) -> str | None:
        """Why the room's leg could not reach the caller, or None. A phone behind a NAT
        sends its RTP from another address than its SDP's: the worker's stream follows
        where the RTP comes from (pjmedia latches onto it), a room's plain-RTP leg sends
        only where it is told. So a call is steered only once its RTP has come from
        where its SDP says (the caller's network does not change within the call)."""
        heard = self.call.rtp_source()
        if heard is None:
            return "no RTP from the caller yet"
        said = self.call.caller_rtp
        if said is not None and said != heard:
            return "the caller's RTP comes from another address than its SDP's (a NAT)"
        return None

    @staticmethod
    def _janus_side(bridge: SteeredBridge) -> RtpAddress | None:
        joined = bridge.joined
        if joined is None:
            return None
        try:
            return RtpAddress.checked(joined.ip, joined.port)
        except ValueError:
            return None

    async def _join_and_steer(self, bridge: SteeredBridge, caller: RtpAddress, codec: str) -> None:
        self.steered = bridge
        bridge.released.clear()
        self._caller, self._target = caller, None
        try:
            await bridge.join_caller(caller, codec)
        except JanusError as exc:
            # Janus is away: the room's restore joins the leg and moves the bridge.
            log.warning("caller leg not joined", extra={"room": bridge.room, "error": str(exc)})
            return
        await self._steer(bridge)

    async def _steer(self, bridge: SteeredBridge) -> None:
        target = self._janus_side(bridge)
        if target is None:
            await self._refuse(bridge, "the media server's RTP address is not one to steer to")
            return
        loop = asyncio.get_running_loop()
        self._answer = answer = loop.create_future()
        try:
            if not await self._sent(lambda: self.call.steer_media(target)):
                await self._refuse(bridge, "the steer could not be sent")
                return
            self._target = target
            async with asyncio.timeout(ANSWER_S):
                address = await answer
        except TimeoutError:
            address = None
        finally:
            self._answer = None
        if address is None:
            await self._refuse(bridge, "the steer was refused")
            return
        log.info("call steered to its room", extra={"room": bridge.room, "port": target.port})
        if address != self._caller:
            log.info("the caller answered the steer from another RTP address: joined again")

    async def _back_to_worker(self, bridge: SteeredBridge) -> None:
        # The room stops sending to the caller before the caller is pointed anywhere.
        await bridge.leave_caller()
        self.steered = None
        self._caller = self._target = None
        if self.call.steered_to is not None:
            self._back = back = asyncio.get_running_loop().create_future()
            try:
                if await self._sent(self.call.unsteer_media):
                    async with asyncio.timeout(BACK_S):
                        await back
                else:
                    log.error("the call could not be steered back to the worker")
            except TimeoutError:
                log.warning("the call's own stream did not come back in time")
            finally:
                self._back = None
            log.info("call steered back to the worker", extra={"room": bridge.room})
        bridge.released.set()

    async def _sent(self, reinvite: Callable[[], None]) -> bool:
        """Send a re-INVITE, waiting while pjsua has another offer in progress."""
        for _ in range(TRIES):
            try:
                reinvite()
                return True
            except pj.Error:
                await asyncio.sleep(RETRY_S)
        return False

    async def _refuse(self, bridge: SteeredBridge, why: str) -> None:
        """Design A's relay for the rest of the call."""
        if not self.refused:
            log.warning("call not steered: the worker relays it", extra={"why": why})
        self.refused = True
        await bridge.leave_caller()  # never heard from the caller: it sent nothing
        if self.steered is bridge:
            self.steered = None
        self._caller = self._target = None
        bridge.released.set()
        bridge.relay()
        self.on_refused()
