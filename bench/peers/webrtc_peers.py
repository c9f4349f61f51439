#!/usr/bin/python3
"""N WebRTC "lawyer" peers in one process, their media in C (GStreamer's webrtcbin).

A load generator for the bridge benches: each peer is what a lawyer's browser is to the
media server (one audio track, sendrecv, Opus, a complete offer: ICE gathering finished,
no trickle), at a fraction of a browser's cost. It says a tone in bursts and listens for
the far end's tone, so a bench can tell the audio is clean both ways and when it began.

It runs under Debian's /usr/bin/python3 (python3-gi, GStreamer 1.22 and python3-numpy
from Debian: bench/setup_bench.sh), not the project's venv, so a bench drives it as a
child process over stdin/stdout, one JSON object a line:

    proc = subprocess.Popen(["/usr/bin/python3", "bench/peers/webrtc_peers.py"],
                            stdin=PIPE, stdout=PIPE)      # in the peers' network namespace

Commands (stdin):

    {"cmd": "offer", "peer": "p1"}             make peer p1 and its complete offer
    {"cmd": "answer", "peer": "p1", "sdp": S}  the media server's answer: media starts
    {"cmd": "stats"}                           every peer's figures (below)
    {"cmd": "close", "peer": "p1"}             end one peer
    {"cmd": "quit"}                            end them all and exit (so does EOF)

Events (stdout; "t" is time.monotonic() here, the same clock as any process's on the
machine, so a bench can subtract its own times from it):

    {"event": "ready", "pid": P}                         once, at start
    {"event": "offer", "peer": "p1", "sdp": S, "t": T}   the offer, candidates included
    {"event": "connected", "peer": "p1", "t": T}         ICE + DTLS up
    {"event": "heard", "peer": "p1", "t": T}             first frame with the far tone
    {"event": "stats", "t": T, "cpu_s": C, "peers": {"p1": {...}}}
    {"event": "closed", "peer": "p1", "t": T}          out of the pipeline, sockets shut
    {"event": "error", "peer": "p1", "error": "..."}

Per peer in stats: offer_t, answer_t, connected_t, first_heard_t (or null); sent_onsets
(when each burst of our tone began: the peer switched to the tone, its first packet
leaves within 20 ms); heard_onsets (when a run of the far tone began); frames (decoded
20 ms frames); windows: one character per 100 ms since answer_t, "1" the far tone in
most of its frames, "0" audio without it, "." no audio; heard_share: the share of "1"
windows from first_heard_t on (the clean-audio figure when the far end's tone is
continuous); steps (when each step to the offer was taken) and signaling (webrtcbin's
state), to tell where an offer that never came stopped. cpu_s is this process's
user+system CPU seconds, so CPU per peer is its growth over an interval divided by the
peers.

How, cheaply: one pipeline for all peers. Our tone and silence are each encoded once
(live sources, Opus 20 ms at 16 kHz, or PCMU) into a tee; each peer (input-selector ->
payloader -> webrtcbin) takes them from its connection on, bursts starting then (500 ms tone, 500 ms
silence, by switching its selector), so no peer has an encoder of its own. The offer is
made from the transceiver's codec preferences (webrtcbin holds a sink pad's data until
its peer connects, which would stall the shared tees). libnice's UPnP probe (200 ms per
offer) and TCP candidates are off: host UDP candidates, gathered at once.

Hearing: decoded at 8 kHz (opusdec, mulawdec) into an appsink the main loop empties every
100 ms (no Python per packet). Each 20 ms frame is tested at the far tone's frequency
(bench/peers/tone_ear.py, a single-bin DFT): the tone holds at least half the frame's
energy, above a level floor; a run starts after 2 such frames and ends after 3 without.
A frame's time is its buffer's PTS on the pipeline clock (CLOCK_MONOTONIC, as
time.monotonic()): the jitter buffer's estimate of when its packet arrived.

Options: --send-hz (1200), --volume (0.3 of full scale; 0 says silence), --hear-hz (440),
--burst-ms (500: on, then off as long; 0 for a continuous tone), --jitter-ms (40:
webrtcbin's jitter buffer; a browser's adapts near there on a LAN), --codec (opus or
pcmu: what the media server answers), --opus-bitrate (32000), --opus-complexity (5),
--ice-ip (offer only the UDP host candidate on this address, as a browser on one network
would; default: all gathered).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import sys
import threading
import time
from typing import Any

import gi
import numpy as np
from tone_ear import RATE, Ear  # its folder is on sys.path: this runs as a script

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

# Looked up once here: PyGObject resolves an enum's values lazily, and two of
# webrtcbin's threads asking at once for the first time were seen to fail
# ("WebRTCPeerConnectionState has no attribute 'CONNECTED'").
PC_CONNECTED = GstWebRTC.WebRTCPeerConnectionState.CONNECTED
PC_FAILED = GstWebRTC.WebRTCPeerConnectionState.FAILED
ICE_GATHERING_COMPLETE = GstWebRTC.WebRTCICEGatheringState.COMPLETE

AMPLITUDE = 0.3  # of full scale, our tone when on
# What each codec takes: the shared encoder, the payloader, its RTP caps, the decoder.
CODECS = {
    "opus": {
        "raw": "samplesperbuffer=320 ! audio/x-raw,rate=16000,channels=1",
        "encode": "opusenc bitrate={bitrate} complexity={complexity} frame-size=20",
        "pay": ("rtpopuspay", 111),
        "caps": "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,"
        "clock-rate=48000,encoding-params=(string)2",
        "decode": "rtpopusdepay ! opusdec plc=true",  # decodes at 8 kHz itself
    },
    "pcmu": {
        "raw": "samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1",
        "encode": "mulawenc",
        "pay": ("rtppcmupay", 0),
        "caps": "application/x-rtp,media=audio,encoding-name=PCMU,payload=0,clock-rate=8000",
        "decode": "rtppcmudepay ! mulawdec",
    },
}
HEAR_EVERY_MS = 100  # decoded audio is taken from the peers this often
# Deferred work runs at the default priority, not the idle one: with many peers the main
# loop is rarely idle (bus messages of hundreds of elements), and an offer waited > 10 s.
SOON = GLib.PRIORITY_DEFAULT

_out_lock = threading.Lock()


def emit(event: dict[str, Any]) -> None:
    line = json.dumps(event, separators=(",", ":")) + "\n"
    with _out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


_gobject = ctypes.CDLL("libgobject-2.0.so.0")
_gobject.g_object_ref.argtypes = [ctypes.c_void_p]
_gobject.g_object_ref.restype = ctypes.c_void_p
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_pointer.restype = ctypes.c_void_p


def quick_host_gathering(webrtc: Gst.Element) -> None:
    """No UPnP probe (libnice waits 200 ms for it before gathering is complete) and no TCP
    candidates: host UDP candidates only, at once, as a browser on a LAN offers."""
    agent = webrtc.get_property("ice-agent")
    # PyGObject 3.42 drops a reference to webrtcbin's ice-agent it never took (GStreamer
    # 1.22): take one for it, or the agent is freed under webrtcbin.
    _gobject.g_object_ref(_capsule_pointer(agent.__gpointer__, None))
    agent.set_property("ice-tcp", False)
    agent.get_property("agent").set_property("upnp", False)


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class Source:
    """Our tone and silence, each encoded once for every peer (live -> Opus -> tee); a
    peer's input-selector picks one or the other, so each peer has bursts of its own
    without an encoder of its own."""

    def __init__(self, opts: argparse.Namespace) -> None:
        codec = CODECS[opts.codec]
        raw = f"is-live=true {codec['raw']}"
        enc = codec["encode"].format(bitrate=opts.opus_bitrate, complexity=opts.opus_complexity)
        # The pipeline every peer joins (its elements link to these tees directly).
        self.pipe = Gst.parse_launch(
            f"audiotestsrc wave=sine freq={opts.send_hz} volume={opts.volume} {raw} ! {enc} "
            f"! tee name=on allow-not-linked=true "
            f"audiotestsrc wave=silence {raw} ! {enc} ! tee name=off allow-not-linked=true"
        )
        self.on = self.pipe.get_by_name("on")
        self.off = self.pipe.get_by_name("off")


class Peer:
    """One webrtcbin in the shared pipeline: the shared Opus in, decoded audio -> Ear out."""

    def __init__(self, name: str, index: int, gen: Generator) -> None:
        self.name, self.gen, self.opts = name, gen, gen.opts
        self.prefix = f"p{index}-"  # its elements' names: bus messages find their peer
        self.offer_t: float | None = None
        self.answer_t: float | None = None
        self.connected_t: float | None = None
        self.ear = Ear(self.opts.hear_hz)
        self.steps: dict[str, float] = {}  # when each step to the offer was taken
        self.offered = False
        self.offer_lock = threading.Lock()
        self.closed = False
        self.appsink: Gst.Element | None = None
        self.elements: list[Gst.Element] = []
        self.sent_onsets: list[float] = []
        self.burst_timer = 0
        self.select = Gst.ElementFactory.make("input-selector", self.prefix + "select")
        self.select.set_property("sync-streams", False)  # the unpicked one is dropped at once
        self.codec = CODECS[self.opts.codec]
        payloader, payload_type = self.codec["pay"]
        self.pay = Gst.ElementFactory.make(payloader, self.prefix + "pay")
        self.pay.set_property("pt", payload_type)
        caps = Gst.ElementFactory.make("capsfilter", self.prefix + "caps")
        caps.set_property("caps", Gst.Caps.from_string(self.codec["caps"]))
        self.webrtc = Gst.ElementFactory.make("webrtcbin", self.prefix + "webrtc")
        self.webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        self.webrtc.set_property("latency", self.opts.jitter_ms)
        quick_host_gathering(self.webrtc)
        self.webrtc.connect("on-negotiation-needed", self._on_negotiation_needed)
        self.webrtc.connect("notify::ice-gathering-state", self._on_gathering)
        self.webrtc.connect("notify::connection-state", self._on_connection)
        self.webrtc.connect("pad-added", self._on_pad)
        self.elements = [self.select, self.pay, caps, self.webrtc]
        self.tee_pads: list[tuple[Gst.Element, Gst.Pad]] = []
        self.tone_pad: Gst.Pad | None = None
        self.quiet_pad: Gst.Pad | None = None

    # ----- offer / answer ---------------------------------------------------------------

    def start(self) -> None:
        self.offer_t = time.monotonic()
        pipe = self.gen.pipe
        for element in self.elements:
            pipe.add(element)
        for up, down in zip(self.elements, self.elements[1:], strict=False):
            up.link(down)
        # The offer is made from these caps, not from data: webrtcbin holds a sink pad's
        # data until its peer is connected, which would stall the shared tees.
        # Its SSRC too, so the offer names the one the payloader will send from.
        transceiver = self.webrtc.emit("get-transceiver", 0)
        ssrc = random.getrandbits(31) + 1
        self.pay.set_property("ssrc", ssrc)
        preferences = Gst.Caps.from_string(f"{self.codec['caps']},ssrc=(uint){ssrc}")
        transceiver.set_property("codec-preferences", preferences)
        for element in reversed(self.elements):
            element.sync_state_with_parent()
        GLib.idle_add(self._create_offer, priority=SOON)

    def _link_sources(self) -> None:
        """Connected: the peer takes the shared silence and tone from now on."""
        source = self.gen.source
        self.quiet_pad = self._from_tee(source.off)
        self.tone_pad = self._from_tee(source.on)
        GLib.timeout_add(5, self._start_bursts)

    def _start_bursts(self) -> bool:
        """Once both sources' caps have reached the selector (a switch before that sends
        a segment ahead of its stream-start and caps), every 5 ms until then."""
        if self.closed:
            return False
        pads = (self.quiet_pad, self.tone_pad)
        if not all(pad is not None and pad.has_current_caps() for pad in pads):
            return True
        if self.opts.burst_ms > 0:
            self._toggle()
            self.burst_timer = GLib.timeout_add(self.opts.burst_ms, self._toggle)
        else:
            self._set_tone(True)
        return False

    def _from_tee(self, tee: Gst.Element) -> Gst.Pad:
        pad = tee.request_pad_simple("src_%u")
        sink = self.select.request_pad_simple("sink_%u")
        linked = pad.link(sink)
        if linked != Gst.PadLinkReturn.OK:
            raise ValueError(f"cannot link the source to the peer: {linked.value_nick}")
        self.tee_pads.append((tee, pad))
        return sink

    def _on_negotiation_needed(self, webrtc: Gst.Element) -> None:
        self.steps.setdefault("negotiation_needed", time.monotonic())
        self._create_offer()

    def _create_offer(self) -> bool:
        # Asked for at start too: under load webrtcbin did not signal for about 1 peer
        # in 100 (perhaps its check ran before the codec preferences were set).
        with self.offer_lock:
            if "create_offer" in self.steps:
                return False
            self.steps["create_offer"] = time.monotonic()
        promise = Gst.Promise.new_with_change_func(self._on_offer_created, None)
        self.webrtc.emit("create-offer", None, promise)
        return False

    def _on_offer_created(self, promise: Gst.Promise, _data: Any) -> None:
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None else None
        if offer is None:
            emit({"event": "error", "peer": self.name, "error": "create-offer gave nothing"})
            return
        self.steps.setdefault("offer_created", time.monotonic())
        # Set, then (in its promise) offered if gathering is already over: whichever of
        # the two comes last sends the offer.
        done = Gst.Promise.new_with_change_func(lambda *_: self._maybe_offer(), None)
        self.webrtc.emit("set-local-description", offer, done)

    def _on_gathering(self, webrtc: Gst.Element, _pspec: Any) -> None:
        state = webrtc.get_property("ice-gathering-state")
        self.steps.setdefault(f"gathering_{state.value_nick}", time.monotonic())
        self._maybe_offer()

    def _maybe_offer(self) -> None:
        # Complete (no trickle): sent once gathering is over, candidates in the SDP.
        with self.offer_lock:  # called from webrtcbin's threads
            state = self.webrtc.get_property("ice-gathering-state")
            local = self.webrtc.get_property("local-description")
            complete = state == ICE_GATHERING_COMPLETE
            if self.offered or local is None or not complete:
                return
            self.offered = True
        sdp = local.sdp.as_text()
        if self.opts.ice_ip:  # as a browser on one network: its UDP host candidate there
            sdp = "".join(
                line for line in sdp.splitlines(keepends=True) if self._keep_candidate(line)
            )
        emit({"event": "offer", "peer": self.name, "sdp": sdp, "t": time.monotonic()})

    def _keep_candidate(self, line: str) -> bool:
        if not line.startswith("a=candidate:"):
            return True
        fields = line.split()  # a=candidate:F C UDP PRIO ADDR PORT typ host
        return len(fields) > 4 and fields[2] == "UDP" and fields[4] == self.opts.ice_ip

    def answer(self, sdp_text: str) -> None:
        ok, sdp = GstSdp.SDPMessage.new_from_text(sdp_text)
        if ok != GstSdp.SDPResult.OK:
            emit({"event": "error", "peer": self.name, "error": "answer is not SDP"})
            return
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        self.answer_t = time.monotonic()
        self.ear.t0 = self.answer_t
        self.webrtc.emit("set-remote-description", answer, None)

    # ----- our tone ---------------------------------------------------------------------

    def _set_tone(self, on: bool) -> None:
        self.select.set_property("active-pad", self.tone_pad if on else self.quiet_pad)
        if on:
            self.sent_onsets.append(time.monotonic())
            del self.sent_onsets[:-3600]  # an hour of bursts at most

    def _toggle(self) -> bool:
        if self.closed:
            return False
        self._set_tone(self.select.get_property("active-pad") != self.tone_pad)
        return True

    def _on_connection(self, webrtc: Gst.Element, _pspec: Any) -> None:
        state = webrtc.get_property("connection-state")
        if state == PC_CONNECTED and self.connected_t is None:
            self.connected_t = time.monotonic()
            emit({"event": "connected", "peer": self.name, "t": self.connected_t})
            GLib.idle_add(self._link_sources, priority=SOON)
        elif state == PC_FAILED:
            emit({"event": "error", "peer": self.name, "error": "connection failed"})

    # ----- the far end's audio ----------------------------------------------------------

    def _on_pad(self, webrtc: Gst.Element, pad: Gst.Pad) -> None:
        if pad.get_direction() != Gst.PadDirection.SRC or self.appsink is not None:
            return
        # Pulled by the main loop every 100 ms (Generator._hear): no Python per packet
        # in the streaming threads.
        sink = Gst.parse_bin_from_description(
            f"{self.codec['decode']} ! audio/x-raw,format=S16LE,rate={RATE},channels=1 "
            "! appsink name=ear emit-signals=false sync=false max-buffers=500 drop=true",
            True,
        )
        sink.set_name(self.prefix + "ear")
        self.appsink = sink.get_by_name("ear")
        self.gen.pipe.add(sink)
        self.elements.append(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))

    def hear(self, base_time: int) -> None:
        """Every decoded buffer waiting: to the Ear, at its arrival time (its PTS on the
        pipeline's clock, which is CLOCK_MONOTONIC as time.monotonic() is)."""
        if self.appsink is None:
            return
        while (sample := self.appsink.emit("try-pull-sample", 0)) is not None:
            buf = sample.get_buffer()
            ok, info = buf.map(Gst.MapFlags.READ)
            if not ok:
                continue
            try:
                samples = np.frombuffer(info.data, dtype=np.int16).astype(np.float64)
            finally:
                buf.unmap(info)
            pts = buf.pts
            now = (base_time + pts) / Gst.SECOND if pts != Gst.CLOCK_TIME_NONE else time.monotonic()
            if self.ear.feed(samples, now):
                emit({"event": "heard", "peer": self.name, "t": self.ear.first_heard})

    # ----- figures, end -----------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "offer_t": self.offer_t,
            "answer_t": self.answer_t,
            "connected_t": self.connected_t,
            "steps": dict(self.steps),
            "signaling": self.webrtc.get_property("signaling-state").value_nick,
            "sent_onsets": list(self.sent_onsets),
            **self.ear.summary(),
        }

    def close(self) -> None:
        """Off the tees once no buffer is passing, then out of the pipeline."""
        self.closed = True
        if self.burst_timer:
            GLib.source_remove(self.burst_timer)
            self.burst_timer = 0
        left = [len(self.tee_pads)]
        lock = threading.Lock()  # the probes run in the two tees' threads
        if not left[0]:
            GLib.idle_add(self._remove, priority=SOON)

        def unlink(pad: Gst.Pad, _info: Gst.PadProbeInfo, tee: Gst.Element) -> Gst.PadProbeReturn:
            peer = pad.get_peer()
            if peer is not None:
                pad.unlink(peer)
            tee.release_request_pad(pad)
            with lock:
                left[0] -= 1
                if left[0] == 0:
                    GLib.idle_add(self._remove, priority=SOON)
            return Gst.PadProbeReturn.REMOVE

        for tee, pad in self.tee_pads:
            pad.add_probe(Gst.PadProbeType.IDLE, unlink, tee)
        self.tee_pads = []

    def _remove(self) -> bool:
        for element in self.elements:
            element.set_state(Gst.State.NULL)
            self.gen.pipe.remove(element)
        self.elements = []
        emit({"event": "closed", "peer": self.name, "t": time.monotonic()})
        return False


