"""A telephony worker process: one pjsua2 user agent answering 12348 calls.

The asyncio loop drives pjsua2 (`libHandleEvents` every few milliseconds, all
SIP callbacks on this thread) and follows the queue's event stream, so a call's
session hears when a lawyer answers or ends its contact. A call talking to a
lawyer has a room on the media server (`bridge.py`, media/rooms.py), which the
lawyer's browser joins through its web process. The worker also serves the web
process's requests about its calls (`bridge_rpc.py`: hold). It is the host of
both (the Protocols in `host.py`); the lines it holds are in Redis (`lines.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pjsua2 as pj
from redis.asyncio import Redis

from lawline.config import Settings
from lawline.media.access import media_access
from lawline.media.rooms import ConversationRooms
from lawline.phone_numbers import mask_number, normalise_number
from lawline.queue.model import Contact
from lawline.queue.service import QueueService
from lawline.queue.skills import Channel
from lawline.queue.store import Event, QueueStore
from lawline.redis_client import connect_redis
from lawline.telephony.bridge import Bridge
from lawline.telephony.bridge_rpc import serve_requests
from lawline.telephony.bridge_wire import blpop_one
from lawline.telephony.front_trust import front_secret, vouched
from lawline.telephony.keys import TelephonyKeys
from lawline.telephony.lines import HeldLines
from lawline.telephony.party_call import PartyCall, expired, parse_dial
from lawline.telephony.party_wire import PartyDial, PartyEvent, find_room
from lawline.telephony.prompts import resolve
from lawline.telephony.session import CallSession
from lawline.telephony.sip import (
    MAX_CALLS,
    Account,
    CallEvents,
    GatewayCall,
    MediaGrace,
    Player,
    SipConfig,
    account_config,
    create_endpoint,
    prompt_player,
)
from lawline.telephony.sip_message import dialled_user
from lawline.telephony.steer import sdp_audio_address
from lawline.telephony.steered_bridge import SteeredBridge
from lawline.transcripts.runtime import Transcription

if TYPE_CHECKING:
    from lawline.transcripts.live import LiveTranscript

log = logging.getLogger(__name__)

# pjsua runs in this loop. With calls it is polled every PUMP_S, so SIP, keys and
# prompt ends are handled within 10 ms while the loop's own I/O (queue events, the
# media server's replies) is taken at once. Polling every 5 ms cost twice the wakeups
# (0.7 % of a core per call on the bridge bench) and bought nothing a caller hears.
# Without calls, the loop waits in pjsua's own poll for up to IDLE_POLL_MS: a new
# INVITE is taken the moment it arrives, and the dozens of idle workers a node needs
# for 100 calls do not burn a core polling.
PUMP_S = 0.010
IDLE_POLL_MS = 20
LINE_CHECK_S = 5.0


class TelephonyWorker:
    """Host of its calls' sessions (CallHost) and of the bridge's requests (BridgeHost)."""

    def __init__(self, settings: Settings, redis_url: str, sip: SipConfig, name: str) -> None:
        self.settings = settings
        self.redis_url = redis_url
        self.sip = sip
        self.name = name
        self.voicemail_dir = settings.data_dir / "voicemail"
        self.loop = asyncio.get_event_loop()
        self.queue: QueueService
        self.redis: Redis
        self.lines: HeldLines
        self.sessions: dict[GatewayCall, CallSession] = {}
        # Mediation parties' phones this worker dialled, by leg (telephony/party_call.py).
        self.parties: dict[str, PartyCall] = {}
        self._by_contact: dict[str, CallSession] = {}
        self._rejected: set[GatewayCall] = set()
        self._dialling: set[asyncio.Task[None]] = set()
        # Line-key writes (the last per contact, so its delete comes after it) and
        # bridges being closed: shutdown waits for both.
        self._line_ops: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.media_grace = MediaGrace(self.loop)
        self._ep: pj.Endpoint | None = None
        self._account: Account | None = None
        # Behind the front only: its signature is what the worker trusts in an INVITE.
        self._front_secret = front_secret(settings) if settings.telephony.front.enabled else None
        self.transcription: Transcription
        self.rooms = ConversationRooms(media_access(settings))

    # ----- what sessions use (CallHost) ---------------------------------------------

    def prompt(self, prompt_id: str) -> Path:
        tel = self.settings.telephony
        return resolve(prompt_id, tel.prompts_dir, self.settings.built_prompts_dir)

    def player(self, files: list[Path], repeat: bool, on_end: Callable[[], None]) -> Player:
        return prompt_player(self.loop, files, repeat, on_end)

    def hotline_open(self) -> bool:
        return self.queue.hotline_open()

    def track(self, contact_id: str, session: CallSession) -> asyncio.Task[None]:
        """Follow this contact; the task sets its line key (await it before the contact
        is entered, so a lawyer who accepts finds the line)."""
        self._by_contact[contact_id] = session
        # The web process finds the worker holding a call here, to send the browser's offer.
        task = self.in_background(self.lines.hold(contact_id))
        self._line_ops[contact_id] = task
        return task

    def forget(self, session: CallSession) -> None:
        # Dropping the last reference releases the pjsua2 Call, after DISCONNECTED.
        self.sessions.pop(session.call, None)
        if session.contact_id is not None:
            self._by_contact.pop(session.contact_id, None)
            set_op = self._line_ops.pop(session.contact_id, None)
            self.in_background(self._clear_line(session.contact_id, set_op))

    async def _clear_line(self, contact_id: str, set_op: asyncio.Task[None] | None) -> None:
        if set_op is not None:
            await asyncio.gather(set_op, return_exceptions=True)
        await self.lines.let_go(contact_id)

    def start_transcript(self, contact_id: str, language: str) -> LiveTranscript:
        return self.transcription.start(contact_id, language=language)

    # ----- what the bridge's requests use (BridgeHost; close_bridge sessions too) --------

    def party_call(self, leg: str) -> PartyCall | None:
        party = self.parties.get(leg)
        return None if party is None or party.ended else party

    async def find_room(self, number: str, pin: str, caller: str) -> PartyDial | None:
        keys = TelephonyKeys(self.settings.redis_prefix)
        return await find_room(self.redis, keys, number, pin, caller)

    def enter_room(self, call: GatewayCall, dial: PartyDial) -> None:
        session = self.sessions.pop(call, None)
        if session is None or dial.leg in self.parties:
            return
        party = PartyCall(self, call, dial, dialled_in=True)
        self.parties[dial.leg] = party
        log.info("caller entered a mediation room's code", extra={"leg": dial.leg})
        party.enter()

    def forget_party(self, party: PartyCall) -> None:
        if self.parties.get(party.leg) is party:
            del self.parties[party.leg]

    def session_for(self, contact_id: str) -> CallSession | None:
        session = self._by_contact.get(contact_id)
        return None if session is None or session.ended else session

    def open_bridge(self, room: str, steered: bool = False) -> Bridge:
        if steered:
            return SteeredBridge(self.rooms, room, self.settings.media.rtp_host)
        return Bridge(self.rooms, room, self.settings.media.rtp_host)

    def close_bridge(self, bridge: Bridge, call_audio: pj.AudioMedia | None) -> None:
        """Disconnect a bridge from its call now; its port goes to MediaGrace after its room
        has been destroyed."""
        bridge.disconnect(call_audio)
        self.in_background(self._close_bridge(bridge))

    async def _close_bridge(self, bridge: Bridge) -> None:
        await bridge.close()
        self.media_grace.retire(bridge.port, None)

    def in_background(self, op: Coroutine[Any, Any, Any]) -> asyncio.Task[None]:
        async def logged() -> None:
            try:
                await op
            except Exception:
                log.exception("background operation failed")

        task = self.loop.create_task(logged())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # ----- running ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self.loop = asyncio.get_running_loop()
        self.media_grace = MediaGrace(self.loop)
        self.voicemail_dir.mkdir(parents=True, exist_ok=True)
        redis = self.redis = connect_redis(self.redis_url)
        listen = connect_redis(self.redis_url)  # BLPOP holds its connection
        dials = connect_redis(self.redis_url)  # and so does the parties' dial list
        self.queue = QueueService(QueueStore(redis, self.settings.redis_prefix), self.settings)
        await self.queue.start(route=False)
        self.lines = HeldLines(redis, self.settings.redis_prefix, self.name)
        await self.lines.release_lost(self.queue)
        self.transcription = Transcription(self.settings, self.queue.store)
        self._ep = create_endpoint(self.sip)
        self._account = Account(self._incoming)
        self._account.create(account_config(self.sip, self.settings.service_numbers[0]))
        log.info("telephony worker listening", extra={"sip": f"{self.sip.host}:{self.sip.port}"})
        tasks = [
            asyncio.create_task(self._pump(stop)),
            asyncio.create_task(self._follow_contacts()),
            asyncio.create_task(self._check_lines()),
            asyncio.create_task(serve_requests(self, listen)),
            asyncio.create_task(self.rooms.run()),
            asyncio.create_task(self._take_party_dials(dials)),
        ]
        try:
            await stop.wait()
        finally:
            tasks += self._dialling
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Their cancellation tracebacks hold frames: let go before pjsua goes.
            tasks.clear()
            await self._shutdown()
            await self.rooms.stop()
            await self.queue.stop()
            await listen.aclose()
            await dials.aclose()
            await redis.aclose()

    async def _pump(self, stop: asyncio.Event) -> None:
        assert self._ep is not None
        while not stop.is_set():
            if self.lines_in_use():
                self._ep.libHandleEvents(0)
                await asyncio.sleep(PUMP_S)
            else:
                # The loop's other work (queue events, bridge requests) waits this long
                # at most: nothing it does for an idle worker is that urgent.
                self._ep.libHandleEvents(IDLE_POLL_MS)
                await asyncio.sleep(0)

    async def _follow_contacts(self) -> None:
        async with self.queue.subscribe() as events:
            while True:
                self._dispatch(await events.get())

    # No session is kept in a local of the long-running loops above and below: a frame
    # holding one would keep its pjsua2 Call alive past libDestroy.
    def _dispatch(self, ev: Event) -> None:
        if ev.contact is None:
            return
        if ev.contact.id in self._by_contact:
            self._by_contact[ev.contact.id].on_contact(ev.contact, ev.type)
        elif (
            ev.type == "contact.answered"
            and ev.contact.callback
            and ev.contact.channel == Channel.VOICE
        ):
            task = self.loop.create_task(self._dial_back(ev.contact))
            self._dialling.add(task)
            task.add_done_callback(self._dialling.discard)

    # ----- callbacks: a lawyer accepted a caller who asked to be called back -----------

    def lines_in_use(self) -> int:
        return len(self.sessions) + len(self._rejected) + len(self.parties)

    async def _dial_back(self, contact: Contact) -> None:
        """Dial the caller back, if this worker wins the attempt (every worker sees it)."""
        tel = self.settings.telephony
        deadline = self.loop.time() + tel.dial_timeout_s
        while self.lines_in_use() >= MAX_CALLS and self.loop.time() < deadline:
            await asyncio.sleep(1)  # another worker with a free line may take it first
        if not await self.queue.store.claim_dialout(contact, self.name):
            return
        route = tel.trunk or contact.attrs.get("trunk", "")
        try:
            # It becomes the user part of the URI dialled: digits only, whoever stored it.
            number = normalise_number(contact.callback_number or contact.caller)
        except ValueError:
            self.count("undialable_callback_number")
            log.warning(
                "callback number is not a telephone number: not dialled",
                extra={"contact": contact.id},
            )
            await self.queue.callback_failed(contact.id, "not a telephone number")
            return
        if self.lines_in_use() >= MAX_CALLS or not route or not number or self._account is None:
            reason = "no free line" if route and number else "nowhere to dial"
            await self.queue.callback_failed(contact.id, reason)
            return
        self._place_callback(contact, f"sip:{number}@{route}")

    def _place_callback(self, contact: Contact, uri: str) -> None:
        assert self._account is not None
        call = GatewayCall(self._account, pj.PJSUA_INVALID_ID)
        session = CallSession(self, call, callback=contact)
        self.sessions[call] = session
        self.track(contact.id, session)
        if not session.dial(uri, self.settings.telephony.dial_timeout_s):
            call.events = CallEvents()
            self.forget(session)
            self.loop.create_task(self.queue.callback_failed(contact.id, "could not dial"))

    # ----- mediation parties: a web process asked for one to be dialled --------------

    async def _take_party_dials(self, dials: Redis) -> None:
        """Take a party to dial whenever this worker has a free line (and a trunk)."""
        key = TelephonyKeys(self.settings.redis_prefix).party_dials
        while True:
            if self.lines_in_use() >= MAX_CALLS or not self.settings.telephony.trunk:
                await asyncio.sleep(1)
                continue
            try:
                raw = await blpop_one(dials, key, 1)
            except Exception:  # Redis gone for longer than the client's retries
                log.exception("cannot read mediation dial requests; trying again")
                await asyncio.sleep(1)
                continue
            if raw is None:
                continue
            dial = parse_dial(raw)
            if dial is None:
                self.count("bad_party_dial")
            elif expired(dial):
                log.info("mediation dial request expired", extra={"leg": dial.leg})
            else:
                self._dial_party(dial)

    def _dial_party(self, dial: PartyDial) -> None:
        assert self._account is not None
        call = GatewayCall(self._account, pj.PJSUA_INVALID_ID)
        party = PartyCall(self, call, dial)
        self.parties[dial.leg] = party
        uri = f"sip:{dial.number}@{self.settings.telephony.trunk}"
        if not party.place(uri, self.settings.telephony.dial_timeout_s):
            call.events = CallEvents()
            party.ended = True
            del self.parties[dial.leg]
            failed = PartyEvent(
                dial.leg, dial.case_id, dial.who, self.name, "failed", "could not dial"
            )
            key = TelephonyKeys(self.settings.redis_prefix).party_events(dial.inbox)
            self.in_background(self.redis.lpush(key, failed.to_json()))

    async def _check_lines(self) -> None:
        while True:
            await asyncio.sleep(LINE_CHECK_S)
            self._check_all_lines()

    def _check_all_lines(self) -> None:
        for session in list(self.sessions.values()):
            session.check_line(LINE_CHECK_S, self.settings.telephony.rtp_timeout_s)

    def _end_all_bridges(self) -> None:
        # Its own frame: a session left in a local of _shutdown would outlive libDestroy.
        for session in list(self.sessions.values()):
            session.end_bridge()
            session.end_transcript()

    async def _shutdown(self) -> None:
        assert self._ep is not None
        # Rooms first, while their calls and ports still exist.
        self._end_all_bridges()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._ep.hangupAllCalls()
        for _ in range(100):  # let BYEs go out and DISCONNECTED callbacks run
            self._ep.libHandleEvents(10)
            if not self.sessions and not self.parties:
                break
            await asyncio.sleep(0.01)
        await asyncio.gather(*self._background, return_exceptions=True)
        self.sessions.clear()
        self.parties.clear()
        self._rejected.clear()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._line_ops.clear()
        self.media_grace.release_all()
        gc.collect()  # every Call and player released before the library goes
        self._account = None
        self._ep.libDestroy()
        self._ep = None

    # ----- incoming calls -----------------------------------------------------------

    def _incoming(self, call_id: int, invite: str) -> None:
        assert self._account is not None
        call = GatewayCall(self._account, call_id)
        info = call.getInfo()
        dialled = dialled_user(info.localUri)
        op = pj.CallOpParam()
        if dialled is None or dialled not in self.settings.service_numbers:
            # Not a number this hotline answers.
            op.statusCode = pj.PJSIP_SC_NOT_FOUND
            log.info(
                "rejected call to an unknown number",
                extra={"dialled": mask_number(dialled) if dialled else ""},
            )
            # Kept like any call until DISCONNECTED: a Call released earlier trips pjsua.
            self._rejected.add(call)
            call.events = _Release(self._rejected, call)
            call.hangup(op)
            return
        found = self._vouched(invite)
        origin, asserted = found or ({}, "")
        call.caller_rtp = sdp_audio_address(invite.partition("\r\n\r\n")[2])
        session = CallSession(
            self, call, origin=origin, asserted=asserted, via_front=found is not None
        )
        self.sessions[call] = session
        op.statusCode = pj.PJSIP_SC_OK
        call.answer(op)

    def _vouched(self, invite: str) -> tuple[dict[str, str], str] | None:
        """What the front vouches for: the SIP terminal a call came from, or for a trunk's
        call its P-Asserted-Identity. None without the front, or unsigned."""
        if self._front_secret is None:
            return None
        found = vouched(self._front_secret, invite)
        if found is None:
            self.count("unsigned_invite")
            log.warning("INVITE not signed by the SIP front: its X-Lawline headers ignored")
        return found

    def count(self, what: str) -> None:
        """One more of something odd the workers saw, kept in Redis for /metrics."""
        self.in_background(self.redis.hincrby(self.queue.store.keys.telephony_counts, what, 1))


class _Release(CallEvents):
    """For a rejected call: let go of it once pjsua is done with it."""

    def __init__(self, holder: set[GatewayCall], call: GatewayCall) -> None:
        self.holder, self.call = holder, call

    def on_state(self, state: int, status: int) -> None:
        if state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.call.events = CallEvents()  # no cycle: released when discarded
            asyncio.get_running_loop().call_soon(self.holder.discard, self.call)


async def run_worker(settings: Settings, redis_url: str, sip: SipConfig, name: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(asyncio.CancelledError):
        await TelephonyWorker(settings, redis_url, sip, name).run(stop)
