"""One SIP address for many workers: Kamailio in front of real telephony workers, as
`lawline serve` runs them, with SIPp and pjsua2 callers on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from lawline.db import make_engine, session_factory, upgrade
from lawline.telephony.front_accounts import TABLE, accounts_dir
from lawline.terminals.registry import enrol, revoke
from tests.front_helpers import Pool, routed, sip_pool, sipp, sipp_async
from tests.ports import free_sip_port
from tests.sip_helpers import CALLER, scenario
from tests.test_telephony import envelope

pytestmark = pytest.mark.skipif(
    shutil.which("sipp") is None or shutil.which("kamailio") is None,
    reason="SIPp and Kamailio are installed by scripts/setup.sh",
)

QUEUED = [("pause", 500), ("keys", "2"), ("pause", 9000), ("bye", None)]


async def lines(redis: Redis) -> dict[str, str]:
    """contact id -> the worker holding its call."""
    return {k.split(":")[-1]: await redis.get(k) for k in await redis.keys("ll:line:*")}


async def test_calls_spread_over_the_workers_and_the_call_beyond_capacity_gets_503(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    with sip_pool(tmp_path, clean_redis_url, prompts_dir, workers=2) as pool:
        full = sipp_async(
            tmp_path, pool, routed(scenario("queued", QUEUED)), "queued", calls=8, rate=8
        )
        for _ in range(300):
            if await redis.zcard("ll:waiting") == 8 or full.poll() is not None:
                break
            await asyncio.sleep(0.1)
        held = await lines(redis)
        assert await redis.zcard("ll:waiting") == 8, "eight callers queued through the front"
        # Call load: four calls on each worker, not eight on one.
        assert sorted(held.values()) == sorted(pool.worker_names() * 4)
        extra = await asyncio.to_thread(
            sipp,
            tmp_path,
            pool,
            scenario("busy", [("status", 503)], answered=False),
            name="busy",
        )
        assert extra.returncode == 0, extra.stdout[-2000:] + extra.stderr[-2000:]
        out, _ = await asyncio.to_thread(full.communicate, timeout=90)
        # The ninth caller changed nothing for the eight already connected.
        assert full.returncode == 0, out[-3000:]
        assert "every worker is full or down" in pool.kamailio_log()
    await until(lambda: _waiting(redis, 0), "the callers who hung up leave the queue", 10)


def call_held(seconds: int) -> list[tuple[str, object]]:
    return [("pause", 500), ("keys", "2"), ("pause", seconds * 1000), ("bye", None)]


async def contact_state(redis: Redis, contact_id: str) -> str | None:
    return await redis.hget(f"ll:contact:{contact_id}", "state")


async def until(check: object, what: str, timeout: float = 60) -> None:
    for _ in range(int(timeout * 10)):
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_worker_killed_mid_call_leaves_no_ghost_and_rejoins_when_restarted(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    with sip_pool(tmp_path, clean_redis_url, prompts_dir, workers=2) as pool:
        first = pool.worker_names()[0]
        held = sipp_async(
            tmp_path, pool, routed(scenario("held", call_held(25))), "held", calls=4, rate=10
        )
        await until(lambda: _waiting(redis, 4), "four callers queued")
        on_first = [c for c, w in (await lines(redis)).items() if w == first]
        assert len(on_first) == 2, "call load put two calls on each worker"
        os.kill(pool.pid(first), signal.SIGKILL)
        # Restarted, the worker ends the contacts of the calls it lost: abandoned, no ghosts.
        for contact_id in on_first:
            await until(
                lambda c=contact_id: _state_is(redis, c, "abandoned"), "lost calls abandoned"
            )
        assert await redis.zcard("ll:waiting") == 2, "the other worker's callers still wait"
        # It ended them before it listens again.
        await until(
            _async(lambda: pool.log(first).count("telephony worker listening") == 2),
            "the worker restarted",
        )
        since = time.monotonic()
        await until(_async(lambda: pool.in_the_set(first, since)), "the worker back in the set")
        more = sipp_async(
            tmp_path, pool, routed(scenario("more", call_held(4))), "more", calls=4, rate=10
        )
        await until(lambda: _waiting(redis, 6), "new calls queued")
        served_by = [w for c, w in (await lines(redis)).items() if c not in on_first]
        assert served_by.count(first) >= 1, "the restarted worker takes calls again"
        out, _ = await asyncio.to_thread(more.communicate, timeout=90)
        assert more.returncode == 0, out[-2000:]
        held.kill()
        held.wait()


async def _waiting(redis: Redis, n: int) -> bool:
    return int(await redis.zcard("ll:waiting")) == n


async def _state_is(redis: Redis, contact_id: str, state: str) -> bool:
    return await contact_state(redis, contact_id) == state


async def test_kamailio_killed_is_restarted_and_calls_keep_their_media(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    """Media goes straight between caller and worker: a call set up before Kamailio
    dies keeps its audio, and ends cleanly through the restarted Kamailio."""
    with sip_pool(tmp_path, clean_redis_url, prompts_dir, workers=1) as pool:
        heard = tmp_path / "heard.wav"
        caller = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "pjsua_caller.py"),
             f"sip:12348@127.0.0.1:{pool.port}", str(heard), "16", str(free_sip_port()),
             "--keys", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        await until(lambda: _waiting(redis, 1), "the caller queued")
        old = pool.pid("kamailio")
        os.kill(old, signal.SIGKILL)
        await until(_async(lambda: pool.pid("kamailio") != old), "Kamailio restarted")
        await until(
            _async(lambda: pool.kamailio_log().count("Listening on") == 2), "Kamailio listening"
        )
        out, _ = await asyncio.to_thread(caller.communicate, timeout=90)
        assert caller.returncode == 0, out[-2000:]
        loud = envelope(heard)
        # The last 6 s of the call came after Kamailio was killed: hold music, not silence.
        assert max(loud[-300:]) > 1000, "the caller heard silence after Kamailio died"
        # The caller's BYE went through the new Kamailio: the contact left the queue.
        await until(lambda: _waiting(redis, 0), "the caller left the queue")


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return check()

    return run


def _send(src: str, dst: tuple[str, int], message: bytes, wait_s: float = 2) -> bytes | None:
    """One UDP datagram from src; the first line of the answer, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.settimeout(wait_s)
        s.sendto(message, dst)
        try:
            return s.recv(4096).split(b"\r\n")[0]
        except TimeoutError:
            return None


