"""What a route or a websocket needs, by name and type: `queue: QueueDep`, `p: Anyone`.

`app.py` builds each shared object once (at start-up) and keeps it on `app.state`;
these dependencies are the only readers of `app.state`, so a route's signature says
everything it uses and a new one is added here, in one place. They take an
`HTTPConnection`, so HTTP routes and websockets share them.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from lawline.accounts.sessions import SessionStore
from lawline.accounts.throttle import PasswordGate, SignInThrottle
from lawline.config import Settings
from lawline.hints.service import StatuteHints
from lawline.media.legs import BrowserLegs
from lawline.media.standby import StandbyLegs
from lawline.queue.service import QueueService
from lawline.telephony.bridge_wire import BridgeClient
from lawline.transcripts.store import TranscriptStore
from lawline.video.tap import VideoTranscripts
from lawline.web.auth import Principal, Role, require
from lawline.web.hub import SocketHub
from lawline.web.live_feed import LiveFeed

# ----- the process's shared objects ------------------------------------------------------


def settings(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


def secret_key(conn: HTTPConnection) -> str:
    """The deployment's secret: signs service tokens, keys the audit trail's hashes."""
    return conn.app.state.secret


def queue_service(conn: HTTPConnection) -> QueueService:
    return conn.app.state.queue


def db_sessions(conn: HTTPConnection) -> sessionmaker[Session]:
    return conn.app.state.db


def session_store(conn: HTTPConnection) -> SessionStore:
    return conn.app.state.sessions


def sign_in_throttle(conn: HTTPConnection) -> SignInThrottle:
    return conn.app.state.sign_in_throttle


def password_gate(conn: HTTPConnection) -> PasswordGate:
    return conn.app.state.password_gate


def socket_hub(conn: HTTPConnection) -> SocketHub:
    return conn.app.state.hub


def transcript_store(conn: HTTPConnection) -> TranscriptStore:
    return conn.app.state.transcripts


def live_feed(conn: HTTPConnection) -> LiveFeed:
    return conn.app.state.live


def bridge_client(conn: HTTPConnection) -> BridgeClient:
    return conn.app.state.bridge


def browser_legs(conn: HTTPConnection) -> BrowserLegs:
    return conn.app.state.legs


def standby_legs(conn: HTTPConnection) -> StandbyLegs:
    return conn.app.state.standby


def video_transcripts(conn: HTTPConnection) -> VideoTranscripts:
    return conn.app.state.video_transcripts


def statute_hints(conn: HTTPConnection) -> StatuteHints:
    return conn.app.state.hints


def open_consoles(conn: HTTPConnection) -> Counter[str]:
    """Consoles open on this process, per lawyer (the last one closing pauses offers)."""
    return conn.app.state.open_consoles


SettingsDep = Annotated[Settings, Depends(settings)]
SecretDep = Annotated[str, Depends(secret_key)]
QueueDep = Annotated[QueueService, Depends(queue_service)]
DbDep = Annotated[sessionmaker[Session], Depends(db_sessions)]
SessionsDep = Annotated[SessionStore, Depends(session_store)]
ThrottleDep = Annotated[SignInThrottle, Depends(sign_in_throttle)]
PasswordGateDep = Annotated[PasswordGate, Depends(password_gate)]
HubDep = Annotated[SocketHub, Depends(socket_hub)]
TranscriptsDep = Annotated[TranscriptStore, Depends(transcript_store)]
LiveFeedDep = Annotated[LiveFeed, Depends(live_feed)]
BridgeDep = Annotated[BridgeClient, Depends(bridge_client)]
LegsDep = Annotated[BrowserLegs, Depends(browser_legs)]
StandbyDep = Annotated[StandbyLegs, Depends(standby_legs)]
VideoTranscriptsDep = Annotated[VideoTranscripts, Depends(video_transcripts)]
OpenConsolesDep = Annotated[Counter[str], Depends(open_consoles)]
HintsDep = Annotated[StatuteHints, Depends(statute_hints)]

# ----- who is asking (the role rules are in auth.py) -------------------------------------

Anyone = Annotated[Principal, Depends(require())]
Staff = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.ADMIN))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Gateway = Annotated[Principal, Depends(require(Role.GATEWAY, Role.ADMIN))]
StaffOrGateway = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.ADMIN, Role.GATEWAY))]
Scraper = Annotated[Principal, Depends(require(Role.SCRAPER, Role.ADMIN))]
