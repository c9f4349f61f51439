"""Real SIP peers for tests: a telephony worker process and SIPp callers, on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.ports import free_sip_port

PCAPS = Path("/usr/share/sip-tester")
CALLER = "13800138000"

_START = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n'
_SDP = """v=0
o=caller 53655765 2353687637 IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [media_port] RTP/AVP {media}
"""


def _request(
    method: str,
    cseq: int | str,
    in_dialog: bool,
    body_type: str = "",
    body: str = "",
    retrans: bool = True,
) -> str:
    """One request the caller sends; SIPp fills in the [bracketed] parts, format() the
    {braced} ones."""
    head = [
        f"{method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        "From: caller <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]",
        "To: <sip:[service]@[remote_ip]:[remote_port]>" + ("[peer_tag_param]" if in_dialog else ""),
        "Call-ID: [call_id]",
        f"CSeq: {cseq} {method}",
        "Contact: sip:{caller}@[local_ip]:[local_port]",
        "Max-Forwards: 70",
    ]
    if body:
        head += [f"Content-Type: {body_type}", "Content-Length: [len]", "", body.rstrip("\n")]
    else:
        head += ["Content-Length: 0"]
    attr = ' retrans="500"' if retrans else ""
    return f"  <send{attr}><![CDATA[\n" + "\n".join(head) + "\n  ]]></send>\n"


_ANSWER = """  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="{status}"{final}>{check}</recv>
"""
_ACK = _request("ACK", 1, in_dialog=True, retrans=False)
# The ACK that carries the caller's SDP answer after an INVITE without SDP.
_ACK_SDP = _request("ACK", 1, in_dialog=True, body_type="application/sdp", body=_SDP, retrans=False)
_OK = '  <recv response="200"/>\n'
_BYE = _request("BYE", "{cseq}", in_dialog=True) + _OK
_INFO = (
    _request(
        "INFO",
        "{cseq}",
        in_dialog=True,
        body_type="application/dtmf-relay",
        body="Signal={key}\nDuration=160",
    )
    + _OK
)
# Fails the scenario unless the 200 OK's SDP matches the regular expression.
_CHECK = (
    '<action><ereg regexp="{regexp}" search_in="body" check_it="true" assign_to="sdp"/></action>'
)


def ok_to_last(headers: tuple[str, ...] = (), sdp: str = "") -> str:
    """SIPp: a 200 OK to the request just received, with these header lines and SDP."""
    head = ["SIP/2.0 200 OK", "[last_Via:]", "[last_From:]", "[last_To:]", "[last_Call-ID:]"]
    head += ["[last_CSeq:]", *headers]
    body = ["Content-Type: application/sdp", "Content-Length: [len]", "", sdp] if sdp else []
    text = "\n".join(head + (body or ["Content-Length: 0"]))
    return f"  <send><![CDATA[\n{text}\n  ]]></send>\n"


_EXPECT_BYE = '  <recv request="BYE" timeout="{timeout_ms}"/>\n' + ok_to_last()
_TAIL = "</scenario>\n"


def _dtmf_pcap(key: str) -> Path:
    name = {"#": "pound", "*": "star"}.get(key, key)
    return PCAPS / f"dtmf_2833_{name}.pcap"


G711A = "8 101\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15"


def scenario(
    name: str,
    steps: list[tuple[str, object]],
    answered: bool = True,
    media: str = G711A,
    answer_sdp: str = "",
    delayed_offer: bool = False,
) -> str:
    """SIPp XML: INVITE, then steps: ("keys", "12") as RFC 4733 events (SIPp's pcaps: a
    repeated key is not a new event), ("info", "11") as SIP INFO, ("pause", ms),
    ("audio", "file.pcap"),
    and at last ("bye", None) to hang up or ("expect_bye", ms) for lawline to hang up.
    answer_sdp: a regular expression lawline's SDP must match. delayed_offer: an INVITE
    without SDP; `media` then goes in the ACK."""
    fmt = {"caller": CALLER, "name": name, "media": media}
    check = _CHECK.format(regexp=answer_sdp) if answer_sdp else ""
    # SIPp refuses a scenario whose variables are assigned but never read.
    tail = '  <Reference variables="sdp"/>\n' + _TAIL if answer_sdp else _TAIL
    sdp = "" if delayed_offer else _SDP
    invite = _request("INVITE", 1, in_dialog=False, body_type="application/sdp", body=sdp)
    xml = (_START + invite).format(**fmt)
    if not answered:
        status = steps[0][1]
        return xml + _ANSWER.format(status=status, final="", check=check) + tail
    xml += _ANSWER.format(status=200, final=' rtd="true"', check=check)
    xml += (_ACK_SDP if delayed_offer else _ACK).format(**fmt)
    cseq = 1
    for kind, arg in steps:
        if kind == "info":
            # SIP INFO digits: each its own request, so repeated keys stay distinct.
            for key in str(arg):
                cseq += 1
                xml += _INFO.format(cseq=cseq, key=key, **fmt)
                xml += '  <pause milliseconds="300"/>\n'
        elif kind == "keys":
            for key in str(arg):
                xml += (
                    f'  <nop><action><exec play_pcap_audio="{_dtmf_pcap(key)}"/></action></nop>\n'
                )
                xml += '  <pause milliseconds="400"/>\n'
        elif kind == "pause":
            xml += f'  <pause milliseconds="{arg}"/>\n'
        elif kind == "audio":
            xml += f'  <nop><action><exec play_pcap_audio="{PCAPS / str(arg)}"/></action></nop>\n'
        elif kind == "bye":
            xml += _BYE.format(cseq=cseq + 1, **fmt)
        elif kind == "expect_bye":
            xml += _EXPECT_BYE.format(timeout_ms=arg)
        else:
            raise ValueError(kind)
    return xml + tail


def rtp_port(sip_port: int) -> int:
    """The first of a worker's 400 RTP ports: below the kernel's ephemeral range
    (32768+), and the free SIP ports come from above it, so the two never collide."""
    return 10000 + (sip_port % 50) * 400


@dataclass
class Worker:
    sip_port: int
    proc: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def telephony_worker(tmp: Path, redis_url: str, prompts_dir: Path, **env: str) -> Iterator[Worker]:
    """A real `lawline telephony-worker` process; stopped with SIGTERM afterwards."""
    sip_port = free_sip_port()
    log = tmp / "worker.log"
    full_env = {
        **os.environ,
        "LAWLINE_DATA_DIR": str(tmp / "data"),
        "LAWLINE_REDIS_URL": redis_url,
        "LAWLINE_TELEPHONY__PROMPTS_DIR": str(prompts_dir),
        **env,
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lawline", "telephony-worker",
             "--sip-port", str(sip_port), "--rtp-port", str(rtp_port(sip_port))],
            env=full_env, stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    worker = Worker(sip_port, proc, log)
    deadline = time.monotonic() + 30
    while "telephony worker listening" not in worker.output():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{worker.output()}")
        time.sleep(0.05)
    try:
        yield worker
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            # A worker stopping waits for its calls' last finals (up to the Whisper
            # decoder's final timeout, 60 s): what a caller said is never dropped.
            proc.wait(timeout=70)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, f"worker exited {proc.returncode}:\n{worker.output()}"


def run_sipp(
    tmp: Path, target: Worker | int, xml: str, number: str = "12348", transport: str = "u1"
) -> subprocess.CompletedProcess[str]:
    """Run one SIPp call against the worker; exit code 0 means the scenario held.
    transport: SIPp's -t, "u1" UDP or "t1" TCP."""
    port = target if isinstance(target, int) else target.sip_port
    path = tmp / "scenario.xml"
    path.write_text(xml)
    return subprocess.run(
        ["sipp", "-sf", str(path), "-s", number, f"127.0.0.1:{port}",
         "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_sip_port()), "-t", transport,
         "-m", "1", "-timeout", "60s", "-timeout_error", "-nostdin"],
        cwd=tmp, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
