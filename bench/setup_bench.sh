#!/usr/bin/env bash
# Debian packages only the benches need (not lawline, not its tests): the WebRTC load
# generator (bench/peers/webrtc_peers.py) runs under Debian's python3 with GStreamer's
# webrtcbin. Idempotent; quiet when nothing to do. Run as root (or with sudo).
set -euo pipefail

APT_PACKAGES=(
    gstreamer1.0-plugins-base   # opus, audiotestsrc, app (appsink)
    gstreamer1.0-plugins-good   # rtp, rtpmanager (rtpbin, jitter buffer)
    gstreamer1.0-plugins-bad    # webrtcbin, dtls, srtp
    gstreamer1.0-nice           # ICE for webrtcbin (libnice)
    gir1.2-gstreamer-1.0        # Gst, GstSdp from Python
    gir1.2-gst-plugins-bad-1.0  # GstWebRTC from Python
    python3-gi                  # PyGObject for Debian's python3
    python3-numpy               # the generator's tone detector (bench/peers/tone_ear.py)
)

bash "$(dirname "${BASH_SOURCE[0]}")/../scripts/apt_install.sh" setup_bench "${APT_PACKAGES[@]}"