def _options(src: str, user_agent: str = "trunk", call_id: str = "probe") -> bytes:
    return (
        f"OPTIONS sip:12348@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {src}:5060;rport;branch=z9hG4bK-{call_id}\r\n"
        f"From: <sip:scan@{src}>;tag=1\r\nTo: <sip:12348@127.0.0.1>\r\n"
        f"Call-ID: {call_id}@{src}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: {user_agent}\r\n"
        f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def test_the_edge_blocks_scanners_floods_malformed_sip_and_strangers(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    with sip_pool(
        tmp_path,
        clean_redis_url,
        prompts_dir,
        workers=1,
        pike_requests=20,
        pike_window_s=2,
        invites_per_s=3,
    ) as pool:
        front = (pool.host, pool.port)
        assert _send("127.0.0.5", front, _options("127.0.0.5")) == b"SIP/2.0 200 OK"
        # A scanner hears nothing at all.
        scan = _options("127.0.0.6", "friendly-scanner", "scan")
        assert _send("127.0.0.6", front, scan) is None
        # A NUL byte in a header, even from the trunk: dropped before any worker sees it.
        nul = _options("127.0.0.1", call_id="nul").replace(b"Call-ID: nul", b"Call-ID: n\x00ul")
        assert _send("127.0.0.1", front, nul) is None
        # An INVITE from an address that is not a trunk, without a terminal's password:
        # challenged (407), and it goes no further.
        stranger = await asyncio.to_thread(
            sipp,
            tmp_path,
            pool,
            scenario("stranger", [("status", 407)], answered=False),
            local_ip="127.0.0.7",
            name="stranger",
        )
        assert stranger.returncode == 0, stranger.stdout[-2000:]
        # An OPTIONS flood from one address: blocked, while the trunk's caller is served.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
            flood.bind(("127.0.0.9", 0))
            for i in range(300):
                flood.sendto(_options("127.0.0.9", call_id=f"f{i}"), front)
        assert _send("127.0.0.9", front, _options("127.0.0.9", call_id="after")) is None
        served = await asyncio.to_thread(
            sipp, tmp_path, pool, routed(scenario("served", call_held(1))), name="served"
        )
        assert served.returncode == 0, served.stdout[-2000:]
        # More new calls a second than the cap: the excess is refused with 503 at once.
        # The cap counts per whole second, so a burst may straddle two of them: ten
        # calls are more than two seconds' worth even if the machine spreads them out.
        burst = await asyncio.to_thread(
            sipp,
            tmp_path,
            pool,
            routed(scenario("burst", [("bye", None)])),
            calls=10,
            rate=100,
            name="burst",
        )
        assert burst.returncode != 0, "ten calls in a moment all passed a cap of three a second"
        log = pool.kamailio_log()
        assert "blocked: scanner user agent [friendly-scanner] from 127.0.0.6" in log
        assert "blocked: NUL byte in OPTIONS from 127.0.0.1" in log
        assert "challenged: INVITE from 127.0.0.7" in log
        assert "blocked: flood from 127.0.0.9" in log
        assert "refused: more than 3 new calls a second" in log
        assert "127.0.0.1" not in log.split("blocked: flood from", 1)[1].split("\n")[0]


async def test_two_nodes_share_one_redis_and_either_serves_a_call(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    """Two lawline nodes on one machine (127.0.0.2 and 127.0.0.3), each its own
    Kamailio and workers, one queue: the carrier may send a call to either."""
    with (
        sip_pool(tmp_path, clean_redis_url, prompts_dir, 1, "127.0.0.2", "node-a") as a,
        sip_pool(tmp_path, clean_redis_url, prompts_dir, 1, "127.0.0.3", "node-b") as b,
    ):
        calls = [
            sipp_async(tmp_path, node, routed(scenario("held", call_held(6))), f"held-{i}")
            for i, node in enumerate((a, b))
        ]
        await until(lambda: _waiting(redis, 2), "one caller queued through each node")
        assert sorted((await lines(redis)).values()) == ["node-a/worker-1", "node-b/worker-1"]
        for proc in calls:
            out, _ = await asyncio.to_thread(proc.communicate, timeout=90)
            assert proc.returncode == 0, out[-2000:]
    await until(lambda: _waiting(redis, 0), "both callers left the queue")


TERMINAL_IP = "127.0.0.8"  # a village room's SIP phone: not a trunk


def _softphone(
    pool: Pool, tmp: Path, user: str, password: str, *extra: str, seconds: int = 6
) -> list[str]:
    """pjsua2 as a SIP terminal of the village room: registers with the front, then calls
    (for `seconds` at most: SIGTERM hangs up sooner)."""
    return [
        sys.executable, str(Path(__file__).parent / "pjsua_caller.py"),
        f"sip:12348@{pool.host}:{pool.port}", str(tmp / f"{user}.wav"), str(seconds),
        str(free_sip_port()), "--user", user, "--password", password, "--host", TERMINAL_IP,
        *extra,
    ]  # fmt: skip


def _accounts(pool: Pool) -> str:
    path = accounts_dir(pool.settings) / TABLE
    return path.read_text() if path.exists() else ""


async def test_a_sip_terminal_registers_and_calls_with_its_password_until_revoked(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    """A SIP phone in a village legal room: digest authentication at the front, its
    village on the contact, and its revocation effective without a restart."""
    with sip_pool(tmp_path, clean_redis_url, prompts_dir, workers=1) as pool:
        url = pool.settings.database
        upgrade(url)
        sessions = session_factory(make_engine(url))
        with sessions() as s, s.begin():
            password = enrol(
                s,
                "dalai-1",
                "大赉村",
                "兴安镇",
                "zh",
                datetime.now(UTC),
                sip_realm=pool.settings.telephony.front.realm,
            ).sip_password
        await until(_async(lambda: "dalai-1:" in _accounts(pool)), "the front's accounts synced")
        registrar = f"{pool.host}:{pool.port}"

        wrong = await asyncio.to_thread(
            subprocess.run,
            _softphone(pool, tmp_path, "dalai-1", "not-it", "--register", registrar),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert wrong.returncode == 2 and "registered 401" in wrong.stdout, wrong.stdout[-2000:]

        # The call lasts until it has been seen queued (a loaded machine may take more
        # than a few seconds to answer and route it), then the terminal hangs up.
        caller = subprocess.Popen(
            _softphone(
                pool, tmp_path, "dalai-1", password, "--register", registrar, "--keys", "2",
                seconds=90,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        await until(lambda: _waiting(redis, 1), "the terminal's caller queued")
        (contact_id,) = await redis.zrange("ll:waiting", 0, -1)
        attrs = json.loads(await redis.hget(f"ll:contact:{contact_id}", "attrs") or "{}")
        assert (attrs["terminal"], attrs["village"], attrs["township"]) == (
            "dalai-1",
            "大赉村",
            "兴安镇",
        ), "the contact says which village room called"
        caller.terminate()
        out, _ = await asyncio.to_thread(caller.communicate, timeout=60)
        assert caller.returncode == 0 and "registered 200" in out, out[-2000:]

        with sessions() as s, s.begin():
            revoke(s, "dalai-1", datetime.now(UTC))
        await until(_async(lambda: "dalai-1:" not in _accounts(pool)), "the revocation synced")
        refused = await asyncio.to_thread(
            subprocess.run,
            _softphone(pool, tmp_path, "dalai-1", password),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1, refused.stdout[-2000:]
        assert "ended 407" in refused.stdout, refused.stdout[-2000:]
        log = pool.kamailio_log()
        assert f"registered: terminal dalai-1 from {TERMINAL_IP}" in log
        assert "blocked: bad SIP credentials" in log and "[..ai-1]" in log, "masked user part"
    assert await redis.zcard("ll:waiting") == 0


# ----- forged and replayed requests, folded headers, personal data in logs -------------

STRANGER = "127.0.0.7"  # not a trunk, not an enrolled terminal


def _listen(host: str = "127.0.0.1") -> socket.socket:
    """A UDP port a forged request might be relayed to."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(0.2)
    return s


def _received(sock: socket.socket, within_s: float) -> list[bytes]:
    """Every datagram that arrives within the window (after the front has decided)."""
    got, deadline = [], time.monotonic() + within_s
    while time.monotonic() < deadline:
        with suppress(TimeoutError):
            got.append(sock.recv(65535))
    return got


def _in_dialog(method: str, src: tuple[str, int], target: str, route: str, n: int) -> bytes:
    """A request that claims to belong to a dialog: a To tag and a Route naming the front."""
    body = "hello" if method == "MESSAGE" else ""
    ctype = "Content-Type: text/plain\r\n" if body else ""
    return (
        f"{method} sip:{target} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {src[0]}:{src[1]};rport;branch=z9hG4bK-forged{n}\r\n"
        f"Route: {route}\r\n"
        f"From: <sip:attacker@{src[0]}>;tag=f{n}\r\nTo: <sip:{target}>;tag=t{n}\r\n"
        f"Call-ID: forged{n}@{src[0]}\r\nCSeq: 1 {method}\r\n"
        f"Contact: <sip:attacker@{src[0]}:{src[1]}>\r\nMax-Forwards: 70\r\n"
        f"{ctype}Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


async def test_forged_in_dialog_requests_from_a_stranger_reach_nobody(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    """An INVITE or MESSAGE with a To tag and a Route naming the front, from an address
    that is no trunk: not relayed to the address it names, nor to a worker."""
    with sip_pool(tmp_path, clean_redis_url, prompts_dir, workers=1) as pool:
        front = f"{pool.host}:{pool.port}"
        worker_port = pool.settings.telephony.front.worker_port
        target = _listen()
        elsewhere = f"12348@127.0.0.1:{target.getsockname()[1]}"
        routes = [
            f"<sip:{front};lr>",
            f"<sip:{front};lr;llm=0123456789abcdef0123456789abcdef>",
            # The front, then the address the request should reach next.
            f"<sip:{front};lr>,<sip:127.0.0.1:{target.getsockname()[1]};lr>",
        ]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
            attacker.bind((STRANGER, 0))
            attacker.settimeout(0.2)
            src = attacker.getsockname()
            n = 0
            for method in ("INVITE", "MESSAGE", "BYE"):
                for to in (elsewhere, f"12348@127.0.0.1:{worker_port}"):
                    for route in routes:
                        n += 1
                        message = _in_dialog(method, src, to, route, n)
                        attacker.sendto(message, (pool.host, pool.port))
            # Anything relayed arrives at the listener; a worker would answer (481).
            relayed: list[bytes] = []
            await until(
                _async(
                    lambda: (
                        bool(relayed.extend(_received(target, 0.1)) or relayed)
                        or pool.kamailio_log().count("within no dialog") >= n
                    )
                ),
                "the front's decision on every forged request",
            )
            assert relayed + _received(target, 0.5) == [], "a forged request was relayed"
            assert _received(attacker, 0.5) == [], "a forged request reached someone"
        target.close()
        log = pool.kamailio_log()
        for method in ("INVITE", "MESSAGE", "BYE"):
            assert f"blocked: {method} within no dialog of this front from {STRANGER}" in log
        # A real call through the front still has its in-dialog requests relayed.
        served = await asyncio.to_thread(
            sipp, tmp_path, pool, routed(scenario("served", call_held(1))), name="served"
        )
        assert served.returncode == 0, served.stdout[-2000:]


async def test_a_trunk_call_folded_x_lawline_headers_name_no_village(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    """A continuation line is part of the header before it (RFC 3261 7.3.1): folded
    X-Lawline-* lines pass the front's strip, but the worker believes only what the
    front signed, so the trunk's caller cannot claim a village room. The trunk's
    P-Asserted-Identity names the caller."""
    folded = "Subject=hello\r\n X-Lawline-Terminal: dalai-1\r\n X-Lawline-Village: %E5%A4%A7"
    with sip_pool(tmp_path, clean_redis_url, prompts_dir, workers=1) as pool:
        caller = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "pjsua_caller.py"),
             f"sip:12348@{pool.host}:{pool.port}", str(tmp_path / "heard.wav"), "8",
             str(free_sip_port()), "--keys", "2", "--header", folded,
             "--header", "P-Asserted-Identity=<sip:+8613900001111@carrier.example>"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        await until(lambda: _waiting(redis, 1), "the trunk's caller queued")
        (contact_id,) = await redis.zrange("ll:waiting", 0, -1)
        contact = await redis.hgetall(f"ll:contact:{contact_id}")
        attrs = json.loads(contact.get("attrs") or "{}")
        assert "village" not in attrs and "terminal" not in attrs, attrs
        assert contact["caller"] == "+8613900001111", "the trunk asserted who calls"
        out, _ = await asyncio.to_thread(caller.communicate, timeout=90)
        assert caller.returncode == 0, out[-2000:]


def _digest(
    user: str, password: str, realm: str, nonce: str, uri: str, method: str, nc: str
) -> str:
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    cnonce = "0a4f113b"
    response = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"'
    )


def _register(src: tuple[str, int], front: str, user: str, cseq: int, auth: str = "") -> bytes:
    extra = f"Authorization: {auth}\r\n" if auth else ""
    return (
        f"REGISTER sip:{front} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {src[0]}:{src[1]};rport;branch=z9hG4bK-reg{cseq}\r\n"
        f"From: <sip:{user}@{front}>;tag=r1\r\nTo: <sip:{user}@{front}>\r\n"
        f"Call-ID: replay@{src[0]}\r\nCSeq: {cseq} REGISTER\r\n"
        f"Contact: <sip:{user}@{src[0]}:{src[1]}>\r\nExpires: 600\r\n{extra}"
        f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _final(sock: socket.socket, within_s: float = 5) -> str:
    """The first final response (status line and headers), or '' if none came."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with suppress(TimeoutError):
            text = sock.recv(65535).decode(errors="replace")
            if not text.startswith("SIP/2.0 1"):
                return text
    return ""


async def test_a_replayed_digest_authorization_is_refused(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    """A REGISTER captured on the wire, sent again with its Authorization unchanged:
    challenged again, not accepted (nonce-count / one-time nonces)."""
    with sip_pool(tmp_path, clean_redis_url, prompts_dir, workers=1) as pool:
        realm = pool.settings.telephony.front.realm
        upgrade(pool.settings.database)
        sessions = session_factory(make_engine(pool.settings.database))
        with sessions() as s, s.begin():
            password = enrol(
                s, "dalai-2", "大赉村", "兴安镇", "zh", datetime.now(UTC), sip_realm=realm
            ).sip_password
        await until(_async(lambda: "dalai-2:" in _accounts(pool)), "the front's accounts synced")
        front = f"{pool.host}:{pool.port}"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
            phone.bind((TERMINAL_IP, 0))
            phone.settimeout(0.2)
            src = phone.getsockname()
            phone.sendto(_register(src, front, "dalai-2", 1), (pool.host, pool.port))
            challenge = _final(phone)
            assert challenge.startswith("SIP/2.0 401"), challenge
            nonce = challenge.split('nonce="', 1)[1].split('"', 1)[0]
            auth = _digest(
                "dalai-2", password, realm, nonce, f"sip:{front}", "REGISTER", "00000001"
            )
            phone.sendto(_register(src, front, "dalai-2", 2, auth), (pool.host, pool.port))
            first = _final(phone)
            assert first.startswith("SIP/2.0 200"), first
            # The same Authorization again, as an eavesdropper would send it.
            phone.sendto(_register(src, front, "dalai-2", 3, auth), (pool.host, pool.port))
            replayed = _final(phone)
            assert replayed.startswith("SIP/2.0 401"), replayed
            # The phone itself goes on: the next nonce-count is accepted.
            auth2 = _digest(
                "dalai-2", password, realm, nonce, f"sip:{front}", "REGISTER", "00000002"
            )
            phone.sendto(_register(src, front, "dalai-2", 4, auth2), (pool.host, pool.port))
            assert _final(phone).startswith("SIP/2.0 200")


async def test_no_caller_number_in_the_fronts_or_the_workers_logs(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    """A trunk's call from a known number, and a stranger whose From is a number and
    whose credentials are wrong: neither number is in any log line."""
    stranger_number = "13912345678"
    with sip_pool(tmp_path, clean_redis_url, prompts_dir, workers=1) as pool:
        served = await asyncio.to_thread(
            sipp, tmp_path, pool, routed(scenario("served", call_held(1))), name="served"
        )
        assert served.returncode == 0, served.stdout[-2000:]
        front = f"{pool.host}:{pool.port}"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((STRANGER, 0))
            s.settimeout(0.2)
            src = s.getsockname()
            invite = (
                f"INVITE sip:12348@{front} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {src[0]}:{src[1]};rport;branch=z9hG4bK-s1\r\n"
                f"From: <sip:{stranger_number}@{src[0]}>;tag=s1\r\nTo: <sip:12348@{front}>\r\n"
                f"Call-ID: stranger@{src[0]}\r\nCSeq: 1 INVITE\r\n"
                f'Proxy-Authorization: Digest username="{stranger_number}", realm="lawline", '
                f'nonce="00", uri="sip:12348@{front}", response="00"\r\n'
                f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            ).encode()
            s.sendto(invite, (pool.host, pool.port))
            assert _final(s).startswith("SIP/2.0 407")
        await until(_async(lambda: "bad SIP credentials" in pool.kamailio_log()), "logged")
        logs = pool.kamailio_log() + "".join(pool.log(w) for w in pool.worker_names())
        assert CALLER not in logs and stranger_number not in logs
        assert "[..5678]" in pool.kamailio_log(), "the last four digits, for support"


_MESSAGE_ELSEWHERE = """  <send><![CDATA[
MESSAGE sip:12348@127.0.0.1:{port} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: caller <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 MESSAGE
[routes]
Max-Forwards: 70
Content-Type: text/plain
Content-Length: [len]

toll fraud
  ]]></send>
"""


async def test_a_caller_cannot_steer_its_own_dialog_elsewhere(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    """A real call through the front, with the front's Record-Route: an in-dialog
    request the caller aims at another address is dropped, while the worker's own
    BYE (lawline hangs up after the callback is booked) still reaches the caller."""
    with sip_pool(tmp_path, clean_redis_url, prompts_dir, workers=1) as pool:
        target = _listen()
        steps = [
            ("pause", 500),
            ("keys", "3"),
            ("pause", 2500),
            ("keys", "1"),
            ("expect_bye", 20000),
        ]
        xml = routed(scenario("elsewhere", steps))
        ack_end = xml.index("]]></send>", xml.index("\nACK ")) + len("]]></send>\n")
        message = _MESSAGE_ELSEWHERE.format(port=target.getsockname()[1], caller=CALLER)
        xml = xml[:ack_end] + message + xml[ack_end:]
        call = await asyncio.to_thread(sipp, tmp_path, pool, xml, name="elsewhere")
        assert call.returncode == 0, call.stdout[-2000:] + call.stderr[-2000:]
        assert _received(target, 0.5) == [], "the caller's request went where it pointed"
        target.close()
        assert "blocked: MESSAGE in a dialog of this front to elsewhere" in pool.kamailio_log()
