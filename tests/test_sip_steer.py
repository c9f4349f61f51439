"""Steering a call's media (telephony/steer.py, kamailio.cfg's STEER routes): a real
pjsua2 caller through the real Kamailio to a worker-side pjsua2 that steers the
caller's RTP to a UDP socket the test owns, as it would to a media server's room;
and SIPp as the caller, for the SDP forms pjsua never sends (no direction line, hold,
a re-INVITE without SDP, UPDATE)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from redis import Redis as SyncRedis

from lawline.redis_server import EmbeddedRedis
from lawline.telephony.steer import RtpAddress, sdp_audio_address
from tests.front_helpers import LoneFront, free_port_run, lone_front, wait_for
from tests.ports import free_sip_port
from tests.sip_helpers import CALLER, ok_to_last

PEER = Path(__file__).parent / "pjsua_steer_peer.py"
ROOM_HOST = "127.0.0.20"  # the media server's address the call is steered to
ELSEWHERE_HOST = "127.0.0.21"  # where a caller's own steer header points


class Peer:
    """One end of the call (pjsua_steer_peer.py): commands in, event lines out."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(PEER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def mark(self) -> int:
        return len(self.lines)

    def wait_line(self, prefix: str, since: int = 0, timeout: float = 20) -> str:
        """The first line from `since` on that starts with prefix."""
        found: list[str] = []

        def seen() -> bool:
            found[:] = [line for line in self.lines[since:] if line.startswith(prefix)]
            return bool(found) or self.proc.poll() is not None

        wait_for(seen, f"{prefix!r} from the peer", timeout)
        assert found, "\n".join(self.lines[-40:])
        return found[0]

    def rx(self) -> int:
        """The caller's packets received in all, from a report made after this call."""
        return int(self.wait_line("rx ", self.mark()).split()[1])

    def stop(self) -> str:
        with suppress(BrokenPipeError, OSError):
            self.send("hangup")
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        return "\n".join(self.lines)


class Room:
    """A UDP socket standing in for the room's plain-RTP participant of the caller."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.05)
        self.address = RtpAddress(*self.sock.getsockname())
        self.sources: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            with suppress(TimeoutError):
                packet, source = self.sock.recvfrom(2048)
                if len(packet) >= 12 and packet[0] >> 6 == 2:  # RTP version 2
                    self.sources.append(source)

    def count(self) -> int:
        return len(self.sources)

    def wait_packets(self, n: int, since: int) -> None:
        wait_for(lambda: self.count() >= since + n, f"{n} RTP packets at {self.address}", 20)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@contextmanager
def rooms() -> Iterator[tuple[Room, Room]]:
    room, elsewhere = Room(ROOM_HOST), Room(ELSEWHERE_HOST)
    try:
        yield room, elsewhere
    finally:
        room.close()
        elsewhere.close()


def hears_the_worker(caller: Peer) -> None:
    """The caller's received packets grow: the worker's stream reaches it."""
    start = caller.rx()
    wait_for(lambda: caller.rx() >= start + 25, "the caller to hear the worker", 20)


def stays_quiet(caller: Peer, room: Room) -> None:
    """While the caller sends the room 50 packets (a second), it receives none."""
    before, since = caller.rx(), room.count()
    room.wait_packets(50, since)
    assert caller.rx() == before, "the worker (or someone) still sends the caller RTP"


def caller_address(line: str) -> tuple[str, int]:
    _, host, port = line.split()
    return host, int(port)


def caller_reinvite_stays_steered(
    caller: Peer, worker: Peer, room: Room, header: str = ""
) -> tuple[str, int]:
    """The caller re-INVITEs on a new RTP port (with `header`, which the front removes):
    the call stays steered to the room, and the worker learns where the caller is now."""
    mark = worker.mark()
    caller.send(f"reinvite {header}".strip())
    assert worker.wait_line("reinvite", mark) == "reinvite steer-header=no"
    moved = caller_address(worker.wait_line("caller ", mark))
    wait_for(lambda: room.sources[-1] == moved, "the caller's new port at the room")
    stays_quiet(caller, room)
    return moved


def worker_refresh_stays_steered(
    caller: Peer, worker: Peer, room: Room, caller_at: tuple[str, int]
) -> None:
    """pjsua refreshing the session on its own (no header, still inactive)."""
    mark, since = worker.mark(), room.count()
    worker.send("refresh")
    assert caller_address(worker.wait_line("caller ", mark)) == caller_at
    room.wait_packets(25, since)
    stays_quiet(caller, room)


def steered_back(caller: Peer, worker: Peer) -> None:
    """The worker's own stream again, both ways."""
    mark = worker.mark()
    worker.send("unsteer")
    worker.wait_line("media", mark)
    hears_the_worker(caller)


