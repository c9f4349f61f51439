"""aiortc peer connections with lawline's own ICE configuration.

aiortc asks stun.l.google.com when given no ICE servers, and aioice leaves
loopback out of its host candidates. Every lawline peer connection is made
here, with the configured STUN/TURN servers (none by default) and, when
`webrtc.host_addresses` is set, host candidates on those addresses only.
"""

from __future__ import annotations

from collections.abc import Callable

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from lawline.video.settings import WebRTCSettings

_every_interface: Callable[..., list[str]] = aioice.ice.get_host_addresses


def use_host_addresses(addresses: list[str]) -> None:
    """Offer host candidates on these addresses only; [] restores aioice's own choice.

    aioice's gatherer calls its module-level `get_host_addresses` each time it
    gathers, so replacing that one function is the smallest hook: no aioice or
    aiortc class is subclassed. It holds for the whole process, which is how
    lawline uses it: one process, one WebRTC configuration.
    """
    if not addresses:
        aioice.ice.get_host_addresses = _every_interface
        return
    chosen = list(addresses)

    def configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (use_ipv6 if ":" in a else use_ipv4)]

    aioice.ice.get_host_addresses = configured


def rtc_configuration(settings: WebRTCSettings) -> RTCConfiguration:
    # Always an explicit list, even empty: None would make aiortc add Google's STUN server.
    servers = [
        RTCIceServer(urls=s.urls, username=s.username or None, credential=s.credential or None)
        for s in settings.ice_servers
    ]
    return RTCConfiguration(iceServers=servers)


def create_peer_connection(settings: WebRTCSettings) -> RTCPeerConnection:
    use_host_addresses(settings.host_addresses)
    return RTCPeerConnection(rtc_configuration(settings))
