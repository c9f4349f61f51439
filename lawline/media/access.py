"""How a lawline process reaches the media server: Janus's API, its secrets, room PINs.

Every process of a node (the telephony workers, the web processes) reads the secrets
`lawline serve` generated for Janus (data_dir/janus/secrets, 0600). A room's PIN is
derived from them, so a worker that creates a conversation's room and a web process
that joins a browser to it agree on it without passing it around; the rooms are
private (not listed) and browsers never see a PIN, only their own WebRTC answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from lawline.config import Settings
from lawline.media.janus_client import AudioBridge, JanusClient, JanusError
from lawline.media.janus_config import admin_url, api_url, janus_dir, janus_secrets
from lawline.media.settings import MediaSettings

log = logging.getLogger(__name__)

# AudioBridge's error codes lawline acts on.
NO_SUCH_ROOM = 485
ROOM_EXISTS = 486
NO_SUCH_USER = 488


@dataclass(frozen=True)
class MediaAccess:
    client: JanusClient
    admin_key: str  # creating and destroying rooms
    settings: MediaSettings
    _pin_key: bytes

    def room_pin(self, room: str) -> str:
        return hmac.new(self._pin_key, room.encode(), hashlib.sha256).hexdigest()[:32]


def media_access(settings: Settings, timeout_s: float = 5.0) -> MediaAccess:
    keys = janus_secrets(janus_dir(settings))
    media = settings.media
    client = JanusClient(
        api_url(media), keys.api_secret, admin_url(media), keys.admin_secret, timeout_s
    )
    pin_key = hashlib.sha256(b"lawline room pin\0" + keys.admin_key.encode()).digest()
    return MediaAccess(client, keys.admin_key, media, pin_key)


async def create_room(
    handle: AudioBridge,
    access: MediaAccess,
    room: str,
    *,
    rtp_participants: bool,
    groups: list[str] | None = None,
) -> str:
    """Create `room`, private with its PIN, at the node's rate and prebuffer, with
    forwarding groups if given (a mediation's sides: then everything that joins or
    plays in it names one); the PIN. One left by a process that died with it is
    nobody's any more: made afresh."""
    pin = access.room_pin(room)
    media = access.settings

    async def create() -> None:
        await handle.create_room(
            room,
            pin=pin,
            sampling_rate=media.sampling_rate,
            prebuffer=media.prebuffer,
            allow_rtp_participants=rtp_participants,
            groups=groups,
        )

    try:
        await create()
    except JanusError as exc:
        if exc.code != ROOM_EXISTS:
            raise
        await handle.destroy_room(room)
        await create()
    return pin


async def destroy_room(handle: AudioBridge, room: str) -> None:
    """Destroy `room` (Janus hangs up its participants); one already gone is fine, any
    other refusal is logged, never raised: the call or caucus is over either way."""
    try:
        await handle.destroy_room(room)
    except JanusError as exc:
        if exc.code != NO_SUCH_ROOM:
            log.warning("room not destroyed", extra={"room": room, "error": str(exc)})