def show_both_ends(tmp: Path, caller: Peer | None, worker: Peer) -> None:
    """Printed, shown when the test fails: what each end did, and the front's view."""
    if caller is not None:
        print("caller:", *[x for x in caller.stop().splitlines() if x[:3] != "rx "], sep="\n")
    print("worker:", worker.stop(), sep="\n")
    log = tmp / "kamailio.log"
    print("kamailio:", log.read_text() if log.exists() else "", sep="\n")


def test_a_steer_target_is_an_ipv4_address_and_an_unprivileged_port() -> None:
    assert RtpAddress.checked("10.77.30.1", 45012).header_value() == "10.77.30.1 45012"
    for host, port in [("10.77.30.1", 80), ("10.77.30.1", 65536), ("::1", 45012),
                       ("10.77.30", 45012), ("10.77.30.1 9", 45012), ("host", 45012)]:  # fmt: skip
        with pytest.raises(ValueError):
            RtpAddress.checked(host, port)


SDP = (
    "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 8 101\r\n{media_c}a=inactive\r\n"
    "m=video 40002 RTP/AVP 96\r\nc=IN IP4 10.0.0.9\r\n"
)


def test_the_callers_rtp_address_is_read_from_its_sdp() -> None:
    assert sdp_audio_address(SDP.format(media_c="")) == RtpAddress("10.0.0.1", 40000)
    media_level = SDP.format(media_c="c=IN IP4 10.0.0.2\r\n")
    assert sdp_audio_address(media_level) == RtpAddress("10.0.0.2", 40000)
    assert sdp_audio_address(SDP.format(media_c="").replace("audio 40000", "audio 0")) is None
    assert (
        sdp_audio_address(SDP.format(media_c="").replace("IN IP4 10.0.0.1", "IN IP6 ::1")) is None
    )
    assert sdp_audio_address("v=0\r\nm=video 40002 RTP/AVP 96\r\n") is None


needs_kamailio = pytest.mark.skipif(
    shutil.which("kamailio") is None, reason="Kamailio is installed by scripts/setup.sh"
)


