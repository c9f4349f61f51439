"""The worker's side of the call requests from the web process over Redis (hold).

The lawyer's browser never reaches the worker: it joins the conversation's room on the
media server through its web process (lawline/media/legs.py).

The contract (keys, kinds, replies) is in lawline/telephony/bridge_wire.py; what
this needs of its worker is BridgeHost (lawline/telephony/host.py). Each
request runs in its own task, so a slow one holds up no other call; a bad
request gets {"ok": false, "error"} and never stops the worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from redis.asyncio import Redis

from lawline.telephony.bridge_wire import HOLD, blpop_one, request_id_of, send_reply
from lawline.telephony.host import BridgeHost
from lawline.telephony.keys import TelephonyKeys
from lawline.telephony.party_wire import PARTY_END, PARTY_PEER, PARTY_REFUSED

log = logging.getLogger(__name__)

BLPOP_S = 1


class Refused(Exception):
    """A request this worker does not carry out; the message goes back as the error."""


async def serve_requests(worker: BridgeHost, listen: Redis) -> None:
    """BLPOP this worker's request list (on `listen`, a connection of its own) forever."""
    key = TelephonyKeys(worker.settings.redis_prefix).rpc(worker.name)
    running: set[asyncio.Task[None]] = set()
    try:
        while True:
            try:
                raw = await blpop_one(listen, key, BLPOP_S)
            except Exception:  # Redis gone for longer than the client's retries
                log.exception("cannot read bridge requests; trying again")
                await asyncio.sleep(BLPOP_S)
                continue
            if raw is not None:
                task = asyncio.create_task(_answer(worker, raw))
                running.add(task)
                task.add_done_callback(running.discard)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _answer(worker: BridgeHost, raw: str) -> None:
    request: object = None
    try:
        request = json.loads(raw)
        if not isinstance(request, dict) or not isinstance(request.get("id"), str):
            raise Refused("a request is a JSON object with a string id")
        reply: dict[str, Any] = {"ok": True, "error": "", **await _carry_out(worker, request)}
    except json.JSONDecodeError:
        reply = {"ok": False, "error": "the request is not JSON"}
    except Refused as exc:
        reply = {"ok": False, "error": str(exc)}
    except Exception as exc:
        log.exception("bridge request failed", extra={"request": raw[:200]})
        reply = {"ok": False, "error": f"failed: {exc}"}
    request_id = request_id_of(request, raw)
    if not request_id:
        log.warning("bridge request without an id ignored", extra={"bytes": len(raw)})
        return
    try:
        await send_reply(worker.redis, worker.settings.redis_prefix, request_id, reply)
    except Exception:
        log.exception("could not reply to a bridge request", extra={"id": request_id})


async def _carry_out(worker: BridgeHost, request: dict[str, Any]) -> dict[str, Any]:
    kind, contact_id = request.get("kind"), request.get("contact_id")
    if not isinstance(contact_id, str):
        raise Refused("contact_id missing")
    if kind == HOLD:
        _hold(worker, contact_id, request)
        return {}
    if kind in (PARTY_PEER, PARTY_REFUSED, PARTY_END):
        _party(worker, contact_id, kind, request)
        return {}
    raise Refused(f"unknown kind {kind!r}")


def _party(worker: BridgeHost, leg: str, kind: str, request: dict[str, Any]) -> None:
    """What the web process holding a mediation room says of a party's phone leg."""
    party = worker.party_call(leg)
    if party is None:
        raise Refused("this worker holds no such party call")
    if kind == PARTY_PEER:
        ip, port = request.get("ip"), request.get("port")
        if not isinstance(ip, str) or not 0 < len(ip) <= 45:
            raise Refused("party_peer needs ip: an address")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise Refused("party_peer needs port: 1-65535")
        try:
            party.room_took(ip, port)
        except RuntimeError as exc:
            raise Refused(str(exc)) from exc
    elif kind == PARTY_REFUSED:
        party.room_refused()
    else:
        reason = request.get("reason", "")
        party.end(reason[:100] if isinstance(reason, str) else "")


def _hold(worker: BridgeHost, contact_id: str, request: dict[str, Any]) -> None:
    on = request.get("on")
    if not isinstance(on, bool):
        raise Refused("hold needs on: true or false")
    session = worker.session_for(contact_id)
    if session is None:
        raise Refused("this worker holds no call for that contact")
    why = session.hold(on)
    if why:
        raise Refused(why)