class Generator:
    """The peers in one pipeline, and the commands on stdin that drive them (all on the
    GLib main loop)."""

    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.peers: dict[str, Peer] = {}
        self.count = 0
        self.loop = GLib.MainLoop()
        self.pending = b""
        self.source = Source(opts)
        self.pipe = self.source.pipe
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self._on_error)

    def run(self) -> None:
        # The DTLS certificate every peer shares is made now, not in the first offer.
        Gst.ElementFactory.make("dtlsdec").get_property("pem")
        self.pipe.set_state(Gst.State.PLAYING)
        GLib.io_add_watch(
            sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP, self._on_stdin
        )
        GLib.timeout_add(HEAR_EVERY_MS, self._hear)
        emit({"event": "ready", "pid": os.getpid()})
        self.loop.run()
        self.pipe.set_state(Gst.State.NULL)

    def _hear(self) -> bool:
        base_time = self.pipe.get_base_time()
        for peer in self.peers.values():
            peer.hear(base_time)
        return True

    def _on_error(self, _bus: Gst.Bus, message: Gst.Message) -> None:
        err, _debug = message.parse_error()
        path = message.src.get_path_string() if message.src is not None else ""
        name = next((p.name for p in self.peers.values() if f"/{p.prefix}" in path), "")
        emit({"event": "error", "peer": name, "error": f"{path}: {err.message}"})

    def _on_stdin(self, fd: int, _condition: Any) -> bool:
        data = os.read(fd, 1 << 20)
        if not data:
            self.loop.quit()
            return False
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            if line.strip():
                self._command(json.loads(line))
        return True

    def _command(self, msg: dict[str, Any]) -> None:
        cmd, name = msg.get("cmd"), str(msg.get("peer", ""))
        try:
            if cmd == "offer":
                if name in self.peers:
                    raise ValueError("peer exists")
                self.count += 1
                self.peers[name] = peer = Peer(name, self.count, self)
                peer.start()
            elif cmd == "answer":
                self.peers[name].answer(msg["sdp"])
            elif cmd == "stats":
                self._hear()  # figures up to now
                stats = {n: p.stats() for n, p in self.peers.items()}
                now = time.monotonic()
                emit({"event": "stats", "t": now, "cpu_s": cpu_seconds(), "peers": stats})
            elif cmd == "close":
                self.peers.pop(name).close()
            elif cmd == "quit":
                self.loop.quit()
            else:
                raise ValueError(f"unknown command {cmd!r}")
        except (KeyError, ValueError) as exc:
            emit({"event": "error", "peer": name, "error": f"{cmd}: {exc!r}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--send-hz", type=float, default=1200.0)
    parser.add_argument("--volume", type=float, default=AMPLITUDE)
    parser.add_argument("--hear-hz", type=float, default=440.0)
    parser.add_argument("--burst-ms", type=int, default=500)
    parser.add_argument("--jitter-ms", type=int, default=40)
    parser.add_argument("--codec", choices=sorted(CODECS), default="opus")
    parser.add_argument("--opus-bitrate", type=int, default=32000)
    parser.add_argument("--opus-complexity", type=int, default=5)
    parser.add_argument("--ice-ip", default="", help="offer only UDP candidates on this address")
    opts = parser.parse_args()
    Gst.init(None)
    Generator(opts).run()


if __name__ == "__main__":
    main()