@needs_kamailio
def test_the_front_steers_a_calls_media_to_the_room_and_back(
    tmp_path: Path, prompts_dir: Path
) -> None:
    worker_port, rtp = free_sip_port(), free_port_run(24)  # ten RTP ports each, apart
    worker = Peer("worker", str(worker_port), str(rtp), str(prompts_dir / "hold_music.wav"))
    caller: Peer | None = None
    try:
        worker.wait_line("ready")
        with lone_front(tmp_path, worker_port) as front, rooms() as (room, elsewhere):
            caller = Peer("caller", str(free_sip_port()), str(rtp + 12), front.uri)
            worker.wait_line("media")
            caller.wait_line("media")
            hears_the_worker(caller)

            # A caller's own steer header is removed at the front and changes nothing.
            mark = worker.mark()
            caller.send(f"reinvite X-Lawline-Steer: {ELSEWHERE_HOST} {elsewhere.address.port}")
            assert worker.wait_line("reinvite", mark) == "reinvite steer-header=no"
            worker.wait_line("media", mark)
            hears_the_worker(caller)

            # A header the front cannot take (a port below 1024) is refused, and the call,
            # quieted for the steer, gets its own stream back.
            mark = worker.mark()
            worker.send(f"steer-raw {ROOM_HOST} 80")
            assert worker.wait_line("steer-failed", mark) == "steer-failed 400"
            worker.wait_line("media", mark)
            hears_the_worker(caller)

            # Steered: the caller's RTP goes to the room, the worker's to nobody.
            mark, since = worker.mark(), room.count()
            worker.send(f"steer {room.address.host} {room.address.port}")
            reported = caller_address(worker.wait_line("caller ", mark))
            room.wait_packets(25, since)
            assert room.sources[-1] == reported, "the answer named the caller's RTP address"
            stays_quiet(caller, room)

            # The caller's own re-INVITE (a new RTP port), even with a steer header of
            # its own, stays steered to the room; the worker learns the new address.
            moved = caller_reinvite_stays_steered(
                caller, worker, room, f"X-Lawline-Steer: {ELSEWHERE_HOST} {elsewhere.address.port}"
            )
            assert moved != reported, "pjsua kept its RTP port: the test proves less"
            # The worker's pjsua refreshing the session keeps the call steered.
            worker_refresh_stays_steered(caller, worker, room, moved)
            steered_back(caller, worker)
            assert elsewhere.count() == 0, "a caller's steer header moved media"

            log = front.log()
            assert "steered: call" in log and f"to {ROOM_HOST}:{room.address.port}" in log
            assert "unsteered: call" in log
            assert "ignored: X-Lawline-* headers in a caller's INVITE" in log
            assert "refused: bad X-Lawline-Steer" in log
            assert CALLER not in log, "a caller's number in the front's log"
            out = caller.stop()
            assert "ended" in out and caller.proc.returncode == 0, out[-3000:]
            worker.wait_line("ended")  # the caller's BYE reached it
        assert worker.stop() and worker.proc.returncode == 0
    finally:
        show_both_ends(tmp_path, caller, worker)


@needs_kamailio
def test_a_front_killed_and_restarted_goes_on_steering_its_calls(
    tmp_path: Path, prompts_dir: Path, redis_server: EmbeddedRedis
) -> None:
    worker_port, rtp = free_sip_port(), free_port_run(24)
    worker = Peer("worker", str(worker_port), str(rtp), str(prompts_dir / "hold_music.wav"))
    caller: Peer | None = None
    state = SyncRedis.from_url(redis_server.url, decode_responses=True)
    try:
        worker.wait_line("ready")
        with lone_front(tmp_path, worker_port, redis_server.url) as front, rooms() as (room, _):
            caller = Peer("caller", str(free_sip_port()), str(rtp + 12), front.uri)
            worker.wait_line("media")
            caller.wait_line("media")
            mark, since = worker.mark(), room.count()
            worker.send(f"steer {room.address.host} {room.address.port}")
            worker.wait_line("caller ", mark)
            room.wait_packets(25, since)
            [key] = state.keys("ll:front:steer:*")
            assert state.get(key) == f"{room.address.host} {room.address.port}"

            # The front dies with every dialog it knew; serve starts it again.
            front.crash_and_restart()

            # The caller's re-INVITE and the worker's refresh after it stay steered...
            moved = caller_reinvite_stays_steered(caller, worker, room)
            worker_refresh_stays_steered(caller, worker, room, moved)
            # ...and the restarted front steers it back, keeping nothing of it after.
            steered_back(caller, worker)
            assert state.keys("ll:front:steer:*") == []
            out = caller.stop()
            assert "ended" in out and caller.proc.returncode == 0, out[-3000:]
            worker.wait_line("ended")
            log = front.log()
            password = redis_server.password_path.read_text().strip()
            assert password not in log, "the front logged lawline's Redis password"
            assert CALLER not in log, "a caller's number in the front's log"
        assert worker.stop() and worker.proc.returncode == 0
    finally:
        state.close()
        show_both_ends(tmp_path, caller, worker)


