"""The FastAPI application: routes, and the queue service running beside them."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

import lawline
from lawline.accounts.sessions import SessionStore
from lawline.accounts.throttle import PasswordGate, SignInThrottle
from lawline.cases.ingest import LedgerIngest
from lawline.config import Settings
from lawline.db import make_engine, session_factory, upgrade
from lawline.hints.service import StatuteHints
from lawline.media.access import media_access
from lawline.media.janus_config import janus_dir
from lawline.media.legs import BrowserLegs
from lawline.media.room_sounds import ensure_room_sound
from lawline.media.standby import StandbyLegs
from lawline.media.video_legs import VideoLegs
from lawline.mediation.live import LiveRooms
from lawline.mediation.phone_parties import PhoneParties
from lawline.mediation.service import keep_record
from lawline.quality.service import QualityReviewer
from lawline.queue.service import QueueService
from lawline.queue.store import QueueStore
from lawline.redis_client import connect_redis
from lawline.statutes.store import import_shipped_pack
from lawline.telephony.bridge_wire import BridgeClient
from lawline.transcripts.runtime import Transcription
from lawline.transcripts.store import TranscriptStore
from lawline.video.tap import VideoTranscripts
from lawline.web import (
    api,
    cases_api,
    console,
    hints_api,
    mediation_api,
    mediation_room,
    metrics,
    pages,
    quality_api,
    rules_api,
    session_api,
    terminal,
    terminals_api,
    transcripts,
)
from lawline.web.auth import load_or_create_secret
from lawline.web.db import in_transaction
from lawline.web.hub import SocketHub
from lawline.web.live_feed import LiveFeed
from lawline.web.mediation_hints import RoomHints
from lawline.web.security_headers import SecurityHeaders
from lawline.web.wallboard import Wallboard

STOP_TIMEOUT_S = 5.0  # background loops get this long to finish at shutdown


def _import_shipped_statutes(db: sessionmaker[Session]) -> None:
    with db() as session, session.begin():
        import_shipped_pack(session, datetime.now(UTC))


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 with where and why each value was refused, never the value itself: a body
    holds citizens' numbers, names and passwords, and a reply may be kept by a proxy."""
    assert isinstance(exc, RequestValidationError)
    detail = []
    for e in exc.errors():
        one = {"loc": e["loc"], "msg": e["msg"], "type": e["type"]}
        # The rule broken (min_length, max_length, the choices), for the pages' messages.
        ctx = {
            k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, (int, float, str, bool))
        }
        if ctx:
            one["ctx"] = ctx
        detail.append(one)
    return JSONResponse({"detail": detail}, status_code=422)