# ----- what a caller's SIP stack sees: SIPp, for the SDP forms pjsua never sends -------


def _caller_sdp(port: int, version: int, direction: str = "") -> str:
    """The caller's SDP: session-level c=, no direction unless given (sendrecv)."""
    lines = [
        "v=0",
        f"o=caller 1 {version} IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m=audio {port} RTP/AVP 8 101",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
    ]
    return "\n".join(lines + ([f"a={direction}"] if direction else [])) + "\n"


def sipp_send(first_line: str, cseq: str, sdp: str = "", dialog: bool = True) -> str:
    """A request of the caller's (in the dialog: the worker's tag, the front's route)."""
    head = [
        first_line,
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        f"From: caller <sip:{CALLER}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]",
        "To: <sip:[service]@[remote_ip]:[remote_port]>" + (";tag=[$peer]" if dialog else ""),
        "Call-ID: [call_id]",
        f"CSeq: {cseq}",
        f"Contact: sip:{CALLER}@[local_ip]:[local_port]",
        *(["[routes]"] if dialog else []),
        "Max-Forwards: 70",
    ]
    body = ["Content-Type: application/sdp", "Content-Length: [len]", "", sdp] if sdp else []
    text = "\n".join(head + (body or ["Content-Length: 0", ""]))
    retrans = "" if cseq.endswith("ACK") else ' retrans="500"'
    return f"  <send{retrans}><![CDATA[\n{text}\n  ]]></send>\n"


def _expect(steps: list[tuple[str, str]], inverse_last: bool = False) -> str:
    """SIPp checks of the message just received: each (where, regexp) must match (the
    last must not, with inverse_last)."""
    out = ""
    for i, (where, regexp) in enumerate(steps):
        last = inverse_last and i == len(steps) - 1
        flag = "check_it_inverse" if last else "check_it"
        out += f'<ereg regexp="{regexp}" search_in="{where}" {flag}="true" assign_to="c{i}"/>'
    return f"<action>{out}</action>"


def _at_room(room: RtpAddress, direction: str) -> list[tuple[str, str]]:
    host = room.host.replace(".", "\\.")
    return [
        ("body", f"c=IN IP4 {host}"),
        ("body", f"m=audio {room.port} "),
        ("body", f"a={direction}"),
    ]