def create_app(settings: Settings, redis_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The schema first: a database from an older lawline is brought up to date.
        await asyncio.to_thread(upgrade, settings.database)
        engine = make_engine(settings.database)
        app.state.db = session_factory(engine)
        # The shipped statutes go into an empty knowledge base (first start).
        await asyncio.to_thread(_import_shipped_statutes, app.state.db)
        # Its index is built now in a thread (read back from disk when a process built it
        # before: hints/stored.py), not in the first hint's time; a hint asked for
        # meanwhile waits for it.
        app.state.hints = StatuteHints(app.state.db)
        indexing = asyncio.create_task(asyncio.to_thread(app.state.hints.warm), name="hints-index")
        redis = connect_redis(redis_url)
        app.state.sessions = SessionStore(
            redis, settings.redis_prefix, settings.accounts.session_ttl_s
        )
        app.state.sign_in_throttle = SignInThrottle(redis, settings.redis_prefix, settings.accounts)
        queue = QueueService(QueueStore(redis, settings.redis_prefix), settings)
        await queue.start()
        app.state.queue = queue
        app.state.bridge = BridgeClient(redis, settings.redis_prefix)
        app.state.legs = BrowserLegs(media_access(settings))
        app.state.standby = StandbyLegs(app.state.legs)
        listen = connect_redis(redis_url)  # BLPOP holds its connection
        phones = PhoneParties(redis, listen, settings.redis_prefix)
        transcription = Transcription(settings, queue.store)
        legs: BrowserLegs = app.state.legs
        video = (
            VideoLegs(legs.access, legs.session, settings.mediation.video_bitrate)
            if settings.mediation.video
            else None
        )

        async def keep(case_id: str, lines: list[dict[str, Any]], recordings: list[str]) -> None:
            now = datetime.now(UTC)

            def work(s: Session) -> None:
                keep_record(s, case_id, lines, recordings, now)

            await in_transaction(app.state.db, work, {})

        app.state.mediation_rooms = LiveRooms(
            app.state.legs,
            lambda name: ensure_room_sound(janus_dir(settings), name),
            announce=settings.media.announce_monitoring,
            phones=phones,
            transcription=transcription,
            keep_record=keep,
            record_host=settings.media.rtp_host,
            record_dir=settings.recordings_dir if settings.mediation.record_audio else None,
            hints=RoomHints(app.state.hints, app.state.db),
            video=video,
        )
        dialling = asyncio.create_task(
            phones.run(app.state.mediation_rooms.phone_event), name="mediation-phones"
        )
        app.state.transcripts = TranscriptStore(queue.store)
        app.state.live = LiveFeed(app.state.transcripts, redis)
        app.state.live.start()
        app.state.wallboard = Wallboard(queue, settings)
        app.state.wallboard.start()
        app.state.hub = SocketHub(redis, settings.redis_prefix, settings.sockets)
        await app.state.hub.start(queue)
        ledger = LedgerIngest(
            redis,
            queue.store.keys,
            app.state.db,
            app.state.transcripts,
            claim_idle_s=settings.cases.claim_idle_s,
        )
        app.state.ledger = ledger
        ingesting = asyncio.create_task(ledger.run(), name="ledger-ingest")
        app.state.video_transcripts = VideoTranscripts(queue, settings.webrtc, transcription)
        following = asyncio.create_task(app.state.video_transcripts.run(), name="video-taps")
        app.state.quality = QualityReviewer(app.state.db, settings.quality)
        reviewing = asyncio.create_task(
            app.state.quality.run() if settings.quality.enabled else asyncio.sleep(0),
            name="quality-reviews",
        )
        try:
            yield
        finally:
            following.cancel()
            reviewing.cancel()
            # A thread is not cancelled: the index is left to finish, before the engine goes.
            await asyncio.wait({following, reviewing, indexing}, timeout=STOP_TIMEOUT_S)
            await asyncio.wait_for(app.state.video_transcripts.stop(), STOP_TIMEOUT_S * 3)
            ledger.stop()
            ingesting.cancel()
            await asyncio.wait({ingesting}, timeout=STOP_TIMEOUT_S)
            await app.state.live.stop()
            await app.state.wallboard.stop()
            with contextlib.suppress(Exception):  # the media server may be gone already
                await asyncio.wait_for(app.state.mediation_rooms.stop(), STOP_TIMEOUT_S)
            dialling.cancel()
            await asyncio.wait({dialling}, timeout=STOP_TIMEOUT_S)
            await listen.aclose()
            with contextlib.suppress(Exception):  # the media server may be gone already
                await asyncio.wait_for(app.state.standby.stop(), STOP_TIMEOUT_S)
            await asyncio.wait_for(app.state.legs.stop(), STOP_TIMEOUT_S)
            await app.state.hub.stop()
            await queue.stop()
            await redis.aclose()
            engine.dispose()

    app = FastAPI(
        title="lawline",
        version=lawline.__version__,
        summary="12348 public legal service hotline: duty-lawyer queue API",
        lifespan=lifespan,
        # /docs is lawline's own page over vendored Swagger UI (pages.py): no CDN.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.state.settings = settings
    app.state.secret = load_or_create_secret(settings.secret_key, settings.data_dir)
    app.state.open_consoles = Counter()
    app.state.password_gate = PasswordGate(
        settings.accounts.concurrent_password_checks, settings.accounts.waiting_password_checks
    )
    app.include_router(api.router)
    app.include_router(session_api.router)
    app.include_router(console.router)
    app.include_router(terminal.router)
    app.include_router(terminals_api.router)
    app.include_router(transcripts.router)
    app.include_router(cases_api.router)
    app.include_router(mediation_api.router)
    app.include_router(mediation_room.router)
    app.include_router(hints_api.router)
    app.include_router(metrics.router)
    app.include_router(quality_api.router)
    app.include_router(rules_api.router)
    pages.install(app)
    return app