def steered_caller_scenario(room: RtpAddress, ports: list[int]) -> str:
    """A caller steered by the worker, then: a re-INVITE putting the call on hold
    (sendonly), one without SDP (the offer comes in the 200, the answer in the ACK),
    an UPDATE; each answer must name the room, in the direction the caller's offer
    asks for. The caller's SDP never names a direction unless it holds."""
    next_url = "[next_url]"
    invite = "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0"
    checks_room = _expect(_at_room(room, "sendrecv"))
    # The worker quiets the call first (passed on as it is), then steers it: at the
    # room, no X-Lawline-* left.
    quiet = _expect([("body", "c=IN IP4 127\\.0\\.0\\.1"), ("body", "a=inactive")])
    steer = _expect([*_at_room(room, "sendrecv"), ("msg", "X-Lawline")], inverse_last=True)
    contact = f"Contact: <sip:{CALLER}@[local_ip]:[local_port]>"
    quiet_ok = ok_to_last((contact,), _caller_sdp(ports[0], 2, "inactive"))
    ok = ok_to_last((contact,), _caller_sdp(ports[1], 3))
    refs = ",".join(f"c{i}" for i in range(4)) + ",peer"
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="steered">\n'
        + sipp_send(invite, "1 INVITE", _caller_sdp(ports[0], 1), dialog=False)
        + '  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n'
        + '  <recv response="200" rrs="true"><action><ereg regexp="tag=([^;> ]+)" '
        + 'search_in="hdr" header="To:" check_it="true" assign_to="tag,peer"/></action></recv>\n'
        + sipp_send(f"ACK {next_url} SIP/2.0", "1 ACK")
        + f'  <recv request="INVITE">{quiet}</recv>\n'
        + quiet_ok
        + '  <recv request="ACK"/>\n'
        + f'  <recv request="INVITE">{steer}</recv>\n'
        + ok
        + '  <recv request="ACK"/>\n'
        # On hold: the worker gets inactive, the caller the room as recvonly.
        + sipp_send(f"INVITE {next_url} SIP/2.0", "2 INVITE", _caller_sdp(ports[2], 4, "sendonly"))
        + '  <recv response="100" optional="true"/>\n'
        + f'  <recv response="200">{_expect(_at_room(room, "recvonly"))}</recv>\n'
        + sipp_send(f"ACK {next_url} SIP/2.0", "2 ACK")
        # No SDP: the worker's offer (inactive) reaches the caller as the room, sendrecv.
        + sipp_send(f"INVITE {next_url} SIP/2.0", "3 INVITE")
        + '  <recv response="100" optional="true"/>\n'
        + f'  <recv response="200">{checks_room}</recv>\n'
        + sipp_send(f"ACK {next_url} SIP/2.0", "3 ACK", _caller_sdp(ports[3], 5))
        + sipp_send(f"UPDATE {next_url} SIP/2.0", "4 UPDATE", _caller_sdp(ports[4], 6))
        + f'  <recv response="200">{checks_room}</recv>\n'
        + sipp_send(f"BYE {next_url} SIP/2.0", "5 BYE")
        + '  <recv response="200"/>\n'
        + f'  <Reference variables="{refs},tag"/>\n</scenario>\n'
    )


def sipp_caller(tmp: Path, scenario: Path, front: LoneFront, timeout: str) -> subprocess.Popen[str]:
    """SIPp running `scenario` once as a caller through the front (its errors logged)."""
    settings = front.settings
    return subprocess.Popen(
        ["sipp", "-sf", str(scenario), "-s", "12348",
         f"{settings.sip_host}:{settings.sip_port}", "-i", "127.0.0.1",
         "-p", str(free_sip_port()), "-t", "u1", "-m", "1", "-timeout", timeout,
         "-timeout_error", "-nostdin", "-trace_err"],
        cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@needs_kamailio
@pytest.mark.skipif(shutil.which("sipp") is None, reason="SIPp is installed by scripts/setup.sh")
def test_a_steered_callers_hold_offerless_reinvite_and_update_stay_steered(
    tmp_path: Path, prompts_dir: Path
) -> None:
    worker_port, rtp = free_sip_port(), free_port_run(12)
    worker = Peer("worker", str(worker_port), str(rtp), str(prompts_dir / "hold_music.wav"))
    room = RtpAddress(ROOM_HOST, 45012)  # nothing is sent here: SIPp sends no RTP
    ports = [free_port_run(2) for _ in range(5)]  # what the caller's SDPs claim
    try:
        worker.wait_line("ready")
        with lone_front(tmp_path, worker_port) as front:
            path = tmp_path / "steered.xml"
            path.write_text(steered_caller_scenario(room, ports))
            sipp = sipp_caller(tmp_path, path, front, "40s")
            worker.wait_line("media")
            mark = worker.mark()
            worker.send(f"steer {room.host} {room.port}")
            out, _ = sipp.communicate(timeout=60)
            errors = "\n".join(p.read_text() for p in tmp_path.glob("*_errors.log"))
            assert sipp.returncode == 0, out[-3000:] + errors[-3000:]
            # The UPDATE's report may still be on its way from the worker when SIPp ends.
            worker.wait_line(f"caller 127.0.0.1 {ports[4]}", since=mark)
            reports = [line for line in worker.lines[mark:] if line.startswith("caller ")]
            # The steer's answer, the hold's offer and the UPDATE's offer (an answer in an
            # ACK comes to pjsua with no callback that could report it).
            assert reports == [f"caller 127.0.0.1 {p}" for p in (ports[1], ports[2], ports[4])]
            assert "media" not in worker.lines[mark:], "the worker's stream came back"
            assert CALLER not in front.log()
            worker.wait_line("ended", mark)  # the caller's BYE reached it
        assert worker.stop() and worker.proc.returncode == 0
    finally:
        print("worker:", worker.stop(), sep="\n")


STEER_CYCLES = 20


def strict_caller_scenario(port: int) -> str:
    """SIPp as a strict caller: quieted, steered and steered back STEER_CYCLES times,
    each re-INVITE answered and its ACK awaited before the next; a re-INVITE that
    overtakes the ACK before it is an unexpected message, and SIPp fails."""
    contact = f"Contact: <sip:{CALLER}@[local_ip]:[local_port]>"
    invite = "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0"
    xml = (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="strict">\n'
        + sipp_send(invite, "1 INVITE", _caller_sdp(port, 1), dialog=False)
        + '  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n'
        + '  <recv response="200" rrs="true"><action><ereg regexp="tag=([^;> ]+)" '
        + 'search_in="hdr" header="To:" check_it="true" assign_to="tag,peer"/></action></recv>\n'
        + sipp_send("ACK [next_url] SIP/2.0", "1 ACK")
    )
    version = 2
    for _ in range(STEER_CYCLES):
        for direction in ("inactive", "", ""):  # quieted, steered, back at the worker
            xml += '  <recv request="INVITE"/>\n'
            xml += ok_to_last((contact,), _caller_sdp(port, version, direction))
            xml += '  <recv request="ACK"/>\n'
            version += 1
    return (
        xml
        + sipp_send("BYE [next_url] SIP/2.0", "2 BYE")
        + '  <recv response="200"/>\n'
        + '  <Reference variables="tag"/>\n</scenario>\n'
    )


@needs_kamailio
@pytest.mark.skipif(shutil.which("sipp") is None, reason="SIPp is installed by scripts/setup.sh")
def test_a_steers_reinvite_sent_right_after_an_ack_reaches_the_caller_after_it(
    tmp_path: Path, prompts_dir: Path
) -> None:
    """The worker sends the steering re-INVITE the moment it has acknowledged the
    quieting one; the front's processes could relay the two out of order, so the front
    holds the re-INVITE until that ACK has gone on. A strict caller sees them in order
    in every one of STEER_CYCLES steers."""
    worker_port, rtp = free_sip_port(), free_port_run(12)
    worker = Peer("worker", str(worker_port), str(rtp), str(prompts_dir / "hold_music.wav"))
    room = RtpAddress(ROOM_HOST, 45012)  # nothing is sent here: SIPp sends no RTP
    try:
        worker.wait_line("ready")
        with lone_front(tmp_path, worker_port) as front:
            path = tmp_path / "strict.xml"
            path.write_text(strict_caller_scenario(free_port_run(2)))
            sipp = sipp_caller(tmp_path, path, front, "90s")
            worker.wait_line("media")
            for _ in range(STEER_CYCLES):
                mark = worker.mark()
                worker.send(f"steer {room.host} {room.port}")
                worker.wait_line("caller ", mark)
                mark = worker.mark()
                worker.send("unsteer")
                worker.wait_line("media", mark)
            out, _ = sipp.communicate(timeout=60)
            errors = "\n".join(p.read_text() for p in tmp_path.glob("*_errors.log"))
            assert sipp.returncode == 0, out[-3000:] + errors[-3000:]
            assert "error" not in " ".join(worker.lines), worker.lines[-20:]
        assert worker.stop() and worker.proc.returncode == 0
    finally:
        print("worker:", worker.stop(), sep="\n")
